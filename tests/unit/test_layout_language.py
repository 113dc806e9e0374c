"""The layout language, block by block: what a reader of the PDF sees."""

from __future__ import annotations

import io

import pypdf
import pytest

from craftkit.errors import InvalidTemplate
from craftkit.layout import Limits, RenderError, interpolate, lint, render_pdf
from craftkit.layout.text import markup
from craftkit.manifest import Manifest

MANIFEST = Manifest.parse({"fields": {
    "name": {"type": "string"},
    "amount": {"type": "number"},
    "currency": {"type": "enum", "values": ["EUR", "USD", "GBP"], "default": "EUR"},
    "day": {"type": "date"},
    "vip": {"type": "boolean", "default": False},
    "lines": {"type": "array"},
    "lines[].label": {"type": "string"},
    "lines[].qty": {"type": "integer"},
    "secret": {"type": "string", "required": False},
}})
DATA = MANIFEST.validate({"name": "Zoë", "amount": 1234.5, "day": "2026-05-03",
                          "lines": [{"label": f"line {i}", "qty": i} for i in range(3)]})


def pdf(layout: dict, data: dict = DATA, **kwargs) -> pypdf.PdfReader:
    lint(layout, MANIFEST)
    return pypdf.PdfReader(io.BytesIO(render_pdf(layout, data, **kwargs)))


def text(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def body(*blocks, **extra) -> dict:
    return {"body": list(blocks), **extra}


@pytest.mark.parametrize("template, locale, expected", [
    ("{{amount | number:2}}", "en_US", "1,234.50"),
    ("{{amount | number:2}}", "de_DE", "1.234,50"),
    ("{{amount | currency:EUR}}", "en_US", "€1,234.50"),
    ("{{amount | currency:currency}}", "en_GB", "€1,234.50"),
    ("{{day | date:long}}", "en_US", "May 3, 2026"),
    ("{{day | date:long}}", "de_DE", "3. Mai 2026"),
    ("{{name | upper}}", "en_US", "ZOË"),
    ("{{secret | default:n/a}}", "en_US", "n/a"),
    ("{{lines}}", "en_US", '[{"label": "line 0", "qty": 0}, {"label": "line 1", "qty": 1}, '
                           '{"label": "line 2", "qty": 2}]'),
])
def test_formatters_follow_the_locale(template, locale, expected):
    assert interpolate(template, DATA, locale) == expected


def test_inline_markup_comes_from_the_template_never_from_the_data():
    result = markup("**Hi {{name}}** see [docs](https://x.dev/a)", {"name": "<b>*x*</b> & **y**"})
    assert result == ('<b>Hi &lt;b&gt;*x*&lt;/b&gt; &amp; **y**</b> see '
                      '<link href="https://x.dev/a" color="#1a56db"><u>docs</u></link>')


def test_header_and_footer_on_every_page_with_page_x_of_y():
    reader = pdf({
                     "header": [{"type": "text", "text": "Report for {{name}}"}],
                     "footer": [{"type": "text", "text": "Page {{page}} of {{pages}}"}],
                     "body": [{"type": "text", "text": "one"}, {"type": "pagebreak"},
                              {"type": "text", "text": "two"}, {"type": "pagebreak"},
                              {"type": "text", "text": "three"}]})
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) == 3
    for number, page in enumerate(pages, 1):
        assert "Report for Zoë" in page and f"Page {number} of 3" in page


def test_conditions_and_loops():
    layout = body({"type": "if", "test": "vip", "then": [{"type": "text", "text": "VIP"}],
                   "else": [{"type": "text", "text": "regular"}]},
                  {"type": "if", "test": {"path": "currency", "equals": "EUR"},
                   "then": [{"type": "text", "text": "euro"}]},
                  {"type": "each", "source": "lines", "as": "line",
                   "blocks": [{"type": "text", "text": "{{line.label}} x{{line.qty}}"}]})
    content = text(pdf(layout))
    assert "regular" in content and "VIP" not in content and "euro" in content
    assert [line for line in content.splitlines() if line.startswith("line")] == [
        "line 0 x0", "line 1 x1", "line 2 x2"]


def test_tables_with_totals_and_formats():
    layout = body({"type": "table", "source": "lines", "as": "l", "zebra": True, "columns": [
        {"header": "Label", "text": "{{l.label | upper}}"},
        {"header": "Qty", "text": "{{l.qty | number:1}}", "align": "right", "width": 50}],
        "totals": ["Sum", "{{amount | number:0}}"]})
    content = text(pdf(layout)).split()
    assert content[:2] == ["Label", "Qty"] and "LINE 2" in " ".join(content)
    assert content[-2:] == ["Sum", "1,234"] or content[-2:] == ["Sum", "1,235"]


