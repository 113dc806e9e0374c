"""QR codes, barcodes and images as a reader of the PDF sees them (pdfplumber: where each
character, bar and image sits)."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from PIL import Image

from craftkit.errors import InvalidTemplate
from craftkit.layout import RenderError, lint, render_pdf
from craftkit.manifest import Manifest

MANIFEST = Manifest.parse({"fields": {"code": {"type": "string"}}})
RULE = {"type": "rule"}  # a line across the content box: where tables and text end
MARGIN = 40
PAGE = {"size": "A5", "margin": MARGIN}
WIDTH = 419.5276  # A5


def page_of(body: list[dict], data: dict | None = None, assets: dict | None = None, **layout):
    layout = {"page": PAGE, "font": "DejaVuSans", "body": body, **layout}
    lint(layout, MANIFEST, set(assets or {}))
    return pdfplumber.open(io.BytesIO(render_pdf(layout, data or {"code": "x"},
                                                 assets=assets))).pages[0]


def content_box(page) -> tuple[float, float]:
    """The left and right edge of the content box, from the rule across it."""
    (rule,) = page.lines
    return rule["x0"], rule["x1"]


def overlaps(a: dict, b: dict) -> bool:
    return a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["top"] < b["bottom"] and \
        b["top"] < a["bottom"]


@pytest.mark.parametrize("block, shown", [
    ({"type": "barcode", "value": "SHIP-0042-XL/7", "kind": "code128"}, "SHIP-0042-XL/7"),
    ({"type": "barcode", "value": "400638133393", "kind": "ean13"}, "4006381333931"),
    ({"type": "barcode", "value": "4006381333931", "kind": "ean13", "align": "right"},
     "4006381333931"),
])
def test_barcode_text_never_touches_a_bar_and_is_in_the_documents_font(block, shown):
    page = page_of([{"type": "text", "text": "B"}, block])
    body, *code = page.chars
    bars = [r for r in page.rects if r["height"] > 20]
    assert len(code) >= 12 and len(bars) > 20
    assert "".join(c["text"] for c in code) == shown
    assert not [(c["text"], r["x0"]) for c in code for r in bars if overlaps(c, r)]
    assert {c["fontname"] for c in code} == {body["fontname"]}  # DejaVu Sans, embedded
    assert min(c["x0"] for c in code) >= MARGIN - 0.01 and \
        max(c["x1"] for c in code) <= WIDTH - MARGIN + 0.01


@pytest.mark.parametrize("align", ["left", "right"])
def test_barcode_bars_start_at_the_content_box_edge_when_aligned(align):
    page = page_of([RULE, {"type": "barcode", "value": "AB-12", "align": align}])
    bars = [r for r in page.rects if r["height"] > 20]
    edge = min(r["x0"] for r in bars) if align == "left" else max(r["x1"] for r in bars)
    assert edge == pytest.approx(content_box(page)[0 if align == "left" else 1], abs=0.01)


def test_a_barcode_too_wide_for_its_box_gets_narrower_bars_or_fails_saying_what_to_do():
    page = page_of([RULE, {"type": "barcode", "value": "X" * 40}])  # 1.1 pt bars: ~520 pt
    bars = [r for r in page.rects if r["height"] > 20]
    assert max(r["x1"] for r in bars) == pytest.approx(content_box(page)[1], abs=0.01)
    with pytest.raises(RenderError, match=r"needs \d+ pt at the narrowest bars scanners read"):
        page_of([{"type": "barcode", "value": "X" * 80}])


@pytest.mark.parametrize("align", ["left", "right"])
def test_qr_modules_line_up_with_the_content_box_edge(align):
    page = page_of([RULE, {"type": "qr", "value": "https://example.com/{{code}}", "size": 80,
                            "align": align}])
    modules = [r for r in page.rects if r["width"] < 40 and r["height"] < 40]
    left, right = min(r["x0"] for r in modules), max(r["x1"] for r in modules)
    module = min(r["height"] for r in modules)
    assert right - left + 8 * module == pytest.approx(80, abs=0.01)  # 80 pt with its quiet zone
    edge = left if align == "left" else right
    assert edge == pytest.approx(content_box(page)[0 if align == "left" else 1], abs=0.01)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("block, drawn, box", [
    ({"width": 100, "height": 100}, (100, 50), (100, 50)),  # contain: the largest that fits
    ({"width": 100, "height": 100, "fit": "contain"}, (100, 50), (100, 50)),
    ({"width": 100, "height": 100, "fit": "cover"}, (200, 100), (100, 100)),  # cropped
    ({"width": 60}, (60, 30), (60, 30)),
    ({"height": 60}, (120, 60), (120, 60)),
    ({}, (150, 75), (150, 75)),  # 200 x 100 px at 96 dpi
    ({"width": 900}, None, None),  # never wider than the column
])
def test_images_keep_their_aspect_ratio_in_every_fit_mode(block, drawn, box):
    page = page_of([{"type": "image", "asset": "logo", "align": "center", **block},
                    {"type": "text", "text": "after"}], assets={"logo": png(200, 100)})
    (image,) = page.images
    if drawn is None:
        drawn = (image["width"], image["height"])
        assert image["width"] <= WIDTH - 2 * MARGIN
    assert (image["width"], image["height"]) == pytest.approx(drawn, abs=0.01)
    assert image["width"] / image["height"] == pytest.approx(2, abs=1e-6)
    assert (image["x0"] + image["x1"]) / 2 == pytest.approx(WIDTH / 2, abs=0.01)  # centred
    if box:  # the text after the image starts below the box, not below the uncut image
        after = page.chars[0]["top"]
        assert image["top"] + (drawn[1] - box[1]) / 2 + box[1] <= after < \
            image["top"] + (drawn[1] + box[1]) / 2 + 20


def test_lint_knows_the_fit_modes_and_that_fit_needs_a_box():
    for block, message in (({"fit": "stretch", "width": 1, "height": 1}, "must be one of"),
                           ({"fit": "cover", "width": 10}, "needs both width and height")):
        with pytest.raises(InvalidTemplate) as caught:
            lint({"body": [{"type": "image", "asset": "logo", **block}]}, MANIFEST, {"logo"})
        assert any(message in m for m in caught.value.field_errors["layout.body.0.fit"])


def test_codes_and_images_aligned_right_in_a_column_end_on_the_content_box_edge():
    page = page_of([RULE, {"type": "columns", "columns": [
        {"blocks": [{"type": "text", "text": "Left"}]},
        {"blocks": [{"type": "qr", "value": "https://example.com", "size": 60, "align": "right"},
                    {"type": "image", "asset": "logo", "width": 40, "align": "right"}]}]}],
        assets={"logo": png(200, 100)})
    modules = [r for r in page.rects if r["width"] < 40 and r["height"] < 40]
    edge = content_box(page)[1]
    assert max(r["x1"] for r in modules) == pytest.approx(edge, abs=0.01)
    assert page.images[0]["x1"] == pytest.approx(edge, abs=0.01)


@pytest.mark.parametrize("value", ["٤٠٠٦٣٨١٣٣٣٩٣", "４００６３８１３３３９３", "4006 38133393"])
def test_an_ean13_of_other_digits_than_ascii_ones_fails_saying_what_it_needs(value):
    """Python's \\d also matches Arabic-Indic and full-width digits: ReportLab refused them with
    an AttributeError (the worker's "the renderer failed")."""
    with pytest.raises(RenderError, match="is not an EAN-13: give 12 digits"):
        page_of([{"type": "barcode", "value": "{{code}}", "kind": "ean13"}], {"code": value})


@pytest.mark.parametrize("size", [100, 400])
def test_a_qr_code_wider_than_its_column_is_made_smaller_and_stays_in_it(size):
    """A 100 pt QR code in a 40 pt column drew its modules over the next column's text."""
    page = page_of([RULE, {"type": "columns", "gap": 10, "columns": [
        {"width": 40, "blocks": [{"type": "qr", "value": "https://example.com", "size": size}]},
        {"blocks": [{"type": "text", "text": "Beside"}]},
        {"width": 40, "blocks": [{"type": "qr", "value": "https://example.com", "size": size,
                                  "align": "right"}]}]}])
    left, right = content_box(page)
    modules = [r for r in page.rects if r["height"] < 40]
    first = [r for r in modules if r["x0"] < left + 40]
    last = [r for r in modules if r["x1"] > right - 40]
    assert len(first) + len(last) == len(modules)
    assert min(r["x0"] for r in first) == pytest.approx(left, abs=0.01)
    assert max(r["x1"] for r in first) == pytest.approx(left + 30, abs=0.01)  # 40 less the gap
    assert min(r["x0"] for r in last) == pytest.approx(right - 40, abs=0.01)
    assert max(r["x1"] for r in last) == pytest.approx(right, abs=0.01)
    assert not [c["text"] for c in page.chars for r in modules if overlaps(c, r)]


def test_a_qr_code_too_small_to_scan_in_its_column_fails_saying_what_to_do():
    small = page_of([{"type": "qr", "value": "x" * 1000, "size": 40}])  # its size: as before
    assert len(small.rects) > 1000 and max(r["x1"] for r in small.rects) < MARGIN + 40
    with pytest.raises(RenderError, match="QR code .* needs \\d+ pt .* has 18 pt"):
        page_of([{"type": "columns", "gap": 10, "columns": [
            {"width": 28, "blocks": [{"type": "qr", "value": "https://example.com/" + "x" * 200}]},
            {"blocks": [{"type": "text", "text": "Beside"}]}]}])


def test_barcode_text_in_an_uploaded_font_without_digits_is_in_the_built_in_sans():
    """An uploaded font of letters only drew '-12' and an EAN-13's digits as .notdef: blank."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from craftkit.layout import fonts

    font = TTFont(fonts.FAMILIES["sans"].files[0])
    subsetter = subset.Subsetter()
    subsetter.populate(text="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
    subsetter.subset(font)
    letters = io.BytesIO()
    font.save(letters)
    layout = {"page": PAGE, "fonts": {"Letters": {"regular": "letters.ttf"}}, "font": "Letters",
              "body": [{"type": "text", "text": "Hello"},
                       {"type": "barcode", "value": "AB-12"},
                       {"type": "barcode", "value": "400638133393", "kind": "ean13"}]}
    lint(layout, MANIFEST, {"letters.ttf"}, {"letters.ttf"})
    pdf = render_pdf(layout, {"code": "x"}, assets={"letters.ttf": letters.getvalue()})
    page = pdfplumber.open(io.BytesIO(pdf)).pages[0]
    hello, shown = page.chars[:5], page.chars[5:]
    assert "".join(c["text"] for c in shown) == "AB-124006381333931"
    assert {c["fontname"].split("+")[1] for c in shown} == {"Lato-Regular"}
    assert {c["fontname"] for c in hello} != {c["fontname"] for c in shown}


@pytest.mark.parametrize("orientation, drawn", [(1, (50, 25)), (6, (50, 100)), (8, (50, 100)),
                                                (3, (50, 25))])
def test_a_photo_is_drawn_the_way_up_its_exif_orientation_says(orientation, drawn):
    """A phone's portrait photo is stored landscape with orientation 6: ReportLab drew it on its
    side (every viewer and browser shows it upright)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 30, 30)).save(photo, "JPEG", exif=exif.tobytes())
    page = page_of([{"type": "image", "asset": "photo", "width": 50}],
                   assets={"photo": photo.getvalue()})
    (image,) = page.images
    assert (image["width"], image["height"]) == pytest.approx(drawn, abs=0.01)


