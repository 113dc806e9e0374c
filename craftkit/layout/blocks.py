"""Step 3 of a render: resolved blocks become ReportLab flowables."""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (CondPageBreak, Flowable, KeepTogether, PageBreak, Paragraph,
                                Spacer, Table, TableStyle)

from craftkit.layout import fonts
from craftkit.layout.codes import barcode, image, qr
from craftkit.layout.errors import RenderError
from craftkit.layout.tables import Columns, Look, TableStream

ALIGN = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT, "justify": TA_JUSTIFY}
HEADING_SIZES = {0: 20, 1: 16, 2: 13, 3: 11}


class Styles:
    """What flowables are made with: the font family, paragraph styles, the images."""

    def __init__(self, family: fonts.Family, assets: dict[str, bytes], direction: str = "auto",
                 uploaded: dict[str, fonts.Family] | None = None) -> None:
        self.family = family
        self.assets = assets
        self.direction = direction  # the layout's: auto, ltr or rtl
        self.uploaded = uploaded or {}  # the layout's own font families, registered
        self._cache: dict = {}

    def family_of(self, block: dict) -> fonts.Family:
        """The family a block names with `font`, else the layout's."""
        return fonts.family(block["font"], self.uploaded) if "font" in block else self.family

    def paragraph(self, size: float = 10, align: str = "left", bold: bool = False,
                  italic: bool = False, color: str = "#000000", shaping: bool = False,
                  family: fonts.Family | None = None) -> ParagraphStyle:
        key = (size, align, bold, italic, color, shaping, family)
        if key not in self._cache:
            name = (family or self.family).style(bold, italic)
            self._cache[key] = ParagraphStyle(
                f"p{len(self._cache)}", fontName=name, fontSize=size, leading=size * 1.25,
                alignment=ALIGN[align], textColor=colors.HexColor(color), spaceAfter=size * 0.4,
                shaping=int(shaping))
        return self._cache[key]

    def text(self, block: dict, markup: str, size: float, align: str | None = None,
             bold: bool = False, italic: bool = False, color: str = "#000000") -> Paragraph:
        """A Paragraph of `markup` in the block's family, with every run its font cannot draw
        in a fallback font; right-to-left paragraphs shaped, ordered and right-aligned unless
        the block says otherwise."""
        family = self.family_of(block)
        direction = block.get("direction", self.direction)
        base = family.style(bold, italic)
        right_to_left = direction == "rtl" or (direction == "auto" and fonts.rtl(markup))
        if not fonts.covered(markup, base):
            markup = fonts.fallback_markup(markup, base, direction)
        style = self.paragraph(size, align or ("right" if right_to_left else "left"), bold,
                               italic, color, fonts.shaping(markup), family)
        return Paragraph(markup, style)


def flowables(blocks: list[dict], styles: Styles) -> list[Flowable]:
    out: list[Flowable] = []
    for block in blocks:
        out.extend(_flowable(block, styles))
    return out


def _flowable(block: dict, styles: Styles) -> list[Flowable]:
    kind = block["type"]
    if kind in ("title", "heading"):
        level = 0 if kind == "title" else block.get("level", 1)
        size = HEADING_SIZES[level]
        paragraph = styles.text(block, block["markup"], size,
                                block.get("align", "center" if level == 0 else None), bold=True)
        return [CondPageBreak(size * 4), paragraph]
    if kind == "text":
        return [styles.text(block, block["markup"], block.get("size", 10), block.get("align"),
                            block.get("bold", False), block.get("italic", False),
                            block.get("color", "#000000"))]
    if kind == "table":
        family = styles.family_of(block)
        look = Look(font=family.regular, bold_font=family.bold, zebra=block.get("zebra", False))
        columns = Columns(widths=[c.get("width") for c in block["columns"]],
                          aligns=[c.get("align", "left").upper() for c in block["columns"]])
        return [TableStream(block["headers"], block["cells"], columns, look, block["footer"]),
                Spacer(0, 8)]
    if kind == "spacer":
        return [Spacer(0, block.get("height", 12))]
    if kind == "pagebreak":
        return [PageBreak()]
    if kind == "rule":
        return [_Rule(block.get("thickness", 0.5))]
    if kind == "keep":
        return [KeepTogether(flowables(block["blocks"], styles))]
    if kind == "columns":
        cells = [flowables(c["blocks"], styles) for c in block["columns"]]
        gap = block.get("gap", 12)
        table = Table([cells], colWidths=[c.get("width") for c in block["columns"]],
                      style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                        # ReportLab sets each cell's font (Helvetica unless told),
                                        # even around flowables: it would be listed, not embedded.
                                        ("FONT", (0, 0), (-1, -1), styles.family.regular),
                                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                        ("RIGHTPADDING", (0, 0), (-2, -1), gap),
                                        ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                                        ("TOPPADDING", (0, 0), (-1, -1), 0),
                                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
        return [table, Spacer(0, 6)]
    if kind == "qr":
        return [qr(block["value"], block.get("size", 96), block.get("align", "left"))]
    if kind == "barcode":
        return [barcode(block)]
    if kind == "image":
        return [image(block, styles.assets)]
    raise RenderError(f"unknown block type {kind!r}")


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