def test_metadata_and_password_protection():
    layout = body({"type": "text", "text": "classified"},
                  metadata={"title": "For {{name}}", "author": "Craftkit"},
                  protect={"password": "{{secret}}"})
    lint(layout, MANIFEST)
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(layout, {**DATA, "secret": "s3cret"})))
    assert reader.is_encrypted
    assert reader.decrypt("wrong") == 0
    assert reader.decrypt("s3cret") != 0
    assert "classified" in reader.pages[0].extract_text()
    assert reader.metadata.title == "For Zoë" and reader.metadata.author == "Craftkit"
    with pytest.raises(RenderError, match="password is empty"):
        render_pdf(layout, DATA)


def test_watermark_only_when_its_condition_holds():
    layout = body({"type": "text", "text": "x"}, watermark={"text": "DRAFT", "if": "vip"})
    assert "DRAFT" not in text(pdf(layout))
    assert "DRAFT" in text(pdf(layout, data={**DATA, "vip": True}))


def test_greek_and_cyrillic_render_with_an_embedded_font():
    data = {**DATA, "name": "Ωμέγα Привет"}
    reader = pdf(body({"type": "text", "text": "{{name}}"}), data=data)
    assert "Ωμέγα Привет" in text(reader)
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    assert fonts and all("/FontFile2" in f["/FontDescriptor"] for f in fonts)


def test_a_character_no_font_covers_fails_naming_it():
    with pytest.raises(RenderError, match=r"has a glyph for '🧾' \(U\+1F9FE RECEIPT\)"):
        pdf(body({"type": "text", "text": "{{name}}"}), data={**DATA, "name": "Paid 🧾"})
    with pytest.raises(RenderError, match=r"U\+10000 LINEAR B"):
        pdf(body({"type": "text", "text": "x"}, font="Helvetica", footer=[
            {"type": "text", "text": "{{name}}"}]), data={**DATA, "name": "\U00010000"})


def test_qr_codes_and_barcodes():
    layout = body({"type": "qr", "value": "https://x.dev/{{name}}"},
                  {"type": "barcode", "value": "ABC-{{amount}}", "kind": "code128"},
                  {"type": "barcode", "value": "400638133393", "kind": "ean13"})
    assert len(pdf(layout).pages) == 1
    with pytest.raises(RenderError, match="is not an EAN-13"):
        pdf(body({"type": "barcode", "value": "{{name}}", "kind": "ean13"}))
    with pytest.raises(RenderError, match="not printable ASCII"):
        pdf(body({"type": "barcode", "value": "{{name}}"}))  # Zoë


@pytest.mark.parametrize("limits, message", [
    (Limits(max_pages=2), "longer than 2 pages"),
    (Limits(max_rows=100), "more than 100 rows"),
    (Limits(seconds=0.0), "longer than 0 s"),
])
def test_limits_fail_the_render_and_say_which(limits, message):
    data = {**DATA, "lines": [{"label": f"l{i}", "qty": i} for i in range(300)]}
    layout = body({"type": "table", "source": "lines", "as": "l",
                   "columns": [{"header": "L", "text": "{{l.label}}"}]})
    with pytest.raises(RenderError, match=message):
        pdf(layout, data=data, limits=limits)


@pytest.mark.parametrize("layout, where, message", [
    (body({"type": "text", "text": "{{amount | date}}"}), "layout.body.0.text",
     "date applies to date or datetime fields, not number"),
    (body({"type": "text", "text": "{{amount | currency}}"}), "layout.body.0.text", "ISO 4217"),
    (body({"type": "text", "text": "{{amount | currency:name2}}"}), "layout.body.0.text",
     "not a text field"),
    (body({"type": "text", "text": "{{name | shout}}"}), "layout.body.0.text", "unknown filter"),
    (body({"type": "text", "text": "{{page}}"}), "layout.body.0.text", "only in headers"),
    (body({"type": "each", "source": "lines", "as": "l",
           "blocks": [{"type": "text", "text": "{{l.price}}"}]}), "layout.body.0.blocks.0.text",
     "{{l.price}} is not a field"),
    (body({"type": "if", "test": "nope", "then": [{"type": "spacer"}]}), "layout.body.0.test",
     "nope is not a field"),
    (body({"type": "barcode", "value": "x", "kind": "qr"}), "layout.body.0.kind", "must be one of"),
    (body({"type": "table", "source": "lines", "columns": [{"text": "x"}], "totals": []}),
     "layout.body.0.totals", "one text per column"),
    (body({"type": "text", "text": "x"}, locale="xx_YY"), "layout.locale", "not a known locale"),
    (body({"type": "text", "text": "x"}, font="Comic"), "layout.font", "must be one of"),
    (body({"type": "text", "text": "x"}, watermark={"text": "x", "opacity": 5}),
     "layout.watermark.opacity", "from 0.01 to 1"),
    (body({"type": "text", "text": "x"}, page={"margin": {"top": 10, "middle": 3}}),
     "layout.page.margin", "Unrecognized key"),
])
def test_lint_names_each_problem(layout, where, message):
    with pytest.raises(InvalidTemplate) as caught:
        lint(layout, MANIFEST)
    assert any(message in m for m in caught.value.field_errors[where]), caught.value.field_errors


