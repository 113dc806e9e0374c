"""Step 3 of a render: resolved blocks become ReportLab flowables.

Spacing comes from one scale (SPACE): the named steps a layout may use wherever it takes a length
for space (`spacer.height`, `columns.gap`, any block's `spaceAfter`), and the defaults after
paragraphs, headings, tables and columns. Paragraphs never leave one line alone at the top or the
bottom of a page (widows and orphans); a block with `keepWithNext` (headings and titles by
default) goes to the page where the first piece of the next block goes.
"""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (Flowable, KeepTogether, PageBreak, Paragraph,
                                Spacer, Table, TableStyle)

from craftkit.layout import fonts, rtl
from craftkit.layout.codes import barcode, image, qr
from craftkit.layout.errors import RenderError
from craftkit.layout.lint import SPACE
from craftkit.layout.paragraphs import chunks, line_count
from craftkit.layout.tables import MIN_SHARE, Columns, Look, TableStream

ALIGN = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT, "justify": TA_JUSTIFY}
# Title (level 0) and heading levels: (font size, space before, space after). The space before
# is dropped at the top of a page.
HEADINGS = {0: (20, 0, SPACE["md"]), 1: (16, SPACE["lg"], SPACE["sm"]),
            2: (13, SPACE["md"], SPACE["xs"]), 3: (11, SPACE["sm"], SPACE["xs"])}
# Space after a block when it does not set `spaceAfter`.
SPACE_AFTER = {"text": SPACE["xs"], "table": SPACE["md"], "columns": SPACE["sm"],
               "barcode": SPACE["sm"]}


def space(value: float | str | None, default: float = 0) -> float:
    """Points for a length of space: a number, or a step of the scale ("md")."""
    if value is None:
        return default
    return SPACE[value] if isinstance(value, str) else value


class Styles:
    """What flowables are made with: the font family, paragraph styles, the images."""

    def __init__(self, family: fonts.Family, assets: dict[str, bytes], direction: str = "auto",
                 uploaded: dict[str, fonts.Family] | None = None,
                 box: tuple[float, float] = (1e9, 1e9)) -> None:
        self.family = family
        self.assets = assets
        self.box = box  # the page's content box: (width, height)
        self.direction = direction  # the layout's: auto, ltr or rtl
        self.uploaded = uploaded or {}  # the layout's own font families, registered
        self._cache: dict = {}

    def family_of(self, block: dict) -> fonts.Family:
        """The family a block names with `font`, else the layout's."""
        return fonts.family(block["font"], self.uploaded) if "font" in block else self.family

    def paragraph(self, size: float = 10, align: str = "left", bold: bool = False,
                  italic: bool = False, color: str = "#000000", shaping: bool = False,
                  family: fonts.Family | None = None,
                  space_before: float = 0, space_after: float = 0) -> ParagraphStyle:
        key = (size, align, bold, italic, color, shaping, family, space_before, space_after)
        if key not in self._cache:
            name = (family or self.family).style(bold, italic)
            self._cache[key] = ParagraphStyle(
                f"p{len(self._cache)}", fontName=name, fontSize=size, leading=size * 1.25,
                alignment=ALIGN[align], textColor=colors.HexColor(color), shaping=int(shaping),
                spaceBefore=space_before, spaceAfter=space_after, allowWidows=0, allowOrphans=0)
        return self._cache[key]

    def text(self, block: dict, markup: str, size: float, align: str | None = None,
             bold: bool = False, italic: bool = False, color: str = "#000000",
             space_before: float = 0, space_after: float = 0) -> Paragraph:
        """A Paragraph of `markup` in the block's family, with every run its font cannot draw
        in a fallback font; right-to-left paragraphs shaped, ordered and right-aligned unless
        the block says otherwise."""
        family = self.family_of(block)
        direction = block.get("direction", self.direction)
        base = family.style(bold, italic)
        right_to_left = direction == "rtl" or (direction == "auto" and fonts.rtl(markup))
        made = markup if fonts.covered(markup, base) else fonts.fallback(markup, base, direction)
        style = self.paragraph(size, align or ("right" if right_to_left else "left"), bold,
                               italic, color, fonts.shaping(markup), family, space_before,
                               space_after)
        return rtl.paragraph(made, style, _Paragraph)


