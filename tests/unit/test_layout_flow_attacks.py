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
    small, large = seconds(200), seconds(1600)
    assert large < 16 * small, (small, large)  # 8x the blocks; quadratic is 64x
