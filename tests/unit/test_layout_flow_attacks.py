"""Hostile layouts and data for text flow: each test failed before its fix (issue 10 review)."""

from __future__ import annotations

import io
import time

import pdfplumber
import pytest

from craftkit.layout import RenderError, lint, render_pdf
from craftkit.manifest import Manifest

MANIFEST = Manifest.parse({"fields": {
    "items": {"type": "array"}, "items[].name": {"type": "string"},
    "url": {"type": "string", "required": False}}})


def render(layout: dict, data: dict | None = None) -> bytes:
    lint(layout, MANIFEST)
    return render_pdf(layout, data or {})


def words(pdf: bytes) -> list[list[dict]]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [page.extract_words(extra_attrs=["fontname"]) for page in document.pages]


def table(text: str = "{{item.name}}", **extra) -> dict:
    return {"type": "table", "source": "items", "columns": [
        {"header": "Item", "text": text}, {"header": "More", "text": "x", "width": 60}], **extra}


# ------------------------------------------------------------------ inline markup that overlaps

@pytest.mark.parametrize("template, shown", [
    ("***bold italic***", "bold italic"), ("**a *b** c*", "a b c"), ("*a **b* c**", "a b c"),
    ("[**x](https://a.example) **", "x"), ("*a [b*](https://a.example)", "a b"),
    ("[a **b](https://a.example) c**", "a b c"), ("**a [b**]({{url}})", "a b"),
])
@pytest.mark.parametrize("where", ["text", "cell", "totals"])
def test_overlapping_marks_render_their_words_in_order(template, shown, where):
    """Bold, italic and links that overlap (`***x***`, a bold mark inside a link's label) lint,
    so they must render: they made ReportLab's paragraph parser fail ("saw </b> instead of
    expected </i>"), a ValueError that no template author could act on."""
    layout = {"body": [{"type": "text", "text": template}] if where == "text" else
              [table(template) if where == "cell" else table(totals=[template, ""])]}
    pdf = render(layout, {"url": "https://b.example", "items": [{"name": "n"}]})
    found = [w["text"] for page in words(pdf) for w in page]
    expected = shown.split()
    assert any(found[i:i + len(expected)] == expected for i in range(len(found))), found


# ------------------------------------------------------------------ chains of keepWithNext blocks

def chain(count: int) -> tuple[dict, dict]:
    """A heading per element of the data: `count` blocks in a row that keep with the next."""
    layout = {"body": [{"type": "each", "source": "items", "blocks": [
        {"type": "heading", "level": 3, "text": "{{item.name}}"}]},
        {"type": "text", "text": "end"}]}
    return layout, {"items": [{"name": f"h{i:05d}"} for i in range(count)]}


def test_a_long_chain_of_blocks_kept_with_the_next_renders_every_block_once_in_order():
    """Each heading was nested in the previous one's KeepWithNext: 1,000 of them (from the
    data, through `each`) raised RecursionError, and 100 of them took 86 pages, one heading on
    each (a chain taller than a page moved on to the next page, one block at a time)."""
    layout, data = chain(3000)
    pages = words(render(layout, data))
    assert [w["text"] for page in pages for w in page] == [f"h{i:05d}" for i in range(3000)] + ["end"]
    assert len(pages) < 3000 * 22 / 740 + 5  # 21.75 pt a heading, 746 pt a page
    layout, data = chain(100)
    assert len(words(render(layout, data))) == 3


def test_a_chain_of_blocks_kept_with_the_next_lays_out_in_linear_time():
    """Every page re-measured the whole rest of the chain: 100 headings took 0.15 s, 500 took
    2.9 s."""
    def seconds(count: int) -> float:
        layout, data = chain(count)
        lint(layout, MANIFEST)
        started = time.perf_counter()
        render_pdf(layout, data)
        return time.perf_counter() - started

    seconds(50)  # warm up
    small, large = min(seconds(200) for _ in range(3)), min(seconds(1600) for _ in range(2))
    assert large < 24 * small, (small, large)  # 8x the blocks; quadratic is 64x


