"""Rendering a linted layout with a render's data: resolve, choose fonts, lay out with ReportLab.

1. `_Resolver` walks the blocks with the data: conditions and loops expand, every text is
   interpolated and formatted, table rows become cells. The result is plain data.
2. `fonts.choose` looks at all that text and picks Helvetica or DejaVu Sans (or names the glyph
   nothing here can draw).
3. `_flowables` turns the resolved blocks into ReportLab flowables; a `_Document` builds them,
   enforcing the page and time limits; `_DeferredCanvas` draws headers, footers ("Page X of Y")
   and the watermark once the page count is known.
"""

from __future__ import annotations

import io
import re
import secrets
import time
from dataclasses import dataclass
from html import unescape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Flowable, Frame, KeepTogether,
                                PageBreak, PageTemplate, Paragraph, Spacer, Table, TableStyle)
from reportlab.platypus.doctemplate import LayoutError

from craftkit.config import env_float, env_int
from craftkit.layout import fonts, text
from craftkit.layout.lint import PAGE_SIZES
from craftkit.layout.tables import Columns, Look, TableStream

ALIGN = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT, "justify": TA_JUSTIFY}
HEADING_SIZES = {0: 20, 1: 16, 2: 13, 3: 11}
TAG = re.compile(r"<[^>]+>")


class RenderError(Exception):
    """The render cannot be produced from this data; the message is shown to the user."""


@dataclass(frozen=True)
class Limits:
    max_pages: int = 2000
    """RENDER_MAX_PAGES: a document longer than this fails."""
    max_rows: int = 100_000
    """RENDER_MAX_ROWS: table rows in one document, all tables together."""
    seconds: float = 60.0
    """RENDER_TIME_LIMIT_SECONDS: rendering longer than this fails."""

    @classmethod
    def from_env(cls) -> Limits:
        """The limits the environment sets: the render workers' and the gateway's previews (the
        same, so a version that previews also renders)."""
        return cls(max_pages=env_int("RENDER_MAX_PAGES", cls.max_pages),
                   max_rows=env_int("RENDER_MAX_ROWS", cls.max_rows),
                   seconds=env_float("RENDER_TIME_LIMIT_SECONDS", cls.seconds))


def time_limit_message(seconds: float) -> str:
    """Why a render over the time limit failed (raised here between flowables; the render worker
    kills a render that overruns inside one)."""
    return (f"the render took longer than {seconds:g} s (RENDER_TIME_LIMIT_SECONDS); make the "
            "document smaller or simpler")