def test_markup_cannot_read_files_or_reach_the_network():
    """ReportLab paragraphs understand <img src>; neither templates nor data can reach it."""
    layout = body({"type": "text", "text": '<img src="/etc/passwd"/> {{name}}'})
    data = {**DATA, "name": '<img src="https://example.com/x.png"/>'}
    content = text(pdf(layout, data=data))
    assert '<img src="/etc/passwd"/>' in content and "https://example.com/x.png" in content


def test_the_first_minimal_layout_still_lints_and_renders():
    """The layout of the pipeline's first version (title, text, table) is a subset of today's."""
    manifest = Manifest.parse({"fields": {
        "customer.name": {"type": "string"}, "items": {"type": "array"},
        "items[].name": {"type": "string"}, "items[].qty": {"type": "integer"},
        "items[].price": {"type": "number"}, "total": {"type": "number"}}})
    first = {"page": {"size": "A4", "margin": 48}, "body": [
        {"type": "title", "text": "Invoice"},
        {"type": "text", "text": "Bill to: {{customer.name}}", "size": 12},
        {"type": "table", "source": "items", "as": "item", "columns": [
            {"header": "Item", "text": "{{item.name}}"},
            {"header": "Qty", "text": "{{item.qty}}", "align": "right", "width": 60},
            {"header": "Price", "text": "{{item.price}}", "align": "right", "width": 90}]},
        {"type": "text", "text": "Total: {{total}}", "align": "right", "bold": True, "size": 12}]}
    lint(first, manifest)
    seed = {"customer": {"name": "Acme Corp"},
            "items": [{"name": "Widget", "qty": 5, "price": 9.99}], "total": 49.95}
    content = text(pypdf.PdfReader(io.BytesIO(render_pdf(first, manifest.validate(seed)))))
    for expected in ("Invoice", "Bill to: Acme Corp", "Widget", "9.99", "Total: 49.95"):
        assert expected in content


# -------------------------------------------------------------- links, grid, flow across pages

import pdfplumber  # noqa: E402

LINKS = Manifest.parse({"fields": {"url": {"type": "string"}, "lines": {"type": "array"},
                                   "lines[].url": {"type": "string"}}})


def link_targets(layout: dict, data: dict) -> tuple[list[str], str]:
    lint(layout, LINKS)
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(layout, data)))
    uris = [annotation.get_object()["/A"]["/URI"] for page in reader.pages
            for annotation in page.get("/Annots", [])]
    return uris, text(reader)


def test_links_take_their_url_from_data_only_when_it_is_http_https_or_mailto():
    layout = body({"type": "text", "text": "[{{url}}]({{url}}) and [Pay now]({{url}})"},
                  {"type": "table", "source": "lines", "as": "line",
                   "columns": [{"header": "Link", "text": "[open]({{line.url}})"}]})
    good = "https://pay.example.com/i/42?a=1&b=**2**"
    uris, shown = link_targets(layout, {"url": good, "lines": [{"url": "mailto:a@example.com"}]})
    assert uris == [good, good, "mailto:a@example.com"]
    assert good in shown and "Pay now" in shown
    for bad in ("javascript:alert(1)", "data:text/html,x", "/pay/42", 'https://x" onclick="y'):
        uris, shown = link_targets(layout, {"url": bad, "lines": [{"url": bad}]})
        assert uris == [], bad
        assert "Pay now" in shown and "open" in shown and "](" not in shown


def positions(layout: dict, data: dict = DATA) -> list[list[dict]]:
    lint(layout, MANIFEST)
    with pdfplumber.open(io.BytesIO(render_pdf(layout, data))) as document:
        return [page.extract_words(extra_attrs=["fontname", "size"]) for page in document.pages]