def test_looking_for_the_orientation_decodes_no_image():
    """Pillow's getexif decodes a whole PNG to look for an eXIf chunk after the pixels: 90 MB
    for a 30 MP image before the render had drawn anything (the preview's memory-limit test ran
    out of time instead)."""
    import tracemalloc

    from craftkit.layout.codes import _upright

    big = io.BytesIO()
    Image.new("RGB", (6000, 5000), (200, 30, 30)).save(big, "PNG")
    tracemalloc.start()
    try:
        assert _upright(big.getvalue()).getSize() == (6000, 5000)
        assert tracemalloc.get_traced_memory()[1] < 10 * 2**20
    finally:
        tracemalloc.stop()
def test_barcode_text_in_an_uploaded_font_of_zero_width_glyphs_is_in_the_built_in_sans():
    """The text's size is the bars' width over the text's: ZeroDivisionError."""
    from fontTools.ttLib import TTFont

    from craftkit.layout import fonts

    font = TTFont(fonts.FAMILIES["sans"].files[0])
    metrics = font["hmtx"].metrics
    for glyph, (_, left) in metrics.items():
        metrics[glyph] = (0, left)
    flat = io.BytesIO()
    font.save(flat)
    layout = {"page": PAGE, "fonts": {"Flat": {"regular": "flat.ttf"}}, "font": "Flat",
              "body": [{"type": "barcode", "value": "AB-12"}]}
    lint(layout, MANIFEST, {"flat.ttf"}, {"flat.ttf"})
    pdf = render_pdf(layout, {"code": "x"}, assets={"flat.ttf": flat.getvalue()})
    chars = pdfplumber.open(io.BytesIO(pdf)).pages[0].chars
    assert "".join(c["text"] for c in chars) == "AB-12"
    assert {c["fontname"].split("+")[1] for c in chars} == {"Lato-Regular"}
