"""Long tables in time linear in their rows, with cells that wrap.

ReportLab's Table splits a long table page by page, and each split re-measures every remaining row:
quadratic in the rows (measured: 64 ms at 500 rows, 1,880 ms at 5,000). `TableStream` measures
every row once, when the width is known (row heights depend on the column widths), keeps the
cumulative heights, and splitting bisects them for the rows that fit the space left; only those
rows become a ReportLab Table, with the header row on top. Each row is measured once and drawn
once, and every page starts with the header, as ReportLab's own repeatRows would draw it.

Cells wrap at word boundaries, break words longer than the column, and keep the data's line
breaks. Plain text that one font draws (`fonts.covered`) is wrapped here with stringWidth (C
speed, no Paragraph: the fast path of a 20,000-row table); cells with markup (bold, links) or
text that needs fallback fonts or right-to-left shaping become Paragraphs.

Rows that do not fit: a row taller than the space left moves to the next page; a row taller
than a whole page is split by lines. A page never holds the header alone, and the totals row
takes at least two rows with it.

The padding model (one grid): cells are padded between columns (GUTTER) but not at the table's
outer edges, so the text of the first and last columns lines up with the page's content box,
and a right-aligned column ends where right-aligned text ends.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from craftkit.layout import fonts, rtl
from craftkit.layout.paragraphs import line_count, line_range
from craftkit.layout.text import Markup

PADDING = 3  # top and bottom, points
GUTTER = 12  # between two columns' text, points (half on each side); none at the outer edges
MIN_SHARE = 2 * GUTTER  # the least a column without a width gets when fixed widths crowd it
BLEED = 4  # backgrounds and rules reach this far past the text edges, into the margins
FONT_SIZE = 10
LEADING = 12
PARAGRAPH_ALIGN = {"LEFT": TA_LEFT, "CENTER": TA_CENTER, "RIGHT": TA_RIGHT}


@dataclass
class Columns:
    widths: list[float | None]  # None: an equal share of the width the others leave
    aligns: list[str]  # "LEFT", "CENTER", "RIGHT"

    def resolve(self, available: float) -> list[float]:
        """The columns' widths in `available` points. Widths that add up past it shrink in
        proportion, leaving each column without a width at least MIN_SHARE (or an equal share
        when even that does not fit): no column is drawn past the content box."""
        fixed = sum(w for w in self.widths if w is not None)
        flexible = sum(1 for w in self.widths if w is None)
        if flexible * MIN_SHARE >= available:
            if flexible or fixed > available:
                return [available / len(self.widths)] * len(self.widths)
        elif fixed > available - flexible * MIN_SHARE:
            scale = (available - flexible * MIN_SHARE) / fixed
            return [MIN_SHARE if w is None else w * scale for w in self.widths]
        share = max(available - fixed, 0) / flexible if flexible else 0
        return [share if w is None else w for w in self.widths]

    def paddings(self, widths: list[float]) -> list[tuple[float, float]]:
        """(left, right) padding of each column: half the gutter inside, none at the edges; a
        column narrower than twice its padding keeps half its width for text (its text would
        otherwise start past its right edge, over the next column's)."""
        last = len(widths) - 1
        out = []
        for i, width in enumerate(widths):
            left, right = (0 if i == 0 else GUTTER / 2), (0 if i == last else GUTTER / 2)
            if left + right > width / 2:
                scale = width / 2 / (left + right)
                left, right = left * scale, right * scale
            out.append((left, right))
        return out


@dataclass
class Look:
    font: str = fonts.FAMILIES["sans"].regular  # the layout's family; the default's by default
    bold_font: str = fonts.FAMILIES["sans"].bold
    zebra: bool = False
    header_background: colors.Color = field(default_factory=lambda: colors.HexColor("#EEEEEE"))
    zebra_background: colors.Color = field(default_factory=lambda: colors.HexColor("#F6F6F6"))


# ------------------------------------------------------------------------------ wrapping text

def wrap_plain(text: str, font: str, size: float, width: float, slack: float = 0) -> list[str]:
    """The lines of `text` in `width` points: greedy at spaces, at the text's own line breaks,
    and inside a word longer than the width (no hyphen: it is data, often a code or a URL). A
    word alone on its line may reach `slack` points into the gutter before it breaks ("Qty" in a
    narrow column stays whole, as it did before cells wrapped)."""
    lines: list[str] = []
    for part in text.split("\n"):
        if stringWidth(part, font, size) <= width:
            lines.append(part)
            continue
        space = stringWidth(" ", font, size)
        line, used = "", 0.0
        for word in part.split(" "):
            wide = stringWidth(word, font, size)
            if line and used + space + wide <= width:
                line, used = f"{line} {word}", used + space + wide
                continue
            if line:
                lines.append(line)
            if wide > width + slack:
                *pieces, word = _break_word(word, font, size, width)
                lines.extend(pieces)
                wide = stringWidth(word, font, size)
            line, used = word, wide
        lines.append(line)
    return lines


def _break_word(word: str, font: str, size: float, width: float) -> list[str]:
    """`word` in pieces no wider than `width` (at least one character each)."""
    pieces, piece, used = [], "", 0.0
    widths: dict[str, float] = {}  # a long word repeats its characters: measure each once
    for char in word:
        wide = widths.get(char)
        if wide is None:
            wide = widths[char] = stringWidth(char, font, size)
        if piece and used + wide > width:
            pieces.append(piece)
            piece, used = "", 0.0
        piece, used = piece + char, used + wide
    pieces.append(piece)
    return pieces


class _Cells:
    """Lays out cells for one table: plain strings wrapped here, the rest as Paragraphs."""

    def __init__(self, look: Look, columns: Columns, widths: list[float]) -> None:
        self.look, self.columns = look, columns
        paddings = columns.paddings(widths)
        self.inner = [max(w - left - right, 1.0) for w, (left, right) in zip(widths, paddings)]
        # How far a word may grow into the gutter on the side its alignment pushes it to.
        self.slack = [{"LEFT": right, "RIGHT": left}.get(align, 2 * min(left, right))
                      for (left, right), align in zip(paddings, columns.aligns)]
        self._styles: dict = {}

    def row(self, cells: list[str], bold: bool = False) -> tuple[list, int]:
        """(the row's cells ready for a Table, its height in lines)."""
        font = self.look.bold_font if bold else self.look.font
        laid, lines = [], 1
        for index, cell in enumerate(cells):
            if type(cell) is str and fonts.covered(cell, font):
                wrapped = wrap_plain(cell, font, FONT_SIZE, self.inner[index], self.slack[index])
                laid.append("\n".join(wrapped))
                lines = max(lines, len(wrapped))
            else:
                paragraph = self.paragraph(cell, font, index)
                laid.append(paragraph)
                lines = max(lines, _lines(paragraph))
        return laid, lines

    def paragraph(self, cell: str, font: str, index: int) -> Paragraph:
        markup = cell if isinstance(cell, Markup) else escape(cell).replace("\n", "<br/>")
        align = self.columns.aligns[index]
        made = fonts.fallback(markup, font)
        shaping = fonts.shaping(markup)  # Arabic joins, right-to-left words reversed by the shaper
        key = (font, align, shaping)
        if key not in self._styles:
            self._styles[key] = ParagraphStyle(
                f"cell{len(self._styles)}", fontName=font, fontSize=FONT_SIZE, leading=LEADING,
                alignment=PARAGRAPH_ALIGN[align], allowWidows=1, allowOrphans=1,
                shaping=int(shaping))
        paragraph = rtl.paragraph(made, self._styles[key])
        paragraph.wrap(self.inner[index], 1e9)
        paragraph.cell_width = self.inner[index]
        return paragraph


def _lines(paragraph: Paragraph) -> int:
    return max(1, round(paragraph.height / LEADING))


class _Rest:
    """The lines from `start` on of a cell cut across pages (its text's lines, or a Paragraph's),
    made into a cell only when drawn: cutting a long cell page after page takes time linear in
    its lines (re-splitting the whole rest on every page was quadratic: a cell of 8,000 lines
    with markup took 10 s)."""

    def __init__(self, source: list[str] | Paragraph, start: int = 0) -> None:
        self.source, self.start = source, start

    @classmethod
    def of(cls, cell) -> _Rest:
        return cell if isinstance(cell, _Rest) else cls(cell.split("\n") if isinstance(cell, str)
                                                        else cell)

    @property
    def total(self) -> int:
        return len(self.source) if isinstance(self.source, list) else line_count(self.source)

    def cell(self, stop: int | None = None):
        """Lines start to `stop` (the end: None), ready for a Table."""
        if isinstance(self.source, list):
            return "\n".join(self.source[self.start:stop])
        paragraph = line_range(self.source, self.start, self.total if stop is None else stop)
        paragraph.wrap(self.source.cell_width, 1e9)
        paragraph.cell_width = self.source.cell_width
        return paragraph


def split_cells(laid: list, lines: int) -> tuple[list, list, int]:
    """A row cut after `lines` lines: (the first part's cells, the rest's cells, the rest's
    height in lines)."""
    first, rest, left = [], [], 1
    for cell in laid:
        view = _Rest.of(cell)
        stop = view.start + lines
        if stop >= view.total:
            first.append(view.cell())
            rest.append("")
            continue
        first.append(view.cell(stop))
        rest.append(_Rest(view.source, stop))
        left = max(left, view.total - stop)
    return first, rest, left


def height_of(lines: int) -> float:
    return lines * LEADING + 2 * PADDING


# ---------------------------------------------------------------------------------- the stream

@dataclass
class _Measure:
    """A table laid out at one width, shared by every part the table splits into."""

    width: float
    widths: list[float]
    header: list
    header_height: float
    footer: list | None
    footer_height: float
    cells: list[list]
    heights: list[float]
    cumulative: list[float]


class TableStream(Flowable):
    def __init__(self, header: list[str], rows: list[list[str]], columns: Columns,
                 look: Look | None = None, footer: list[str] | None = None) -> None:
        super().__init__()
        self.header, self.rows, self.columns = header, rows, columns
        self.look = look or Look()
        self.footer = footer  # a totals row, drawn after the last row
        self.measure: _Measure | None = None
        self.start = 0
        self.carry: tuple[list, float] | None = None  # the rest of a row split across pages

    SHARED = ("header", "rows", "columns", "look", "footer", "measure")

    def _rest(self, start: int, carry: tuple[list, float] | None = None) -> TableStream:
        """The rows from `start` on, sharing this stream's lists (no copying: linear time).
        A fresh Flowable, so none of ReportLab's per-flowable marks (_postponed…) carry over."""
        rest = TableStream.__new__(TableStream)
        Flowable.__init__(rest)
        for name in self.SHARED:
            setattr(rest, name, getattr(self, name))
        rest.start, rest.carry = start, carry
        if hasattr(self, "spaceAfter"):
            rest.spaceAfter = self.spaceAfter
        return rest

    def _measured(self, available_width: float) -> _Measure:
        """Every row laid out at this width, once (again only if the width changes)."""
        if self.measure is None or self.measure.width != available_width:
            widths = self.columns.resolve(available_width)
            cells = _Cells(self.look, self.columns, widths)
            header, header_lines = cells.row(self.header, bold=True)
            footer, footer_lines = cells.row(self.footer, bold=True) if self.footer else (None, 0)
            laid, heights = [], []
            for row in self.rows:
                row_cells, lines = cells.row(row)
                laid.append(row_cells)
                heights.append(height_of(lines))
            self.measure = _Measure(available_width, widths, header, height_of(header_lines),
                                    footer, height_of(footer_lines) if footer else 0.0, laid,
                                    heights, [0.0, *accumulate(heights)])
        return self.measure

    def _height(self, start: int, stop: int) -> float:
        m = self.measure
        tail = m.footer_height if stop == len(self.rows) else 0.0
        carried = self.carry[1] if self.carry and start == self.start else 0.0
        return m.header_height + carried + m.cumulative[stop] - m.cumulative[start] + tail

    def wrap(self, available_width, available_height):
        m = self._measured(available_width)
        self.width = sum(m.widths)
        self.height = self._height(self.start, len(self.rows))
        return self.width, self.height

    def split(self, available_width, available_height):
        m = self._measured(available_width)
        room = available_height - m.header_height
        if self.carry:
            if self.carry[1] > room:
                return self._split_row(self.carry[0], self.carry[1], room, self.start - 1)
            room -= self.carry[1]
        fit = bisect_right(m.cumulative, m.cumulative[self.start] + room) - 1
        stop = self._keep_with_totals(fit, available_height)
        if stop <= self.start and self._at_top():
            stop = fit  # a fresh page: rather fewer rows with the totals than none at all
        if self.carry:
            return [self._page(self.start, max(stop, self.start)), self._rest(max(stop, self.start))]
        if stop > self.start:
            return [self._page(self.start, stop), self._rest(stop)]
        if self.start < len(self.rows) and (self._at_top() or self._taller_than_a_page(
                m.heights[self.start])):
            return self._split_row(m.cells[self.start], m.heights[self.start], room, self.start)
        return []  # not even one row fits here: the frame moves on to a new page

    def _keep_with_totals(self, stop: int, available_height: float) -> int:
        """Where a page that could hold rows up to `stop` ends when the totals row must come
        after the last row and take at least two rows with it."""
        count = len(self.rows)
        if not self.footer:
            return stop
        if stop == count and self._height(self.start, stop) > available_height:
            stop -= 1  # the totals row does not fit after the last row
        return count - 2 if count - stop == 1 else stop

    def _at_top(self) -> bool:
        return bool(getattr(getattr(self, "_frame", None), "_atTop", False))

    def _taller_than_a_page(self, height: float) -> bool:
        page = getattr(getattr(self, "_frame", None), "_aH", 0)
        return self.measure.header_height + height > page

    def _split_row(self, cells: list, height: float, room: float, index: int) -> list:
        """Row `index`, too tall for any page: its first lines here, the rest (and the rows
        after it) in the next part."""
        lines = int((room - 2 * PADDING) // LEADING)
        total = round((height - 2 * PADDING) / LEADING)
        if lines < 1 or lines >= total:
            return []
        first, rest, left = split_cells(cells, lines)
        page = self._table([(first, height_of(lines))], index, last=False)
        return [page, self._rest(index + 1, (rest, height_of(left)))]

    def draw(self):
        table = self._page(self.start, len(self.rows))
        table.wrapOn(self.canv, self.width, self.height)
        table.drawOn(self.canv, 0, 0)

    def _page(self, start: int, stop: int) -> Table:
        """The ReportLab Table for the carried part and rows[start:stop], with the header (and
        the footer after the last row)."""
        m = self.measure
        carried = [self.carry] if self.carry and start == self.start else []
        rows = [*carried, *zip(m.cells[start:stop], m.heights[start:stop])]
        return self._table(rows, start - len(carried), stop == len(self.rows))

    def _table(self, rows: list[tuple[list, float]], first: int, last: bool) -> Table:
        """The header, `rows` (the first of which is row number `first` of the table) and, when
        `last`, the footer, as one ReportLab Table."""
        m, look = self.measure, self.look
        data = [m.header, *([c.cell() if isinstance(c, _Rest) else c for c in cells]
                            for cells, _ in rows)]
        heights = [m.header_height, *(height for _, height in rows)]
        body_end = len(data) - 1
        if self.footer and last:
            data.append(m.footer)
            heights.append(m.footer_height)
        style = [
            ("FONT", (0, 0), (-1, 0), look.bold_font, FONT_SIZE, LEADING),
            ("FONT", (0, 1), (-1, -1), look.font, FONT_SIZE, LEADING),
            ("TOPPADDING", (0, 0), (-1, -1), PADDING),
            ("BOTTOMPADDING", (0, 0), (-1, -1), PADDING),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), look.header_background),
            ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
        ]
        for index, ((left, right), align) in enumerate(zip(self.columns.paddings(m.widths),
                                                          self.columns.aligns)):
            style += [("ALIGN", (index, 0), (index, -1), align),
                      ("LEFTPADDING", (index, 0), (index, -1), left),
                      ("RIGHTPADDING", (index, 0), (index, -1), right)]
        if look.zebra and body_end >= 1:
            # Shade rows by their index in the whole table, so the stripes carry across pages.
            order = (colors.white, look.zebra_background)
            style.append(("ROWBACKGROUNDS", (0, 1), (-1, body_end),
                          order if first % 2 == 0 else order[::-1]))
        if len(data) - 1 > body_end:
            style += [("FONT", (0, -1), (-1, -1), look.bold_font, FONT_SIZE, LEADING),
                      ("LINEABOVE", (0, -1), (-1, -1), 0.75, colors.black)]
        return _Table(data, colWidths=m.widths, rowHeights=heights, style=TableStyle(style))


class _Table(Table):
    """A Table whose backgrounds and rules bleed BLEED points past its outer text edges, so the
    header's shading does not end flush with its first and last letters."""

    def _bled(self, draw) -> None:
        columns = self._colpositions
        self._colpositions = [columns[0] - BLEED, *columns[1:-1], columns[-1] + BLEED]
        try:
            draw()
        finally:
            self._colpositions = columns

    def _drawBkgrnd(self):
        self._bled(super()._drawBkgrnd)

    def _drawLines(self):
        self._bled(super()._drawLines)
