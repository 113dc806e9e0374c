"""Rendering a linted layout with a render's data: resolve, choose fonts, lay out with ReportLab.

1. `resolve.Resolver` walks the blocks with the data: conditions and loops expand, every text is
   interpolated and formatted, table rows become cells. The result is plain data.
2. `fonts.check` looks at all that text and names the first character no font here draws; the
   layout's family draws the rest, with fallback fonts for the runs it does not cover.
3. `blocks.flowables` turns the resolved blocks into ReportLab flowables; a `_Document` builds
   them, enforcing the page and time limits; `_DeferredCanvas` draws headers, footers ("Page X of
   Y") and the watermark once the page count is known.
"""

from __future__ import annotations

import io
import math
import secrets
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import getAscentDescent
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph
from reportlab.platypus.doctemplate import LayoutError

from craftkit.config import env_float, env_int
from craftkit.layout import fonts, metadata, text, uploads
from craftkit.layout.blocks import Styles, flowables
from craftkit.layout.errors import RenderError
from craftkit.layout.lint import PAGE_SIZES, SPACE, margins as page_margins
from craftkit.layout.resolve import Resolver, texts_of, watermark

__all__ = ["Limits", "RenderError", "Rendered", "render_document", "render_pdf",
           "time_limit_message"]


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


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int


def render_pdf(layout: dict, data: dict, *, limits: Limits = Limits(),
               assets: dict[str, bytes] | None = None, created: datetime | None = None) -> bytes:
    """The PDF for `data` (already validated against the manifest the layout was linted with).
    `assets`: the bytes of the images the layout shows, by name. `created`: the document's date
    (now by default); the same layout, data and date give the same bytes."""
    return render_document(layout, data, limits=limits, assets=assets, created=created).pdf