def flowables(blocks: list[dict], styles: Styles) -> list[Flowable]:
    """The flowables of `blocks`, each block that keeps with the next joined to it."""
    backwards: list[Flowable] = []
    for block in reversed(blocks):
        items = _flowable(block, styles)
        if items and block["type"] != "pagebreak":
            # Through __dict__: ReportLab's Drawing (codes) refuses attributes it does not know.
            items[-1].__dict__["spaceAfter"] = _space_after(block)
        keep = block.get("keepWithNext", block["type"] in ("title", "heading"))
        if keep and items and backwards and not isinstance(backwards[-1], PageBreak):
            firsts, following = [items[-1]], backwards.pop()
            while isinstance(following, Spacer) and backwards:  # a spacer keeps what follows
                firsts.append(following)
                following = backwards.pop()
            if isinstance(following, KeepWithNext):  # one flat chain, however long
                firsts, following = [*firsts, *following.firsts], following.next
            items[-1] = KeepWithNext(firsts, following)
        backwards.extend(reversed(items))
    return backwards[::-1]


def _space_after(block: dict) -> float:
    """The space after a block: its `spaceAfter`, else the default of its kind."""
    if block["type"] in ("title", "heading"):
        default = HEADINGS[0 if block["type"] == "title" else block.get("level", 1)][2]
    else:
        default = SPACE_AFTER.get(block["type"], 0)
    return space(block.get("spaceAfter"), default)


