import io

import pypdf
import pytest

from craftkit.demo import sample
from craftkit.errors import InvalidTemplate
from craftkit.layout import interpolate, lint, render_pdf
from craftkit.manifest import Manifest

INVOICE = sample("invoice")
MANIFEST = Manifest.parse(INVOICE["manifest"])


def text_of(pdf: bytes) -> tuple[str, int]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(p.extract_text() for p in reader.pages), len(reader.pages)


def test_the_sample_invoice_passes_lint_and_renders_its_data():
    lint(INVOICE["layout"], MANIFEST)
    text, pages = text_of(render_pdf(INVOICE["layout"], INVOICE["example"]))
    assert pages == 1
    for expected in ("Invoice", "Bill to: Acme Corp", "Widget", "5", "9.99", "Total: 49.95"):
        assert expected in text


def test_markup_in_data_is_text_not_markup():
    data = {**INVOICE["example"], "customer": {"name": "<b>Tom & Jerry</b>"}}
    assert "Bill to: <b>Tom & Jerry</b>" in text_of(render_pdf(INVOICE["layout"], data))[0]


def test_a_long_table_repeats_its_header_on_every_page():
    data = {**INVOICE["example"],
            "items": [{"name": f"Row {i}", "qty": i, "price": 1.5} for i in range(120)]}
    text, pages = text_of(render_pdf(INVOICE["layout"], data))
    assert pages >= 3 and text.count("Qty") == pages and "Row 119" in text


def test_the_same_data_renders_the_same_bytes():
    assert render_pdf(INVOICE["layout"], INVOICE["example"]) == \
        render_pdf(INVOICE["layout"], INVOICE["example"])


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
    assert "Widget for Acme Corp" in text_of(render_pdf(layout, INVOICE["example"]))[0]


def test_a_row_taller_than_a_page_fails_with_a_message_that_says_what_to_fix():
    from craftkit.layout import RenderError
    data = {**INVOICE["example"], "items": [{"name": "line\n" * 300, "qty": 1, "price": 1}]}
    with pytest.raises(RenderError, match="taller than a page.*shorten the data"):
        render_pdf(INVOICE["layout"], data)