# ------------------------------------------------------------------ column widths past the page

LEFT, RIGHT = 48, 595.2756 - 48  # A4's content box with the default margins


def letters_table(widths: list[float | None]) -> dict:
    """A table whose column i shows letter i: where each letter lands tells its column."""
    return {"type": "table", "source": "items", "columns": [
        {"header": chr(65 + i), "text": chr(65 + i) * 3 + " {{item.name}}",
         **({"width": width} if width else {})} for i, width in enumerate(widths)]}


@pytest.mark.parametrize("widths", [[500, 200, None], [400, 400], [300, None, 300, None]])
def test_column_widths_past_the_content_box_shrink_to_fit_it(widths):
    """Fixed widths that add up past the content box put the last columns past the right
    margin and off the page (x = 754 on a 595 pt page)."""
    pdf = render({"body": [letters_table(widths)]}, {"items": [{"name": "word " * 20}]})
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        chars = [c for page in document.pages for c in page.chars]
    assert {c["text"] for c in chars} >= {chr(65 + i) for i in range(len(widths))}
    assert all(LEFT - 0.5 <= c["x0"] and c["x1"] <= RIGHT + 0.5 for c in chars), \
        sorted({(c["text"], round(c["x0"])) for c in chars if c["x1"] > RIGHT + 0.5})[:5]


@pytest.mark.parametrize("widths", [[7] * 10, [None] * 26, [None, 8, 8, None]])
def test_a_column_narrower_than_its_gutter_keeps_its_text_inside(widths):
    """A column narrower than its 12 pt gutter drew its text at 6 pt from its left edge: past
    its right edge, over the next column's text."""
    pdf = render({"body": [letters_table(widths)]}, {"items": [{"name": "x"}]})
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        page = document.pages[0]
        table = [c for c in page.chars if c["text"].isupper()]
    edges = [LEFT]
    from craftkit.layout.tables import Columns
    for width in Columns(widths, ["LEFT"] * len(widths)).resolve(RIGHT - LEFT):
        edges.append(edges[-1] + width)
    for char in table:
        column = ord(char["text"]) - 65
        middle = (char["x0"] + char["x1"]) / 2
        assert edges[column] <= middle <= edges[column + 1], (char["text"], middle, edges[column:column + 2])


# ------------------------------------------------------------------ pages that hold one line

LABEL_ONE_LINE = {"size": "Label4x6", "margin": {"top": 200, "bottom": 200, "left": 10, "right": 10}}


@pytest.mark.parametrize("size", [10, 14, 20])
def test_a_page_that_holds_one_line_of_a_paragraph_still_takes_the_paragraph(size):
    """Widow and orphan control cannot be kept when a page (32 pt of content box) holds fewer
    than two lines: a 14 pt paragraph failed with "a block (an image, a code, or columns side by
    side) is taller than a page", though it was neither and each of its lines fitted."""
    paragraph = " ".join(f"w{i:03d}" for i in range(60))
    pdf = render({"page": LABEL_ONE_LINE, "body": [{"type": "text", "text": paragraph,
                                                     "size": size}]})
    assert [w["text"] for page in words(pdf) for w in page] == paragraph.split()


def test_a_spacer_taller_than_the_content_box_fills_one_page():
    """`spacer.height` lints up to 800 pt, more than A4's content box (746 pt): the render
    failed saying "an image, a code, or columns side by side" was taller than a page."""
    pdf = render({"body": [{"type": "text", "text": "before"}, {"type": "spacer", "height": 800},
                           {"type": "text", "text": "after"}]})
    assert [[w["text"] for w in page] for page in words(pdf)] == [["before"], [], ["after"]] or \
        [[w["text"] for w in page] for page in words(pdf)] == [["before"], ["after"]]


def test_a_block_too_tall_for_the_content_box_is_named_with_the_box_size():
    with pytest.raises(RenderError, match=r"content box, 268 x 32 pt"):
        render({"page": LABEL_ONE_LINE, "body": [{"type": "text", "text": "big", "size": 40}]})


