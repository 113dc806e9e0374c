"""The layout language: a JSON document that says what a template's PDF looks like.

    {"page": {"size": "A4", "orientation": "portrait", "margin": 48},
     "body": [
        {"type": "title", "text": "Invoice"},
        {"type": "text", "text": "Bill to: {{customer.name}}"},
        {"type": "table", "source": "items", "as": "item", "columns": [
            {"header": "Item", "text": "{{item.name}}"},
            {"header": "Qty", "text": "{{item.qty}}", "align": "right", "width": 60}]},
        {"type": "text", "text": "Total: {{total}}", "align": "right"}]}

Blocks are a list, each with a `type`; new block types add an entry to BLOCKS (a checker) and to
`_flowables` (a renderer). `{{path}}` reads the render's data by dotted path; inside a table the
row is bound to the name given by `as` (default `item`). `lint` checks structure and every path
against the manifest before a version is accepted, so rendering fails only on what data can do.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from xml.sax.saxutils import escape

from craftkit.errors import InvalidTemplate
from craftkit.manifest import Manifest

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
PAGE_SIZES = {"A4": (595.2756, 841.8898), "Letter": (612.0, 792.0), "Legal": (612.0, 1008.0),
              "A5": (419.5276, 595.2756)}
ALIGNS = ("left", "center", "right")


class RenderError(Exception):
    """The render cannot be produced from this data; the message is shown to the user."""


# ---------------------------------------------------------------------------------------- lint

def lint(layout: object, manifest: Manifest) -> None:
    """Raises InvalidTemplate naming the JSON path of every problem in the layout."""
    problems: dict[str, list[str]] = {}

    def problem(where: str, message: str) -> None:
        problems.setdefault(where, []).append(message)

    if not isinstance(layout, dict):
        raise InvalidTemplate("layout must be a JSON object",
                              field_errors={"layout": ["Expected object"]})
    _unknown(layout, {"page", "body"}, "layout", problem)
    page = layout.get("page", {})
    if not isinstance(page, dict):
        problem("layout.page", "Expected object")
    else:
        _unknown(page, {"size", "orientation", "margin"}, "layout.page", problem)
        if page.get("size", "A4") not in PAGE_SIZES:
            problem("layout.page.size", f"must be one of {', '.join(PAGE_SIZES)}")
        if page.get("orientation", "portrait") not in ("portrait", "landscape"):
            problem("layout.page.orientation", "must be portrait or landscape")
        margin = page.get("margin", 48)
        if received_number(margin) is None or not 0 <= margin <= 200:
            problem("layout.page.margin", "must be a number of points from 0 to 200")
    body = layout.get("body")
    if not isinstance(body, list) or not body:
        problem("layout.body", "Expected a non-empty array of blocks")
        body = []
    paths = manifest.paths()
    for index, block in enumerate(body):
        where = f"layout.body.{index}"
        if not isinstance(block, dict) or block.get("type") not in BLOCKS:
            problem(f"{where}.type", f"must be one of {', '.join(BLOCKS)}")
            continue
        BLOCKS[block["type"]](block, where, paths, problem)
    if problems:
        raise InvalidTemplate("the layout is not valid", field_errors=problems)


def received_number(value: object) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _unknown(obj: dict, allowed: set[str], where: str, problem) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        problem(where, "Unrecognized key(s) in object: " + ", ".join(f"'{k}'" for k in extra))


def _text(value: object, where: str, paths: set[str], problem, scope: dict[str, str]) -> None:
    if not isinstance(value, str):
        problem(where, "Expected string")
        return
    for path in PLACEHOLDER.findall(value):
        head, _, rest = path.partition(".")
        resolved = f"{scope[head]}[]" + (f".{rest}" if rest else "") if head in scope else path
        if resolved not in paths:
            problem(where, f"{{{{{path}}}}} is not a field of the manifest")


def _check_title(block, where, paths, problem) -> None:
    _unknown(block, {"type", "text"}, where, problem)
    _text(block.get("text"), f"{where}.text", paths, problem, {})


def _check_text(block, where, paths, problem) -> None:
    _unknown(block, {"type", "text", "align", "size", "bold"}, where, problem)
    _text(block.get("text"), f"{where}.text", paths, problem, {})
    if block.get("align", "left") not in ALIGNS:
        problem(f"{where}.align", f"must be one of {', '.join(ALIGNS)}")
    size = block.get("size", 10)
    if received_number(size) is None or not 4 <= size <= 72:
        problem(f"{where}.size", "must be a font size from 4 to 72")
    if not isinstance(block.get("bold", False), bool):
        problem(f"{where}.bold", "Expected boolean")


def _check_table(block, where, paths, problem) -> None:
    _unknown(block, {"type", "source", "as", "columns"}, where, problem)
    source, name = block.get("source"), block.get("as", "item")
    if not isinstance(source, str) or f"{source}[]" not in paths:
        problem(f"{where}.source", "must name an array field of the manifest")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        problem(f"{where}.as", "must be a simple name")
        name = "item"
    columns = block.get("columns")
    if not isinstance(columns, list) or not columns:
        problem(f"{where}.columns", "Expected a non-empty array of columns")
        return
    for index, column in enumerate(columns):
        at = f"{where}.columns.{index}"
        if not isinstance(column, dict):
            problem(at, "Expected object")
            continue
        _unknown(column, {"header", "text", "align", "width"}, at, problem)
        if not isinstance(column.get("header", ""), str):
            problem(f"{at}.header", "Expected string")
        _text(column.get("text"), f"{at}.text", paths, problem, {name: source})
        if column.get("align", "left") not in ALIGNS:
            problem(f"{at}.align", f"must be one of {', '.join(ALIGNS)}")
        width = column.get("width")
        if width is not None and (received_number(width) is None or width <= 0):
            problem(f"{at}.width", "must be a positive number of points")


BLOCKS: dict[str, Callable] = {"title": _check_title, "text": _check_text, "table": _check_table}


# -------------------------------------------------------------------------------------- render

def _styles():
    from reportlab.lib.styles import getSampleStyleSheet
    sheet = getSampleStyleSheet()
    return {"title": sheet["Title"], "text": sheet["Normal"]}


_STYLES = None


def interpolate(template: str, scope: dict) -> str:
    def value(match: re.Match) -> str:
        node: object = scope
        for part in match.group(1).split("."):
            if not isinstance(node, dict) or part not in node:
                return ""
            node = node[part]
        return format_value(node)

    return PLACEHOLDER.sub(value, template)


def format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render_pdf(layout: dict, data: dict, *, title: str = "") -> bytes:
    """The PDF for `data`, as bytes."""
    from reportlab.lib.pagesizes import landscape
    from reportlab.platypus import SimpleDocTemplate
    from reportlab.platypus.doctemplate import LayoutError

    page = layout.get("page", {})
    size = PAGE_SIZES[page.get("size", "A4")]
    if page.get("orientation") == "landscape":
        size = landscape(size)
    margin = page.get("margin", 48)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=size, leftMargin=margin, rightMargin=margin,
                            topMargin=margin, bottomMargin=margin, title=title,
                            creator="Craftkit", invariant=1)
    story = [f for block in layout["body"] for f in _flowables(block, data, doc.width)]
    try:
        doc.build(story)
    except LayoutError as exc:
        raise RenderError("a table row or block is taller than a page and cannot be split across "
                          "pages; shorten the data that fills it (for example fewer lines in one "
                          "cell)") from exc
    return out.getvalue()


def _flowables(block: dict, data: dict, width: float) -> list:
    from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Spacer

    global _STYLES
    _STYLES = _STYLES or _styles()
    align = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT}
    kind = block["type"]
    if kind == "title":
        return [Paragraph(escape(interpolate(block["text"], data)), _STYLES["title"])]
    if kind == "text":
        size = block.get("size", 10)
        style = ParagraphStyle(
            "text", parent=_STYLES["text"], fontSize=size, leading=size * 1.25,
            alignment=align[block.get("align", "left")],
            fontName="Helvetica-Bold" if block.get("bold") else "Helvetica")
        return [Paragraph(escape(interpolate(block["text"], data)), style), Spacer(0, size * 0.5)]
    if kind == "table":
        return [_table(block, data), Spacer(0, 8)]
    raise RenderError(f"unknown block type {kind!r}")


def _table(block: dict, data: dict):
    from craftkit.tables import Columns, TableStream

    rows = _lookup(data, block["source"])
    if not isinstance(rows, list):
        raise RenderError(f"table source {block['source']!r} is not an array in the data")
    name, columns = block.get("as", "item"), block["columns"]
    cells = [[interpolate(c["text"], {**data, name: row}) for c in columns] for row in rows]
    return TableStream(
        [c.get("header", "") for c in columns], cells,
        Columns(widths=[c.get("width") for c in columns],
                aligns=[c.get("align", "left").upper() for c in columns]))


def _lookup(data: dict, path: str) -> object:
    node: object = data
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
