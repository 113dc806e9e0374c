import io

import pypdf
import pytest

from craftkit.demo import sample, sample_assets
from craftkit.errors import InvalidTemplate
from craftkit.layout import interpolate, lint, render_pdf
from craftkit.manifest import Manifest

INVOICE = sample("invoice")
MANIFEST = Manifest.parse(INVOICE["manifest"])
ASSETS = sample_assets("invoice")  # the logo


def text_of(pdf: bytes) -> tuple[str, int]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(p.extract_text() for p in reader.pages), len(reader.pages)


def test_the_sample_invoice_passes_lint_and_renders_its_data():
    lint(INVOICE["layout"], MANIFEST, assets=set(ASSETS))
    text, pages = text_of(render_pdf(INVOICE["layout"], INVOICE["example"], assets=ASSETS))
    assert pages == 1
    for expected in ("INVOICE", "INV-2026-0142", "Acme Corp", "Printed business cards", "$62.50",
                     "Total due", "$8,083.25"):
        assert expected in text


def test_markup_in_data_is_text_not_markup():
    data = {**INVOICE["example"], "customer": {"name": "<b>Tom & Jerry</b>"}}
    assert "<b>Tom & Jerry</b>" in text_of(render_pdf(INVOICE["layout"], data, assets=ASSETS))[0]


def test_a_long_table_repeats_its_header_on_every_page():
    data = {**INVOICE["example"],
            "items": [{"name": f"Row {i}", "qty": i, "price": 1.5} for i in range(120)]}
    text, pages = text_of(render_pdf(INVOICE["layout"], data, assets=ASSETS))
    assert pages >= 3 and text.count("Qty") == pages and "Row 119" in text


def test_interpolation():
    scope = {"a": {"b": 1.5, "c": True, "d": None}, "e": [1, 2]}
    assert interpolate("{{a.b}}|{{ a.c }}|{{a.d}}|{{e}}|{{missing.x}}", scope) == "1.5|true||[1, 2]|"


@pytest.mark.parametrize("layout, where", [
    ({"body": []}, "layout.body"),
    ({"body": [{"type": "title", "text": "{{nope}}"}]}, "layout.body.0.text"),
    ({"body": [{"type": "text", "text": "x", "align": "middle"}]}, "layout.body.0.align"),
    ({"body": [{"type": "text", "text": 5}]}, "layout.body.0.text"),
    ({"body": [{"type": "table", "source": "total", "columns": [{"text": "x"}]}]},
     "layout.body.0.source"),
    ({"body": [{"type": "table", "source": "items",
                "columns": [{"text": "{{item.colour}}"}]}]}, "layout.body.0.columns.0.text"),
    ({"body": [{"type": "table", "source": "items", "columns": [{"text": "x", "width": -1}]}]},
     "layout.body.0.columns.0.width"),
    ({"page": {"size": "A3"}, "body": [{"type": "title", "text": "x"}]}, "layout.page.size"),
    ({"page": {"margin": "wide"}, "body": [{"type": "title", "text": "x"}]}, "layout.page.margin"),
    ({"body": [{"type": "chart"}]}, "layout.body.0.type"),
])
def test_lint_names_the_path_of_each_problem(layout, where):
    with pytest.raises(InvalidTemplate) as caught:
        lint(layout, MANIFEST)
    assert where in caught.value.field_errors


def test_table_rows_bind_to_their_own_name():
    layout = {"body": [{"type": "table", "source": "items", "as": "line",
                        "columns": [{"header": "N", "text": "{{line.name}} for {{customer.name}}"}]}]}
    lint(layout, MANIFEST)
    seed = {"customer": {"name": "Acme Corp"}, "items": [{"name": "Widget", "qty": 5, "price": 9.99}],
            "total": 49.95}
    assert "Widget for Acme Corp" in text_of(render_pdf(layout, seed))[0]


def test_a_block_taller_than_a_page_fails_with_a_message_that_says_what_to_fix():
    from PIL import Image

    from craftkit.layout import RenderError
    png = io.BytesIO()
    Image.new("RGB", (10, 200)).save(png, "PNG")  # narrow: as tall at the column's width
    layout = {"body": [{"type": "image", "asset": "logo", "height": 2000}]}
    with pytest.raises(RenderError, match="taller than a page.*cannot be split"):
        render_pdf(layout, INVOICE["example"], assets={"logo": png.getvalue()})


# ------------------------------------------------------------------------------ bounded checks

def kept(depth: int) -> dict:
    block: dict = {"type": "text", "text": "x"}
    for _ in range(depth):
        block = {"type": "keep", "blocks": [block]}
    return block


@pytest.mark.parametrize("layout, where, message", [
    ({"body": [{"type": "spacer"}] * 2001}, "layout", "more than 2000 blocks and table columns"),
    ({"body": [{"type": "table", "source": "items", "columns": [{"text": "x"}] * 2001}]},
     "layout", "more than 2000 blocks and table columns"),
    ({"body": [kept(17)]}, "layout.body.0" + ".blocks.0" * 16 + ".blocks",
     "nested more than 16 deep"),
    ({"body": [kept(10_000)]}, "layout.body.0" + ".blocks.0" * 16 + ".blocks",
     "nested more than 16 deep"),
    ({"body": [{"type": "text", "text": "x" * 10_001}]}, "layout.body.0.text",
     "10001 characters; at most 10000"),
    ({"body": [{"type": "text", "text": "x", "color": "#000000\n"}]}, "layout.body.0.color",
     "#RRGGBB"),
    ({"body": [{"type": "each", "source": "items", "as": "row\n", "blocks": [kept(0)]}]},
     "layout.body.0.as", "simple name"),
])
def test_every_layout_check_is_bounded_and_names_the_limit(layout, where, message):
    with pytest.raises(InvalidTemplate) as caught:
        lint(layout, MANIFEST)
    assert message in " ".join(caught.value.field_errors[where])


def test_sixteen_levels_of_nesting_are_fine():
    lint({"body": [kept(16)]}, MANIFEST)


@pytest.mark.timeout(10)
def test_texts_are_read_in_linear_time_at_lint_and_render():
    # An unclosed `{{` then spaces took the placeholder pattern cubic time (2,000: 8 s), and
    # runs of `[` or `*a ` took the markup patterns quadratic time.
    for hostile in ("{{" + " " * 9_990, "[" * 10_000, "*a " * 3_333, "[a](http://" * 909):
        layout = {"body": [{"type": "text", "text": hostile}]}
        lint(layout, MANIFEST)
        render_pdf(layout, INVOICE["example"])