@pytest.mark.parametrize("page, size", [
    ({"size": "Label4x6", "margin": 150}, "-12 x 132"),
    ({"size": "A6", "margin": {"left": 150, "right": 148}}, "-0.36 x 323.53"),
    ({"size": "Label4x6", "orientation": "landscape", "margin": {"top": 150, "bottom": 150}}, "336 x -12"),
])
def test_margins_that_leave_no_content_box_do_not_lint(page, size):
    """The margins (up to 200 pt each) could add up past the page: the render failed naming
    "an image, a code, or columns side by side" instead of the margins."""
    from craftkit.errors import InvalidTemplate
    with pytest.raises(InvalidTemplate) as caught:
        lint({"page": page, "body": [{"type": "text", "text": "x"}]}, MANIFEST)
    assert size in str(caught.value.field_errors["layout.page.margin"])


def test_breaking_a_long_word_measures_each_of_its_characters_once(monkeypatch):
    """A 10,000-character word was measured one character at a time (ReportLab's stringWidth
    is pure Python here, about 4 us a call): 400 rows of such cells took 10.7 s, 3.3 s now."""
    from craftkit.layout import tables
    calls = []

    def counting(text, font, size):
        calls.append(text)
        return stringWidth(text, font, size)

    from reportlab.pdfbase.pdfmetrics import stringWidth
    monkeypatch.setattr(tables, "stringWidth", counting)
    lines = tables.wrap_plain("0123456789" * 1000, "Helvetica", 10, 100)
    assert "".join(lines) == "0123456789" * 1000
    assert all(tables.stringWidth(line, "Helvetica", 10) <= 100 for line in lines)
    calls.clear()
    tables.wrap_plain("0123456789" * 1000, "Helvetica", 10, 100)
    assert len(calls) < 100


# ------------------------------------------------------------------ headers taller than margins

@pytest.mark.parametrize("margin", [10, 36, {"top": 30, "bottom": 30, "left": 48, "right": 48}])
def test_a_header_or_footer_taller_than_its_margin_does_not_overlap_the_body(margin):
    """The header is drawn from near the page's top edge down and the footer up from near its
    bottom, whatever their height: three lines of header in a 36 pt margin were printed over
    the body's first lines."""
    layout = {"page": {"margin": margin},
              "header": [{"type": "text", "text": "head one\nhead two\nhead three"}],
              "footer": [{"type": "text", "text": "foot one\nfoot two\nfoot three\nPage {{page}}"}],
              "body": [{"type": "text", "text": " ".join(f"b{i:04d}" for i in range(1500))}]}
    pages = words(render(layout))
    body = [w["text"] for page in pages for w in page if w["text"].startswith("b")]
    assert body == [f"b{i:04d}" for i in range(1500)]
    for page in pages:
        head = max(w["bottom"] for w in page if w["text"] == "three" and w["top"] < 200)
        foot = min(w["top"] for w in page if w["text"] == "foot")
        lines = [w for w in page if w["text"].startswith("b")]
        assert head <= min(w["top"] for w in lines), "header over the body"
        assert foot >= max(w["bottom"] for w in lines), "footer over the body"


def test_a_header_that_leaves_no_room_for_the_body_fails_saying_so():
    layout = {"page": {"size": "A6"}, "header": [{"type": "text", "text": "line\n" * 40}],
              "body": [{"type": "text", "text": "body"}]}
    with pytest.raises(RenderError, match="header and footer.*leave no room for the body"):
        render(layout)


# ------------------------------------------------------------------ long texts across pages