def test_header_footer_and_body_share_the_content_box():
    layout = body({"type": "text", "text": "body-left"},
                  {"type": "text", "text": "body-right", "align": "right"},
                  header=[{"type": "text", "text": "head-left"},
                          {"type": "text", "text": "head-right", "align": "right"}],
                  footer=[{"type": "text", "text": "foot-left"},
                          {"type": "text", "text": "foot-right", "align": "right"}],
                  page={"margin": {"top": 60, "right": 40, "bottom": 60, "left": 70}})
    found = {w["text"]: w for w in positions(layout)[0]}
    for part in ("body", "head", "foot"):
        assert found[f"{part}-left"]["x0"] == pytest.approx(70, abs=0.5), part
        assert found[f"{part}-right"]["x1"] == pytest.approx(595.2756 - 40, abs=0.5), part


def test_a_paragraph_split_over_two_pages_leaves_no_line_alone():
    paragraph = " ".join(f"w{i:03d}" for i in range(160))  # about 12 lines
    for filler in range(580, 744, 6):
        pages = positions(body({"type": "spacer", "height": filler},
                               {"type": "text", "text": paragraph}))
        counts = [len({round(w["top"]) for w in page if w["text"].startswith("w")})
                  for page in pages]
        assert all(count == 0 or count >= 2 for count in counts), (filler, counts)
        assert [w["text"] for page in pages for w in page] == paragraph.split()


@pytest.mark.parametrize("following", [
    {"type": "text", "text": "first line of the next block\nsecond line"},
    {"type": "table", "source": "lines", "as": "line",
     "columns": [{"header": "Label", "text": "{{line.label}}"}]},
])
def test_a_heading_is_never_the_last_thing_on_a_page(following):
    for filler in range(640, 745, 5):
        pages = positions(body({"type": "spacer", "height": filler},
                               {"type": "heading", "text": "Heading"}, following))
        page = next(p for p in pages if any(w["text"] == "Heading" for w in p))
        assert page[-1]["text"] != "Heading", filler


def test_keep_with_next_is_settable_on_any_block():
    for filler in range(640, 745, 5):
        pages = positions(body({"type": "spacer", "height": filler},
                               {"type": "text", "text": "Caption", "keepWithNext": True},
                               {"type": "text", "text": "one\ntwo\nthree"}))
        page = next(p for p in pages if any(w["text"] == "Caption" for w in p))
        assert page[-1]["text"] != "Caption", filler


def test_spacing_takes_points_or_a_step_of_the_scale():
    def gap(height) -> float:
        found = {w["text"]: w for w in positions(body(
            {"type": "text", "text": "above", "spaceAfter": 0},
            {"type": "spacer", "height": height}, {"type": "text", "text": "below"}))[0]}
        return found["below"]["top"] - found["above"]["top"]
    assert gap("xl") - gap("xs") == pytest.approx(32 - 4, abs=0.1)
    assert gap("md") == pytest.approx(gap(12), abs=0.1)


@pytest.mark.parametrize("block, where, message", [
    ({"type": "spacer", "height": "huge"}, "layout.body.0.height", "xs, sm, md, lg, xl"),
    ({"type": "text", "text": "x", "spaceAfter": -1}, "layout.body.0.spaceAfter", "from 0 to 200"),
    ({"type": "text", "text": "x", "keepWithNext": "yes"}, "layout.body.0.keepWithNext", "boolean"),
    ({"type": "columns", "gap": "wide", "columns": [{"blocks": [{"type": "text", "text": "x"}]}]},
     "layout.body.0.gap", "spacing scale"),
    ({"type": "pagebreak", "keepWithNext": True}, "layout.body.0", "keepWithNext"),
])
def test_lint_names_bad_spacing_and_keep_with_next(block, where, message):
    with pytest.raises(InvalidTemplate) as caught:
        lint(body(block), MANIFEST)
    assert any(message in m for m in caught.value.field_errors[where]), caught.value.field_errors


@pytest.mark.parametrize("template, expected", [
    ("***both*** x", "<b><i>both</i></b><i></i> x"),
    ("**a *b** c*", "<b>a <i>b</i></b><i> c</i>"),
    ("*a **b* c**", "<i>a <b>b</b></i><b> c</b>"),
    ("**a [b** c](https://e.com)", '<b>a <link href="https://e.com" color="#1a56db"><u>b</u>'
     '</link></b><link href="https://e.com" color="#1a56db"><u> c</u></link>'),
])
def test_overlapping_marks_make_nested_tags_and_render(template, expected):
    """ReportLab's parser fails on crossed tags (`<b><i>x</b></i>`): the render failed with
    "the renderer failed: ValueError: … Parse error: saw </b> instead of expected </i>"."""
    assert markup(template, {}) == expected
    assert "both" in text(pdf(body({"type": "text", "text": template},
                                   {"type": "text", "text": "both"})))
    layout = body({"type": "table", "source": "lines", "as": "line",
                   "columns": [{"header": "x", "text": template + " {{line.label}}"}]})
    assert "line 2" in text(pdf(layout))
