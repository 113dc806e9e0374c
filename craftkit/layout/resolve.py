"""Step 1 of a render: walk the blocks with the data. Conditions and loops expand, every text is
interpolated and formatted, table rows become cells. The result is plain data (dicts of strings),
and `texts` holds every text the document shows."""

from __future__ import annotations

import re
from html import unescape

from craftkit.layout import text
from craftkit.layout.errors import RenderError

TAG = re.compile(r"<[^>]+>")


class Resolver:
    def __init__(self, locale: str, limits) -> None:
        self.locale, self.limits = locale, limits
        self.texts: list[str] = []
        self.rows = 0

    def _markup(self, template: str, scope: dict) -> str:
        result = text.markup(template, scope, self.locale)
        self.texts.append(unescape(TAG.sub("", result)))
        return result

    def _plain(self, template: str, scope: dict) -> str:
        result = text.interpolate(template, scope, self.locale)
        self.texts.append(result)
        return result

    def blocks(self, blocks: list, scope: dict) -> list[dict]:
        out: list[dict] = []
        for block in blocks:
            out.extend(self.block(block, scope))
        return out

    def block(self, block: dict, scope: dict) -> list[dict]:
        kind = block["type"]
        if kind == "if":
            branch = "then" if truth(block["test"], scope) else "else"
            return self.blocks(block.get(branch, []), scope)
        if kind == "each":
            items = _array(scope, block["source"])
            return [b for item in items
                    for b in self.blocks(block["blocks"], {**scope, block.get("as", "item"): item})]
        if kind in ("title", "heading", "text"):
            return [{**block, "markup": self._markup(block["text"], scope)}]
        if kind == "table":
            rows = _array(scope, block["source"])
            self.rows += len(rows)
            if self.rows > self.limits.max_rows:
                raise RenderError(f"the tables have more than {self.limits.max_rows} rows "
                                  "(the row limit of this deployment); split the document", "rows")
            name, columns = block.get("as", "item"), block["columns"]
            # A column whose template has markup gives Paragraph markup, the others plain text
            # (the fast path: most cells of a long table are plain).
            kinds = [self._markup if text.has_markup(c["text"]) else self._plain for c in columns]
            cells = [[cell(c["text"], {**scope, name: row}) for cell, c in zip(kinds, columns)]
                     for row in rows]
            totals = ([self._markup(t, scope) if text.has_markup(t) else self._plain(t, scope)
                       for t in block["totals"]] if "totals" in block else None)
            headers = [c.get("header", "") for c in columns]
            self.texts.extend(headers)
            return [{**block, "headers": headers, "cells": cells, "footer": totals}]
        if kind in ("keep",):
            return [{**block, "blocks": self.blocks(block["blocks"], scope)}]
        if kind == "columns":
            return [{**block, "columns": [{**c, "blocks": self.blocks(c["blocks"], scope)}
                                          for c in block["columns"]]}]
        if kind in ("qr", "barcode"):
            return [{**block, "value": self._plain(block["value"], scope)}]
        return [block]


def _array(scope: dict, path: str) -> list:
    value = text.lookup(scope, path)
    return value if isinstance(value, list) else []


def truth(test: object, scope: dict) -> bool:
    test = {"path": test} if isinstance(test, str) else test
    value = text.lookup(scope, test["path"])
    result = value == test["equals"] if "equals" in test else value not in (None, False, 0, "", [], {})
    return not result if test.get("not") else result


def texts_of(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if "markup" in block:
            out.append(unescape(TAG.sub("", block["markup"])))
        out.extend(unescape(TAG.sub("", c)) if isinstance(c, text.Markup) else c
                   for row in [*block.get("cells", []), block.get("footer") or []] for c in row)
        for inner in [block.get("blocks", [])] + [c["blocks"] for c in block.get("columns", [])
                                                   if isinstance(c, dict) and "blocks" in c]:
            out.extend(texts_of(inner))
    return out


def watermark(mark, data: dict, locale: str) -> dict | None:
    if mark is None:
        return None
    mark = {"text": mark} if isinstance(mark, str) else mark
    if "if" in mark and not truth(mark["if"], data):
        return None
    return {**mark, "text": text.interpolate(mark["text"], data, locale)}

