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