@pytest.mark.parametrize("layout", [
    {"body": [{"type": "each", "source": "items", "blocks": [
        {"type": "text", "text": "{{item.name}}", "align": "justify"}]}]},
    {"body": [table("**{{item.name}}**")]},
], ids=["text block", "table cell with markup"])
def test_a_long_text_from_the_data_lays_out_in_linear_time(layout, monkeypatch):
    """ReportLab lays out the whole rest of a paragraph again at every page it splits: a text
    block of 4,000 lines took 7 s and of 8,000 lines 37 s (1 MiB of data: past the time limit);
    a table cell with markup, 2.3 s and 10.4 s. Counted here: the lines laid out in all."""
    from reportlab.platypus.paragraph import Paragraph
    laid_out = []
    break_lines = Paragraph.breakLines

    def counting(self, width):
        result = break_lines(self, width)
        laid_out.append(len(result.lines))
        return result

    monkeypatch.setattr(Paragraph, "breakLines", counting)
    lines = 2000
    render(layout, {"items": [{"name": " ".join(f"w{i}" for i in range(lines * 12))}]})
    assert sum(laid_out) < 6 * lines, (sum(laid_out), len(laid_out))  # was 30 to 60 times


@pytest.mark.parametrize("block", [
    {"type": "each", "source": "items", "blocks": [{"type": "text", "text": "{{item.name}}"}]},
    table("**{{item.name}}**"), table("{{item.name}}"),
], ids=["text block", "cell with markup", "plain cell"])
def test_lines_of_a_long_text_follow_one_another_on_every_page(block):
    """Every page a text continued on started with an empty line (the line break that ended the
    previous page's last line), for text blocks and cells with markup alike."""
    lines = [f"line{i:04d}" for i in range(400)]
    layout, data = {"body": [block]}, {"items": [{"name": "\n".join(lines)}]}
    pages = words(render(layout, data))
    assert [w["text"] for page in pages for w in page if w["text"].startswith("line")] == lines
    tops = [[w["top"] for w in page if w["text"].startswith("line")] for page in pages]
    assert len(tops) > 3
    assert len({round(page[0], 1) for page in tops}) == 1, [page[0] for page in tops]
    for page in tops:  # one line after the other, no gap
        assert {round(b - a, 1) for a, b in zip(page, page[1:])} == {12.5 if block["type"] == "each" else 12.0}


@pytest.mark.parametrize("template", ["\ue0009\ue001", "[x](\ue0009\ue001)", "**\ue0000\ue001**",
                                      "{{url}} \ue0000\ue001 *i*"])
def test_the_private_characters_markup_holds_values_with_are_refused_in_a_template(template):
    """Markup holds values aside as U+E000 <n> U+E001: the same characters typed in a template
    raised IndexError, or showed a value twice. A template may not contain them: lint names
    them, and markup refuses them too (a layout stored before that check)."""
    from craftkit.errors import InvalidTemplate
    from craftkit.layout.text import TextError, markup
    for layout in ({"body": [{"type": "text", "text": template}]},
                   {"body": [table(template + " **b**")]}):
        with pytest.raises(InvalidTemplate) as caught:
            render(layout, {"url": "https://a.example", "items": [{"name": "n"}]})
        assert any("U+E000" in problem for problems in caught.value.field_errors.values()
                   for problem in problems)
    with pytest.raises(TextError, match="U\\+E000"):
        markup(template, {"url": "VALUE"})


@pytest.mark.parametrize("widths", [[499, None], [2000, None], [300, 300], [400, None, 200]])
def test_columns_side_by_side_wider_than_the_content_box_shrink_to_fit_it(widths):
    """`columns` widths that add up past the content box were centred on it and overflowed
    both margins: a 2,000 pt column put its text at x = -702, off the page."""
    layout = {"body": [{"type": "columns", "columns": [
        {**({"width": width} if width else {}), "blocks": [{"type": "text", "text": f"col{i} " * 3}]}
        for i, width in enumerate(widths)]}]}
    pdf = render(layout)
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        chars = [c for page in document.pages for c in page.chars]
    assert all(LEFT - 0.5 <= c["x0"] and c["x1"] <= RIGHT + 0.5 for c in chars), \
        sorted({(c["text"], round(c["x0"])) for c in chars if c["x0"] < LEFT - 0.5 or c["x1"] > RIGHT + 0.5})[:5]
    assert sum(c["text"] == "c" for c in chars) == 3 * len(widths)  # no word lost
