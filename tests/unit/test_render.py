"""The document's decoration: the watermark over what every page holds."""

from __future__ import annotations

import io
import re

import pdfplumber
import pypdf
import pypdfium2

from craftkit.layout import lint, render_pdf
from craftkit.manifest import Manifest

MANIFEST = Manifest.parse({"fields": {"rows": {"type": "array"}, "rows[].n": {"type": "integer"},
                                      "mark": {"type": "string"}, "head": {"type": "array"},
                                      "head[].n": {"type": "integer"}}})
ZEBRA = {"type": "table", "source": "rows", "as": "row", "zebra": True,
         "columns": [{"header": "#", "text": "{{row.n}}"}]}


def render(mark: dict, size: str = "A5") -> bytes:
    layout = {"page": {"size": size, "margin": 30}, "body": [ZEBRA], "watermark": mark,
              "header": [{"type": "table", "source": "head", "as": "row",
                          "columns": [{"header": "#", "text": "{{row.n}}"}]}],
              "footer": [{"type": "text", "text": "Page {{page}} of {{pages}}"}]}
    lint(layout, MANIFEST)
    return render_pdf(layout, {"rows": [{"n": i} for i in range(30)], "mark": "DRAFT",
                               "head": [{"n": 1}]})


def test_the_watermark_is_painted_after_the_zebra_rows_and_shows_through_them():
    pdf = render({"text": "{{mark}}", "opacity": 0.3, "color": "#FF0000"})
    content = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data().decode("latin1")
    fills = [m.start() for m in re.finditer(r" re f\*?\n", content)]
    assert len(fills) > 10 and "Page 1 of" in content  # zebra rows, the header's fill, a footer
    last_text = content.rindex("Tj")
    assert last_text > fills[-1] and "DRAFT" in content[content.rindex("BT", 0, last_text):]
    picture = pypdfium2.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("RGB")
    raw = picture.tobytes()
    reddish = [i for i in range(0, len(raw), 3) if raw[i] > raw[i + 1] + 40]
    assert len(reddish) > 2000  # a red tint where the letters cross the stripes and the page


def test_a_watermark_longer_than_the_diagonal_is_sized_down_to_stay_on_the_page():
    long = "CONFIDENTIAL - DO NOT FORWARD - INTERNAL USE ONLY"
    for size in ("A5", "Label4x6"):
        page = pdfplumber.open(io.BytesIO(render({"text": long, "size": 120}, size))).pages[0]
        letters = [c for c in page.chars if "Bold" in c["fontname"] and c["text"] != "#"]
        assert "".join(c["text"] for c in letters).replace(" ", "") == long.replace(" ", "")
        assert min(c["x0"] for c in letters) >= 30 - 0.5 and \
            max(c["x1"] for c in letters) <= page.width - 30 + 0.5
        assert min(c["top"] for c in letters) >= 30 - 0.5 and \
            max(c["bottom"] for c in letters) <= page.height - 30 + 0.5