def _flowable(block: dict, styles: Styles) -> list[Flowable]:
    kind = block["type"]
    if kind in ("title", "heading"):
        level = 0 if kind == "title" else block.get("level", 1)
        size, before, _ = HEADINGS[level]
        paragraph = styles.text(block, block["markup"], size,
                                block.get("align", "center" if level == 0 else None), bold=True,
                                space_before=before, space_after=_space_after(block))
        return [paragraph]
    if kind == "text":
        return [styles.text(block, block["markup"], block.get("size", 10), block.get("align"),
                            block.get("bold", False), block.get("italic", False),
                            block.get("color", "#000000"), space_after=_space_after(block))]
    if kind == "table":
        family = styles.family_of(block)
        look = Look(font=family.regular, bold_font=family.bold, zebra=block.get("zebra", False))
        columns = Columns(widths=[c.get("width") for c in block["columns"]],
                          aligns=[c.get("align", "left").upper() for c in block["columns"]])
        return [TableStream(block["headers"], block["cells"], columns, look, block["footer"])]
    if kind == "spacer":
        # Never taller than a page (spacer.height lints up to 800 pt, more than A4 holds).
        return [Spacer(0, min(space(block.get("height"), SPACE["md"]), styles.box[1]))]
    if kind == "pagebreak":
        return [PageBreak()]
    if kind == "rule":
        return [_Rule(block.get("thickness", 0.5))]
    if kind == "keep":
        return [KeepTogether(flowables(block["blocks"], styles))]
    if kind == "columns":
        cells = [flowables(c["blocks"], styles) for c in block["columns"]]
        gap = space(block.get("gap"), SPACE["md"])
        table = _ColumnsTable([cells], colWidths=[c.get("width") for c in block["columns"]],
                      style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                        # ReportLab sets each cell's font (Helvetica unless told),
                                        # even around flowables: it would be listed, not embedded.
                                        ("FONT", (0, 0), (-1, -1), styles.family.regular),
                                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                        ("RIGHTPADDING", (0, 0), (-2, -1), gap),
                                        ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                                        ("TOPPADDING", (0, 0), (-1, -1), 0),
                                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
        return [table]
    if kind == "qr":
        return [qr(block["value"], block.get("size", 96), block.get("align", "left"))]
    if kind == "barcode":
        return [barcode(block, styles.family.regular)]
    if kind == "image":
        return [image(block, styles.assets)]
    raise RenderError(f"unknown block type {kind!r}")


class KeepWithNext(Flowable):
    """`firsts` (blocks that keep with the next, and the spacers between them) never end a page:
    they go where the first piece of `next` goes. (ReportLab's own keepWithNext wraps both in a
    KeepTogether, which moves a heading to the next page whenever the block after it, say a long
    table, is taller than the space left.)

    A chain of such blocks (a heading for every element of the data) is one flat list, not
    nested: measuring it stops at the first block past the space left, and a chain taller than a
    page falls apart into its blocks, the last still kept with `next`, so a long chain lays out
    in linear time."""

    def __init__(self, firsts: list[Flowable], next: Flowable) -> None:
        super().__init__()
        self.firsts, self.next = firsts, next
        self.spaceBefore = firsts[0].getSpaceBefore()
        self.spaceAfter = next.getSpaceAfter()

    def _head(self, available_width, available_height) -> float:
        """The height the `firsts` take with the space between them and up to `next`; past the
        available height it stops measuring (the chain does not fit anyway)."""
        self.sizes, head = [], 0.0
        for index, first in enumerate(self.firsts):
            self.sizes.append(first.wrap(available_width, available_height))
            after = self.firsts[index + 1] if index + 1 < len(self.firsts) else self.next
            head += self.sizes[-1][1] + first.getSpaceAfter() + after.getSpaceBefore()
            if head > available_height:
                break
        return head

    def wrap(self, available_width, available_height):
        head = self._head(available_width, available_height)
        self.width, self.height = available_width, head
        if head <= available_height:
            self.next_size = self.next.wrap(available_width, max(available_height - head, 0))
            self.height += self.next_size[1]
        return self.width, self.height

    def split(self, available_width, available_height):
        head = self._head(available_width, available_height)
        parts = self.next.split(available_width, available_height - head) \
            if head < available_height else []
        if parts:
            return [*self.firsts, *parts]
        if not getattr(getattr(self, "_frame", None), "_atTop", False):
            return []  # all of it to the next page
        if len(self.firsts) > 1:  # taller than a page: only the last still keeps with the next
            return [*self.firsts[:-1], KeepWithNext(self.firsts[-1:], self.next)]
        return [*self.firsts, self.next]

    def draw(self):
        y = self.height
        for index, (first, (width, height)) in enumerate(zip(self.firsts, self.sizes)):
            y -= height
            first.drawOn(self.canv, 0, y, _sW=self.width - width)
            after = self.firsts[index + 1] if index + 1 < len(self.firsts) else self.next
            y -= first.getSpaceAfter() + after.getSpaceBefore()
        self.next.drawOn(self.canv, 0, 0, _sW=self.width - self.next_size[0])


class _Paragraph(Paragraph):
    """A paragraph that leaves no widow or orphan line, except on a page too short for two of
    its lines (a label with wide margins): there it takes one line a page rather than none.

    A long one is cut once, at its first split, into parts of at most CHUNK lines (ReportLab
    lays out the whole rest again at every split: quadratic in the lines, see paragraphs.py;
    and its rest started with a blank line after a line break).
    The parts continue one another: no space between them, and no widow or orphan to avoid
    where one part meets the next."""

    continued = False  # not the paragraph's first lines
    continues = False  # not its last lines

    def split(self, available_width, available_height):
        self.allowOrphans, self.allowWidows = int(self.continued), int(self.continues)
        parts = super().split(available_width, available_height)
        if not parts and getattr(getattr(self, "_frame", None), "_atTop", False):
            self.allowWidows = self.allowOrphans = 1  # this part only: the rest is a new one
            parts = super().split(available_width, available_height)
        if len(parts) != 2:
            return parts
        first = parts[0]
        first.continued, first.continues, first.spaceBefore = self.continued, True, self.getSpaceBefore()
        parts = [first, *chunks(self, line_count(first))]
        for part in parts[1:]:
            part.continued, part.continues, part.spaceBefore, part.spaceAfter = True, True, 0, 0
        parts[-1].continues, parts[-1].spaceAfter = self.continues, self.getSpaceAfter()
        return parts


class _ColumnsTable(Table):
    """The table of a `columns` block: widths that add up past the width it is given shrink in
    proportion, as a table's columns do (tables.Columns.resolve), instead of the table being
    centred on the content box and overflowing both margins."""

    def wrap(self, available_width, available_height):
        wanted = getattr(self, "_wanted", None)
        if wanted is None:
            wanted = self._wanted = list(self._argW)
        fixed = sum(w for w in wanted if w is not None)
        flexible = sum(1 for w in wanted if w is None)
        crowded = fixed > available_width - flexible * MIN_SHARE
        self._argW = self._colWidths = (
            Columns(wanted, ["LEFT"] * len(wanted)).resolve(available_width) if crowded
            else list(wanted))
        return super().wrap(available_width, available_height)


class _Rule(Flowable):
    def __init__(self, thickness: float) -> None:
        super().__init__()
        self.thickness = thickness

    def wrap(self, available_width, available_height):
        self.width = available_width
        return available_width, self.thickness + 8

    def draw(self):
        self.canv.setLineWidth(self.thickness)
        self.canv.line(0, 4, self.width, 4)