def render_pdf(layout: dict, data: dict, *, limits: Limits = Limits(),
               assets: dict[str, bytes] | None = None) -> bytes:
    """The PDF for `data` (already validated against the manifest the layout was linted with).
    `assets`: the bytes of the images the layout shows, by name."""
    started = time.monotonic()
    locale = layout.get("locale", "en_US")
    resolver = _Resolver(locale, limits)
    try:
        body = resolver.blocks(layout["body"], data)
        meta = {k: text.interpolate(v, data, locale) for k, v in layout.get("metadata", {}).items()}
        password = (text.interpolate(layout["protect"]["password"], data, locale)
                    if "protect" in layout else None)
        sample = {**data, "page": 0, "pages": 0}
        margins = [_Resolver(locale, limits).blocks(layout.get(part, []), sample)
                   for part in ("header", "footer")]
        mark = _watermark(layout.get("watermark"), data, locale)
    except text.TextError as exc:
        raise RenderError(str(exc)) from None
    if password == "":
        raise RenderError("protect.password is empty for this data; give a password")
    try:
        family = fonts.choose(layout.get("font", "auto"),
                              [*resolver.texts, *meta.values(), *(mark or {}).get("text", ""),
                               *_texts(margins[0]), *_texts(margins[1])])
    except fonts.MissingGlyph as exc:
        raise RenderError(str(exc)) from None

    page = layout.get("page", {})
    size = PAGE_SIZES[page.get("size", "A4")]
    if page.get("orientation") == "landscape":
        size = landscape(size)
    margin = page.get("margin", 48)
    sides = margin if isinstance(margin, dict) else {}
    top, right, bottom, left = (sides.get(s, margin if not sides else 48)
                                for s in ("top", "right", "bottom", "left"))
    styles = _Styles(family, assets or {})
    decorate = _Decorator(layout, data, locale, styles, size, (top, right, bottom, left), mark)
    out = io.BytesIO()
    doc = _Document(out, limits=limits, started=started, pagesize=size, leftMargin=left,
                    rightMargin=right, topMargin=top, bottomMargin=bottom, invariant=1,
                    creator="Craftkit", title=meta.get("title", ""), author=meta.get("author", ""),
                    subject=meta.get("subject", ""), keywords=meta.get("keywords", ""),
                    encrypt=_encryption(password))
    frame = Frame(left, bottom, size[0] - left - right, size[1] - top - bottom, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    story = _flowables(body, styles)
    try:
        doc.build(story, canvasmaker=decorate.canvas)
    except RenderError:
        raise RenderError(doc.failure) from None  # ReportLab rewrites messages on the way out
    except LayoutError as exc:
        raise RenderError("a table row or block is taller than a page and cannot be split across "
                          "pages; shorten the data that fills it (for example fewer lines in one "
                          "cell)") from exc
    return out.getvalue()


# ------------------------------------------------------------------------------------- resolve

class _Resolver:
    def __init__(self, locale: str, limits: Limits) -> None:
        self.locale, self.limits = locale, limits
        self.texts: list[str] = []
        self.rows = 0

    def _markup(self, template: str, scope: dict) -> str:
        result = text.markup(template, scope, self.locale)
        self.texts.append(unescape(TAG.sub("", result)))
        return result

    def _plain(self, template: str, scope: dict) -> str:
        result = text.interpolate(template, scope, self.locale)
        self.texts.append(result)
        return result

    def blocks(self, blocks: list, scope: dict) -> list[dict]:
        out: list[dict] = []
        for block in blocks:
            out.extend(self.block(block, scope))
        return out

    def block(self, block: dict, scope: dict) -> list[dict]:
        kind = block["type"]
        if kind == "if":
            branch = "then" if _truth(block["test"], scope) else "else"
            return self.blocks(block.get(branch, []), scope)
        if kind == "each":
            items = _array(scope, block["source"])
            return [b for item in items
                    for b in self.blocks(block["blocks"], {**scope, block.get("as", "item"): item})]
        if kind in ("title", "heading", "text"):
            return [{**block, "markup": self._markup(block["text"], scope)}]
        if kind == "table":
            rows = _array(scope, block["source"])
            self.rows += len(rows)
            if self.rows > self.limits.max_rows:
                raise RenderError(f"the tables have more than {self.limits.max_rows} rows "
                                  "(the row limit of this deployment); split the document")
            name, columns = block.get("as", "item"), block["columns"]
            cells = [[self._plain(c["text"], {**scope, name: row}) for c in columns]
                     for row in rows]
            totals = [self._plain(t, scope) for t in block["totals"]] if "totals" in block else None
            headers = [c.get("header", "") for c in columns]
            self.texts.extend(headers)
            return [{**block, "headers": headers, "cells": cells, "footer": totals}]
        if kind in ("keep",):
            return [{**block, "blocks": self.blocks(block["blocks"], scope)}]
        if kind == "columns":
            return [{**block, "columns": [{**c, "blocks": self.blocks(c["blocks"], scope)}
                                          for c in block["columns"]]}]
        if kind in ("qr", "barcode"):
            return [{**block, "value": self._plain(block["value"], scope)}]
        return [block]


def _array(scope: dict, path: str) -> list:
    value = text.lookup(scope, path)
    return value if isinstance(value, list) else []


def _truth(test: object, scope: dict) -> bool:
    test = {"path": test} if isinstance(test, str) else test
    value = text.lookup(scope, test["path"])
    result = value == test["equals"] if "equals" in test else value not in (None, False, 0, "", [], {})
    return not result if test.get("not") else result


def _texts(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if "markup" in block:
            out.append(unescape(TAG.sub("", block["markup"])))
        out.extend(c for row in block.get("cells", []) for c in row)
        for inner in [block.get("blocks", [])] + [c["blocks"] for c in block.get("columns", [])
                                                   if isinstance(c, dict) and "blocks" in c]:
            out.extend(_texts(inner))
    return out


def _watermark(mark, data: dict, locale: str) -> dict | None:
    if mark is None:
        return None
    mark = {"text": mark} if isinstance(mark, str) else mark
    if "if" in mark and not _truth(mark["if"], data):
        return None
    return {**mark, "text": text.interpolate(mark["text"], data, locale)}


def _encryption(password: str | None):
    if password is None:
        return None
    from reportlab.lib.pdfencrypt import StandardEncryption
    return StandardEncryption(password, ownerPassword=secrets.token_urlsafe(24), canPrint=1,
                              canModify=0, canCopy=1, canAnnotate=0, strength=128)


# ----------------------------------------------------------------------------------- flowables

class _Styles:
    """What flowables are made with: the font family, paragraph styles, the images."""

    def __init__(self, family: fonts.Family, assets: dict[str, bytes]) -> None:
        self.family = family
        self.assets = assets
        self._cache: dict = {}

    def paragraph(self, size: float = 10, align: str = "left", bold: bool = False,
                  italic: bool = False, color: str = "#000000") -> ParagraphStyle:
        key = (size, align, bold, italic, color)
        if key not in self._cache:
            f = self.family
            name = ((f.bold_italic if italic else f.bold) if bold else
                    (f.italic if italic else f.regular))
            self._cache[key] = ParagraphStyle(
                f"p{len(self._cache)}", fontName=name, fontSize=size, leading=size * 1.25,
                alignment=ALIGN[align], textColor=colors.HexColor(color), spaceAfter=size * 0.4)
        return self._cache[key]


def _flowables(blocks: list[dict], styles: _Styles) -> list[Flowable]:
    out: list[Flowable] = []
    for block in blocks:
        out.extend(_flowable(block, styles))
    return out


def _flowable(block: dict, styles: _Styles) -> list[Flowable]:
    kind = block["type"]
    if kind in ("title", "heading"):
        level = 0 if kind == "title" else block.get("level", 1)
        style = styles.paragraph(HEADING_SIZES[level],
                                 block.get("align", "center" if level == 0 else "left"), True)
        return [CondPageBreak(style.fontSize * 4), Paragraph(block["markup"], style)]
    if kind == "text":
        style = styles.paragraph(block.get("size", 10), block.get("align", "left"),
                                 block.get("bold", False), block.get("italic", False),
                                 block.get("color", "#000000"))
        return [Paragraph(block["markup"], style)]
    if kind == "table":
        look = Look(font=styles.family.regular, bold_font=styles.family.bold,
                    zebra=block.get("zebra", False))
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
        return [KeepTogether(_flowables(block["blocks"], styles))]
    if kind == "columns":
        cells = [_flowables(c["blocks"], styles) for c in block["columns"]]
        gap = block.get("gap", 12)
        table = Table([cells], colWidths=[c.get("width") for c in block["columns"]],
                      style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                        ("RIGHTPADDING", (0, 0), (-2, -1), gap),
                                        ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                                        ("TOPPADDING", (0, 0), (-1, -1), 0),
                                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
        return [table, Spacer(0, 6)]
    if kind == "qr":
        return [_qr(block["value"], block.get("size", 96), block.get("align", "left"))]
    if kind == "barcode":
        return [_barcode(block)]
    if kind == "image":
        return [_image(block, styles.assets)]
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


def _placed(drawing: Flowable, align: str) -> Flowable:
    """A ReportLab Drawing (a flowable), aligned in its frame."""
    drawing.hAlign = align.upper()
    return drawing


def _qr(value: str, size: float, align: str) -> Flowable:
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    if not value:
        raise RenderError("the QR code's value is empty for this data")
    widget = QrCodeWidget(value)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return _placed(drawing, align)


def _barcode(block: dict) -> Flowable:
    from reportlab.graphics.barcode import createBarcodeDrawing

    value, kind = block["value"], block.get("kind", "code128")
    if kind == "ean13":
        digits = value.strip()
        if not re.fullmatch(r"\d{12,13}", digits) or (len(digits) == 13 and
                                                       _ean_check(digits[:12]) != digits[12]):
            raise RenderError(f"barcode value {value!r} is not an EAN-13: give 12 digits, or 13 "
                              "with a correct check digit")
        drawing = createBarcodeDrawing("EAN13", value=digits[:12],
                                       barHeight=block.get("height", 60),
                                       humanReadable=block.get("showText", True))
    else:
        if not value or not value.isascii() or not value.isprintable():
            raise RenderError(f"barcode value {value!r} is not printable ASCII, which Code 128 "
                              "needs")
        drawing = createBarcodeDrawing("Code128", value=value, barHeight=block.get("height", 50),
                                       humanReadable=block.get("showText", True), barWidth=1.1)
    return _placed(drawing, block.get("align", "left"))


def _image(block: dict, assets: dict[str, bytes]) -> Flowable:
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    data = assets.get(block["asset"])
    if data is None:
        raise RenderError(f"asset {block['asset']!r} is missing")
    width, height = ImageReader(io.BytesIO(data)).getSize()
    want_w, want_h = block.get("width"), block.get("height")
    if want_w and not want_h:
        want_h = height * want_w / width
    elif want_h and not want_w:
        want_w = width * want_h / height
    image = Image(io.BytesIO(data), width=want_w or width * 0.75, height=want_h or height * 0.75)
    image.hAlign = block.get("align", "left").upper()
    return image


def _ean_check(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return str((10 - total % 10) % 10)


# ------------------------------------------------------------------------------------ document

class _Document(BaseDocTemplate):
    def __init__(self, *args, limits: Limits, started: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits, self.started = limits, started
        self.failure = ""

    def _fail(self, message: str) -> None:
        self.failure = message
        raise RenderError(message)

    def handle_pageBegin(self):
        if self.page >= self.limits.max_pages:
            self._fail(f"the document is longer than {self.limits.max_pages} pages (the page "
                       "limit of this deployment)")
        super().handle_pageBegin()

    def afterFlowable(self, flowable):
        if time.monotonic() - self.started > self.limits.seconds:
            self._fail(time_limit_message(self.limits.seconds))


class _Decorator:
    """Draws what needs the page count: header, footer, watermark."""

    def __init__(self, layout, data, locale, styles, size, margins, mark) -> None:
        self.layout, self.data, self.locale, self.styles = layout, data, locale, styles
        self.size, self.margins, self.mark = size, margins, mark

    def canvas(self, *args, **kwargs) -> Canvas:
        return _DeferredCanvas(self, *args, **kwargs)

    def decorate(self, canvas: Canvas, page: int, pages: int) -> None:
        top, right, bottom, left = self.margins
        width = self.size[0] - left - right
        scope = {**self.data, "page": page, "pages": pages}
        if self.mark:
            self._watermark(canvas)
        for part in ("header", "footer"):
            if part not in self.layout:
                continue
            blocks = _Resolver(self.locale, Limits()).blocks(self.layout[part], scope)
            items = [(f, *f.wrapOn(canvas, width, self.size[1])) for f in _flowables(blocks, self.styles)]
            height = sum(h for _, _, h in items)
            y = self.size[1] - min(24, top / 2) if part == "header" else max(bottom - 8, height + 12)
            for flowable, _, h in items:
                y -= h
                flowable.drawOn(canvas, left, y)

    def _watermark(self, canvas: Canvas) -> None:
        mark = self.mark
        size = mark.get("size", 72)
        canvas.saveState()
        canvas.setFillColor(colors.HexColor(mark.get("color", "#888888")))
        canvas.setFillAlpha(mark.get("opacity", 0.12))
        canvas.setFont(self.styles.family.bold, size)
        canvas.translate(self.size[0] / 2, self.size[1] / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, -size / 3, mark["text"])
        canvas.restoreState()


class _DeferredCanvas(Canvas):
    """Keeps every page until the end, then decorates each knowing the page count."""

    def __init__(self, decorator: _Decorator, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._decorator = decorator
        self._pages: list[dict] = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        for number, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self._decorator.decorate(self, number, len(self._pages))
            Canvas.showPage(self)
        Canvas.save(self)
