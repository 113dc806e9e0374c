"""QR codes, barcodes and images: the blocks drawn with ReportLab's graphics, not its text."""

from __future__ import annotations

import io
import re

from reportlab.platypus import Flowable

from craftkit.layout.errors import RenderError


def _placed(drawing: Flowable, align: str) -> Flowable:
    """A ReportLab Drawing (a flowable), aligned in its frame."""
    drawing.hAlign = align.upper()
    return drawing


def qr(value: str, size: float, align: str) -> Flowable:
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    if not value:
        raise RenderError("the QR code's value is empty for this data")
    widget = QrCodeWidget(value)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return _placed(drawing, align)


def barcode(block: dict) -> Flowable:
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


def image(block: dict, assets: dict[str, bytes]) -> Flowable:
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

