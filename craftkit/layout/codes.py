"""QR codes, barcodes and images: the blocks drawn with ReportLab's graphics, not its text.

Codes sit on the page's grid: the dark modules or bars of a code aligned left or right line up
with the content box's edge, like a table's; the quiet zone scanners need (4 modules around a QR
code, 10 bar widths beside a barcode) lies beyond them, so at the page's edge the margin is the
quiet zone, and inside the box the block takes its column's whole width: nothing stands beside it.
Codes and images align themselves in that width, so `align` works in columns too (a table cell
ignores a flowable's own alignment).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from reportlab.graphics.shapes import Drawing, Group, Rect, String
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth
from reportlab.platypus import Flowable

from craftkit.errors import shorten
from craftkit.layout.errors import RenderError

QR_QUIET = 4  # modules of light space around a QR code (ISO/IEC 18004)
CODE128_BAR = 1.1  # points: the narrowest bar of a Code 128 that has room (0.39 mm)
EAN13_BAR = 0.936  # points: EAN-13's nominal module (0.33 mm, GS1's 100 % size)
MIN_BAR = 0.6  # points (0.21 mm): narrower bars than this, common scanners no longer read
TEXT_SIZE = 9  # points: the human-readable line under a Code 128, at most
FITS = ("contain", "cover")
EXIF_ORIENTATION = 0x0112


def _offset(align: str, room: float, width: float) -> float:
    """Where a thing `width` wide starts in `room` when aligned `align`."""
    return {"left": 0, "right": room - width, "center": (room - width) / 2}[align]


class _Code(Flowable):
    """A code made for the width it is given, its visible part aligned on the box's edge.

    `make(width)` returns the drawing and the visible part's left and right x in it. The block
    takes the whole width and aligns the code itself: in a frame and in a column alike (a table
    cell, which ignores a flowable's own alignment), so nothing stands in its quiet zone but the
    margin or the columns' gap."""

    def __init__(self, make: Callable[[float], tuple[Drawing, float, float]], align: str) -> None:
        super().__init__()
        self.make, self.align = make, align

    def wrap(self, available_width, available_height):
        self.drawing, left, right = self.make(available_width)
        self.width, self.height = max(available_width, right - left), self.drawing.height
        self.shift = _offset(self.align, self.width, right - left) - left
        return self.width, self.height

    def draw(self):
        self.drawing.drawOn(self.canv, self.shift, 0)


def qr(value: str, size: float, align: str) -> Flowable:
    """A QR code in a `size` point square with its quiet zone, as before codes were aligned, so
    the layout does not move with the length of the value (longer values, more and smaller
    modules); the dark modules are the middle n/(n+8) of it. Wider than its column, the square is
    made smaller (as images are), down to modules of MIN_BAR; smaller still, it fails (a `size`
    that fits keeps its modules, however small, as before). Beside it: the module docstring."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    if not value:
        raise RenderError("the QR code's value is empty for this data")
    widget = QrCodeWidget(value, barBorder=0)
    count = _module_count(widget)

    def make(width: float) -> tuple[Drawing, float, float]:
        visible = size * count / (count + 2 * QR_QUIET)
        if visible > width:  # smaller modules, for the column's sake only
            visible = width
            if visible < count * MIN_BAR:
                raise RenderError(f"QR code {shorten(value)} needs {count * MIN_BAR:.0f} pt at "
                                  f"the smallest modules scanners read ({MIN_BAR} pt) and has "
                                  f"{width:.0f} pt: shorten the value or give the QR code a "
                                  "wider column")
        quiet = visible * QR_QUIET / count
        widget.barWidth = widget.barHeight = visible
        widget.y = quiet
        drawing = Drawing(visible, visible + 2 * quiet)
        drawing.add(widget)
        return drawing, 0, visible

    return _Code(make, align)


def _module_count(widget) -> int:
    """Encodes the QR code now: its module count sets the quiet zone. Too much data for the
    largest QR code is the caller's to fix."""
    try:
        widget.qr.make()
    except Exception as exc:  # noqa: BLE001 - the encoder raises bare exceptions for overflows
        raise RenderError(f"the QR code's value is too long to encode ({len(widget.value)} "
                          "characters); shorten it") from exc
    return widget.qr.getModuleCount()


def barcode(block: dict, font: str) -> Flowable:
    """Code 128 or EAN-13, its human-readable text in `font` (the document's, embedded) below
    the bars, never touching them. A value too wide for its box gets narrower bars, down to
    MIN_BAR; wider than that it fails: a code printed too fine to scan is worse than an error."""
    value, kind = block["value"], block.get("kind", "code128")
    show, height = block.get("showText", True), block.get("height")
    if kind == "ean13":
        digits = value.strip()
        if not re.fullmatch(r"[0-9]{12,13}", digits) or (len(digits) == 13 and
                                                       _ean_check(digits[:12]) != digits[12]):
            raise RenderError(f"barcode value {shorten(value)} is not an EAN-13: give 12 "
                              "digits, or 13 with a correct check digit")
        font = _text_font(digits, font)
        return _Code(lambda width: _ean13(digits[:12], height or 60, show, font, width),
                     block.get("align", "left"))
    if not value or not value.isascii() or not value.isprintable():
        raise RenderError(f"barcode value {shorten(value)} is not printable ASCII, which Code 128 "
                          "needs")
    font = _text_font(value, font)
    return _Code(lambda width: _code128(value, height or 50, show, font, width),
                 block.get("align", "left"))


def _text_font(text: str, font: str) -> str:
    """The document's font for a barcode's text, or the built-in sans (which has all of ASCII)
    where an uploaded font lacks a character of it or draws it with no width: a font of letters
    only left the digits of the text blank (drawn as .notdef, which PDF/A forbids too), one of
    zero-width glyphs failed the render dividing by its width."""
    from craftkit.layout import fonts

    if fonts.covered(text, font) and stringWidth(text, font, TEXT_SIZE) > 0:
        return font
    sans = fonts.family("sans")
    return sans.regular


def _bar_width(nominal: float, modules: float, width: float, value: str) -> float:
    """The bar width that fits `modules` bars into `width`: the nominal one if there is room."""
    if modules * nominal <= width:
        return nominal
    if modules * MIN_BAR > width:
        raise RenderError(f"barcode {shorten(value)} needs {modules * MIN_BAR:.0f} pt at the "
                          f"narrowest bars scanners read ({MIN_BAR} pt) and has {width:.0f} pt: "
                          "shorten the value or give the barcode a wider column")
    return width / modules


def _code128(value: str, height: float, show: bool, font: str,
             width: float) -> tuple[Drawing, float, float]:
    from reportlab.graphics.barcode.widgets import BarcodeCode128

    modules = BarcodeCode128(value=value, barWidth=1, quiet=0).width  # at 1 pt a module
    bar = _bar_width(CODE128_BAR, modules, width, value)
    bars = BarcodeCode128(value=value, barWidth=bar, barHeight=height, quiet=0,
                          humanReadable=0)
    drawing = Drawing(bars.width, height)
    if show:
        size = min(TEXT_SIZE, TEXT_SIZE * bars.width / stringWidth(value, font, TEXT_SIZE))
        ascent, descent = getAscentDescent(font, size)
        baseline = -descent
        bars.y = baseline + ascent + size * 0.3
        drawing.height = bars.y + height
        drawing.add(String(bars.width / 2, baseline, value, fontName=font, fontSize=size,
                           textAnchor="middle"))
    drawing.add(bars)
    return drawing, 0, bars.width


def _ean13(digits: str, height: float, show: bool, font: str,
           width: float) -> tuple[Drawing, float, float]:
    """EAN-13 as GS1 draws it: the digits under the short bars, between the guard bars, the
    first one left of them (ReportLab's layout, in the document's font)."""
    from reportlab.graphics.barcode.eanbc import Ean13BarcodeWidget

    lead = 8 if show else 0  # the first digit stands in the left quiet zone, 8 modules out
    bar = _bar_width(EAN13_BAR, 95 + lead, width, digits)
    widget = Ean13BarcodeWidget(digits, barWidth=bar, barHeight=height, fontName=font,
                                fontSize=min(8, bar * 8.5), humanReadable=show, quiet=0)
    group = widget.draw()
    drawing = Drawing(0, height)
    drawing.add(group)
    left, right = _ink(group)
    drawing.width = right - left
    return drawing, left, right


def _ink(group: Group) -> tuple[float, float]:
    """The left and right x of what a drawing shows (filled rectangles and strings)."""
    xs = []
    for node in group.contents:
        if isinstance(node, Group):
            xs.extend(_ink(node))
        elif isinstance(node, Rect) and node.fillColor is not None:
            xs.extend((node.x, node.x + node.width))
        elif isinstance(node, String):
            x0, _, x1, _ = node.getBounds()
            xs.extend((x0, x1))
    return min(xs), max(xs)


def image(block: dict, assets: dict[str, bytes]) -> Flowable:
    """An asset at its aspect ratio, never stretched: `width` or `height` alone sets the other;
    both make a box the image fits in (`fit: contain`, the default) or fills, cropped
    (`fit: cover`); neither shows it at 96 dpi. Never wider than its column."""
    data = assets.get(block["asset"])
    if data is None:
        raise RenderError(f"asset {block['asset']!r} is missing")
    return _Picture(_upright(data), block.get("width"), block.get("height"),
                    block.get("fit", "contain"), block.get("align", "left"))


def _upright(data: bytes) -> ImageReader:
    """The image as every viewer shows it: a photo's EXIF orientation (a phone's portrait JPEG is
    stored sideways with orientation 6) applied, which ReportLab ignores; others as they are."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        exif = Image.Exif()
        if "exif" in image.info:  # read with the header (getexif decodes a whole PNG to look)
            exif.load(image.info["exif"])
        if exif.get(EXIF_ORIENTATION, 1) in (1, None):
            return ImageReader(io.BytesIO(data))
        upright = ImageOps.exif_transpose(image)
    return ImageReader(upright)


class _Picture(Flowable):
    def __init__(self, reader: ImageReader, width: float | None, height: float | None, fit: str,
                 align: str) -> None:
        super().__init__()
        self.reader, self.want, self.fit, self.align = reader, (width, height), fit, align
        self.pixels = reader.getSize()

    def wrap(self, available_width, available_height):
        (pw, ph), (want_w, want_h) = self.pixels, self.want
        if want_w and want_h:
            scale = (max if self.fit == "cover" else min)(want_w / pw, want_h / ph)
        else:
            scale = want_w / pw if want_w else want_h / ph if want_h else 0.75  # 96 dpi
        box = (want_w, want_h) if want_w and want_h and self.fit == "cover" else \
            (pw * scale, ph * scale)
        if box[0] > available_width:  # narrower, same shape
            shrink = available_width / box[0]
            box, scale = (box[0] * shrink, box[1] * shrink), scale * shrink
        self.box, self.drawn = box, (pw * scale, ph * scale)
        self.width, self.height = available_width, box[1]  # aligned here, as codes are
        return self.width, self.height

    def draw(self):
        (w, h), (box_w, box_h) = self.drawn, self.box
        canvas = self.canv
        canvas.saveState()
        canvas.translate(_offset(self.align, self.width, box_w), 0)
        if (w, h) != (box_w, box_h):  # cover: centred, cut to the box
            clip = canvas.beginPath()
            clip.rect(0, 0, box_w, box_h)
            canvas.clipPath(clip, stroke=0, fill=0)
        canvas.drawImage(self.reader, (box_w - w) / 2, (box_h - h) / 2, w, h, mask="auto")
        canvas.restoreState()


def _ean_check(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return str((10 - total % 10) % 10)