def render_document(layout: dict, data: dict, *, limits: Limits = Limits(),
                    assets: dict[str, bytes] | None = None,
                    created: datetime | None = None) -> Rendered:
    """`render_pdf`, with the page count (the render worker's metrics)."""
    started = time.monotonic()
    locale = layout.get("locale", "en_US")
    resolver = Resolver(locale, limits)
    try:
        body = resolver.blocks(layout["body"], data)
        meta = {k: text.interpolate(v, data, locale) for k, v in layout.get("metadata", {}).items()}
        password = (text.interpolate(layout["protect"]["password"], data, locale)
                    if "protect" in layout else None)
        # The widest page numbers there can be: the header and footer are measured with them.
        sample = {**data, "page": limits.max_pages, "pages": limits.max_pages}
        margins = [Resolver(locale, limits).blocks(layout.get(part, []), sample)
                   for part in ("header", "footer")]
        mark = watermark(layout.get("watermark"), data, locale)
    except text.TextError as exc:
        raise RenderError(str(exc)) from None
    if password == "":
        raise RenderError("protect.password is empty for this data; give a password")
    try:
        uploaded = uploads.families(layout.get("fonts", {}), assets or {})
    except KeyError as exc:
        raise RenderError(f"font asset {exc} is missing") from None
    except uploads.BadFont as exc:
        raise RenderError(str(exc)) from None
    except MemoryError:
        raise  # the render process's memory limit: render_pool replaces the process
    except Exception as exc:  # noqa: BLE001 - checked at upload; a font that still fails is named
        raise RenderError(f"an uploaded font cannot be used: {type(exc).__name__}: {exc}") \
            from None
    try:
        family = fonts.family(layout.get("font"), uploaded)
        fonts.use_for_graphics(family)
        # Metadata is not drawn: PDF strings take any Unicode, no glyph is needed for it.
        fonts.check([*resolver.texts, (mark or {}).get("text", ""),
                     *texts_of(margins[0]), *texts_of(margins[1])])
    except fonts.MissingGlyph as exc:
        raise RenderError(str(exc)) from None

    page = layout.get("page", {})
    size = PAGE_SIZES[page.get("size", "A4")]
    if page.get("orientation") == "landscape":
        size = landscape(size)
    top, right, bottom, left = page_margins(page)
    styles = Styles(family, assets or {}, layout.get("direction", "auto"), uploaded)
    info = metadata.file_info(meta, metadata.language(layout), layout.get("pdfa"), created)
    decorate = _Decorator(layout, data, locale, styles, size, (top, right, bottom, left), mark,
                          info)
    # The body starts below the header and ends above the footer, even where they are taller
    # than their margins.
    body_top, body_bottom = _clear_of(margins, styles, size, (top, right, bottom, left))
    box = (size[0] - left - right, size[1] - body_top - body_bottom)
    if box[1] <= 0:
        raise RenderError(f"the header and footer leave no room for the body on a "
                          f"{size[0]:g} x {size[1]:g} pt page with these margins; make them "
                          "shorter or the margins smaller")
    styles.box = box
    out = io.BytesIO()
    doc = _Document(out, limits=limits, started=started, pagesize=size, leftMargin=left,
                    rightMargin=right, topMargin=top, bottomMargin=bottom, invariant=1,
                    encrypt=_encryption(password),
                    **info.document_args())
    # No padding: the body's edges are the content box's, as the header's and footer's are.
    frame = Frame(left, body_bottom, box[0], box[1], id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    story = flowables(body, styles)
    try:
        doc.build(story, canvasmaker=decorate.canvas)
    except RenderError as exc:
        first = doc.failure or _first(exc)
        raise RenderError(str(first), first.limit) from None
    except LayoutError as exc:
        raise RenderError(f"a block is taller than a page (its content box, {box[0]:.0f} x {box[1]:.0f} "
                          "pt: the page minus its margins) and cannot be split across pages: an "
                          "image, a code, columns side by side, or a line of text or a table "
                          "header taller than that; make it smaller, shorten the data that fills "
                          "it, or make the margins smaller") from exc
    return Rendered(out.getvalue(), doc.page)



def _first(exc: RenderError) -> RenderError:
    """The RenderError first raised: ReportLab re-raises it with its own text around it, the
    original as the new one's context."""
    while isinstance(exc.__context__, RenderError):
        exc = exc.__context__
    return exc


def _clear_of(parts: list[list[dict]], styles: Styles, size: tuple[float, float],
              margins: tuple[float, float, float, float]) -> tuple[float, float]:
    """(top, bottom): the body's distance from the page's top and bottom edges, the margins
    unless the header or footer (drawn as _Decorator draws them) reaches past them."""
    top, right, bottom, left = margins
    width = size[0] - left - right
    header, footer = (sum(f.wrap(width, size[1])[1] for f in flowables(blocks, styles))
                      for blocks in parts)
    header_end = header_top(top) + header  # from the top edge
    footer_end = footer_top(bottom, footer)  # from the bottom edge
    return (header_end + SPACE["xs"] if header and header_end > top else top,
            footer_end + SPACE["xs"] if footer and footer_end > bottom else bottom)


def header_top(top: float) -> float:
    """Where the header starts, down from the page's top edge, in a top margin of `top`."""
    return min(24, top / 2)


def footer_top(bottom: float, height: float) -> float:
    """Where a footer `height` tall starts, up from the page's bottom edge, in a bottom margin
    of `bottom`: 8 pt into the margin, or higher when it would come within 12 pt of the edge."""
    return max(bottom - 8, height + 12)


def _encryption(password: str | None):
    if password is None:
        return None
    from reportlab.lib.pdfencrypt import StandardEncryption
    return StandardEncryption(password, ownerPassword=secrets.token_urlsafe(24), canPrint=1,
                              canModify=0, canCopy=1, canAnnotate=0, strength=128)


# ------------------------------------------------------------------------------------ document

class _Document(BaseDocTemplate):
    def __init__(self, *args, limits: Limits, started: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits, self.started = limits, started
        self.failure: RenderError | None = None

    def _fail(self, message: str, limit: str) -> None:
        self.failure = RenderError(message, limit)
        raise self.failure

    def handle_pageBegin(self):
        if self.page >= self.limits.max_pages:
            self._fail(f"the document is longer than {self.limits.max_pages} pages (the page "
                       "limit of this deployment)", "pages")
        super().handle_pageBegin()

    def afterFlowable(self, flowable):
        if time.monotonic() - self.started > self.limits.seconds:
            self._fail(time_limit_message(self.limits.seconds), "time")


class _Decorator:
    """Draws what needs the page count: header, footer, watermark."""

    def __init__(self, layout, data, locale, styles, size, margins, mark, info) -> None:
        self.layout, self.data, self.locale, self.styles = layout, data, locale, styles
        self.size, self.margins, self.mark, self.info = size, margins, mark, info

    def canvas(self, *args, **kwargs) -> Canvas:
        # The canvas's own start font (Helvetica by default) would be listed, never embedded.
        kwargs["initialFontName"] = self.styles.family.regular
        return _DeferredCanvas(self, *args, **kwargs)

    def decorate(self, canvas: Canvas, page: int, pages: int) -> None:
        top, right, bottom, left = self.margins
        width = self.size[0] - left - right
        scope = {**self.data, "page": page, "pages": pages}
        for part in ("header", "footer"):
            if part not in self.layout:
                continue
            blocks = Resolver(self.locale, Limits()).blocks(self.layout[part], scope)
            items = [(f, *f.wrapOn(canvas, width, self.size[1])) for f in flowables(blocks, self.styles)]
            height = sum(h for _, _, h in items)
            y = self.size[1] - header_top(top) if part == "header" else footer_top(bottom, height)
            for flowable, _, h in items:
                y -= h
                flowable.drawOn(canvas, left, y)
        if self.mark:  # last: over the header's and footer's fills too
            self._watermark(canvas)

    def _watermark(self, canvas: Canvas) -> None:
        """The watermark along the page's diagonal, over everything the page holds (zebra rows,
        fills, images), translucent, and multiplied with what is under it: black text stays
        black, so the page stays readable. Smaller than `size` when that would not fit the
        content box."""
        mark, (width, height) = self.mark, self.size
        top, right, bottom, left = self.margins
        para, length, size = self._watermark_text(mark)
        angle = math.atan2(height, width)
        cos, sin = math.cos(angle), math.sin(angle)
        box_w, box_h = width - left - right, height - top - bottom
        scale = min(1, box_w / (length * cos + size * sin), box_h / (length * sin + size * cos))
        canvas.saveState()
        canvas.setBlendMode("Multiply")
        canvas.translate(left + box_w / 2, bottom + box_h / 2)
        canvas.rotate(math.degrees(angle))
        canvas.scale(scale, scale)
        descent = getAscentDescent(self.styles.family.bold, size)[1]
        para.drawOn(canvas, -length / 2, -descent - size / 2)  # its em box centred
        canvas.restoreState()

    def _watermark_text(self, mark: dict) -> tuple[Paragraph, float, float]:
        """The watermark as one line, translucent: a paragraph made as the body's are (fallback
        fonts, right-to-left text shaped and ordered); its length and size."""
        size = mark.get("size", 72)
        line = self.styles.text({}, escape(mark["text"]), size, "left", bold=True,
                                color=mark.get("color", "#888888"))
        color = line.style.textColor
        style = ParagraphStyle("watermark", parent=line.style, leading=size,
                               textColor=colors.Color(color.red, color.green, color.blue,
                                                      alpha=mark.get("opacity", 0.12)))
        para = Paragraph(line.text, style)
        para.wrap(100 * size * max(1, len(mark["text"])), size * 2)
        return para, max(para.getActualLineWidths0() or [0]) or 1, size


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
        metadata.finish(self, self._decorator.info)
        Canvas.save(self)

    def linkURL(self, url, rect, relative=0, thickness=0, color=None, dashArray=None,
                kind="URI", **kw):
        """Links print (their flag set: PDF/A wants it on every annotation)."""
        kw.setdefault("F", metadata.PRINT)
        super().linkURL(url, rect, relative, thickness, color, dashArray, kind, **kw)

