"""Text in layouts: `{{path | filter:arg}}` placeholders, locale-aware formatters (babel), and the
inline markup of text blocks, table cells and totals (`**bold**`, `*italic*`, `[label](https://…)`).

Values from the data are always text: they are escaped after the markup of the template is
applied, so data can never inject markup. A link's URL may come from the data
(`[Pay now]({{payUrl}})`); it becomes a link only when it is an http, https or mailto URL, else
the label shows as plain text (a `javascript:` or relative URL is never clickable, and one bad
URL in a customer's record does not cost the whole document).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from xml.sax.saxutils import escape, unescape

# `{{ path | filter }}`; the spaces inside are stripped in code: a lazy group between `\s*`s
# backtracks cubically on an unclosed `{{` followed by spaces (2,000 of them took 8 s).
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")  # fullmatch: whole strings
FILTER = re.compile(r"([a-z]+)(?::(.*))?")
# Inline markup. No group can run past the next opening mark (`[`, `*`), so each scan from a
# mark ends at the next one and a paragraph is read in linear time, however many marks it has.
# A link's target starts with a scheme or with a placeholder (\ue000: a value held aside).
LINK = re.compile(r"\[([^\[\]]+)\]\(((?:https?://|mailto:|\ue000)[^)\s\[]*)\)")
SAFE_URL = re.compile(r"(?:https?://|mailto:)[^\s\x00-\x1f\x7f\"<>\\]+", re.IGNORECASE)
BOLD = re.compile(r"\*\*(.+?)\*\*")
ITALIC = re.compile(r"(?<![*\w])\*(?!\s)([^*]+?)(?<!\s)\*(?![*\w])")
DATE_STYLES = ("short", "medium", "long", "full")


class TextError(ValueError):
    """A placeholder or filter that cannot be applied; the message says which."""


# Filters: name -> (the kinds of value it takes, whether it needs an argument, apply(value, arg, locale)).
def _number(value, arg, locale):
    from babel.numbers import format_decimal
    if arg:
        return format_decimal(value, format=f"#,##0.{'0' * int(arg)}" if int(arg) else "#,##0",
                              locale=locale)
    return format_decimal(value, locale=locale)


def _currency(value, arg, locale):
    from babel.numbers import format_currency
    return format_currency(value, arg, locale=locale)


CURRENCY = re.compile(r"[A-Z]{3}")  # fullmatch


def _percent(value, arg, locale):
    from babel.numbers import format_percent
    return format_percent(value, format=f"#,##0.{'0' * int(arg)}%" if arg else None, locale=locale)


def _date(value, arg, locale):
    from babel.dates import format_date
    return format_date(_moment(value).date() if "T" in value.upper() else date.fromisoformat(value),
                       arg or "medium", locale=locale)


def _datetime(value, arg, locale):
    from babel.dates import format_datetime
    return format_datetime(_moment(value), arg or "medium", tzinfo=_moment(value).tzinfo,
                           locale=locale)


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


FILTERS = {
    "number": (("number", "integer"), _number),
    "currency": (("number", "integer"), _currency),
    "percent": (("number", "integer"), _percent),
    "date": (("date", "datetime"), _date),
    "datetime": (("datetime",), _datetime),
    "upper": (None, lambda value, arg, locale: format_value(value).upper()),
    "lower": (None, lambda value, arg, locale: format_value(value).lower()),
    "default": (None, lambda value, arg, locale: format_value(value) or arg),
}


def parse(expression: str) -> tuple[str, list[tuple[str, str | None]]]:
    """`path | f:arg | g` -> ("path", [("f", "arg"), ("g", None)]); TextError when malformed."""
    path, *filters = [part.strip() for part in expression.split("|")]
    if not PATH.fullmatch(path):
        raise TextError(f"{{{{{expression}}}}} does not start with a dotted path")
    parsed = []
    for item in filters:
        match = FILTER.fullmatch(item)
        if not match or match.group(1) not in FILTERS:
            raise TextError(f"unknown filter {item!r}; filters: {', '.join(FILTERS)}")
        parsed.append((match.group(1), match.group(2)))
    return path, parsed


def check_filter(name: str, arg: str | None, kind: str | None) -> str | None:
    """Why `name:arg` cannot apply to a value of manifest type `kind` (None: fine)."""
    kinds, _ = FILTERS[name]
    if kinds is not None and kind is not None and kind not in kinds:
        return f"filter {name} applies to {' or '.join(kinds)} fields, not {kind}"
    if name == "currency" and not (arg and (CURRENCY.fullmatch(arg) or PATH.fullmatch(arg))):
        return "currency needs an ISO 4217 code or the path of a field holding one: currency:EUR"
    if name in ("number", "percent") and arg is not None and not re.fullmatch(r"[0-9]", arg):
        return f"{name} takes the number of decimals, 0 to 9: {name}:2"
    if name in ("date", "datetime") and arg is not None and arg not in DATE_STYLES:
        return f"{name} takes one of {', '.join(DATE_STYLES)}"
    if name == "default" and arg is None:
        return "default needs the text to show: default:n/a"
    return None


def lookup(scope: dict, path: str) -> object:
    node: object = scope
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def evaluate(expression: str, scope: dict, locale: str) -> str:
    path, filters = parse(expression)
    value = lookup(scope, path)
    for name, arg in filters:
        if value is None or value == "":
            if name == "default":
                value = arg
            continue
        if name == "currency" and not CURRENCY.fullmatch(arg):
            arg = format_value(lookup(scope, arg))  # the code is in the data
        try:
            value = FILTERS[name][1](value, arg, locale)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise TextError(f"{{{{{expression}}}}}: {name} cannot format {value!r} ({exc})") from None
    # CLDR's narrow no-break space (French digit groups, English times) looks like the plain
    # no-break space, which the standard PDF fonts have: no font needs embedding for it.
    return format_value(value).replace("\u202f", "\u00a0")


def interpolate(template: str, scope: dict, locale: str = "en_US") -> str:
    """Plain text: every placeholder replaced by its formatted value."""
    return PLACEHOLDER.sub(lambda m: evaluate(m.group(1).strip(), scope, locale), template)


class Markup(str):
    """ReportLab paragraph markup (escaped text with tags), as opposed to a plain str."""


HELD = re.compile("\ue000(\\d+)\ue001")
RESERVED = re.compile("[\ue000\ue001]")
"""What HELD is made of: refused in a template (lint, and markup() for layouts stored before)."""


def markup(template: str, scope: dict, locale: str = "en_US") -> Markup:
    """ReportLab paragraph markup: the template's inline markup applied, values escaped, line
    breaks (the template's and the data's) kept."""
    if RESERVED.search(template):  # lint refuses it; a layout stored before it did
        raise TextError("a text holds U+E000 or U+E001, private-use characters the renderer "
                        "reserves; remove them from the template")
    raw: list[str] = []

    def hold(match: re.Match) -> str:
        raw.append(evaluate(match.group(1).strip(), scope, locale))
        return f"\ue000{len(raw) - 1}\ue001"

    def link(match: re.Match) -> str:
        url = HELD.sub(lambda m: raw[int(m.group(1))], unescape(match.group(2))).strip()
        if not SAFE_URL.fullmatch(url):
            return match.group(1)  # not a URL a reader may follow: the label, as plain text
        raw.append(url)  # held aside, so the bold and italic marks never look inside it
        return f'<link href="\ue000{len(raw) - 1}\ue001" color="#1a56db"><u>{match.group(1)}</u></link>'

    text = LINK.sub(link, escape(PLACEHOLDER.sub(hold, template)))
    text = BOLD.sub(r"<b>\1</b>", text)
    text = _nest(ITALIC.sub(r"<i>\1</i>", text))
    text = HELD.sub(lambda m: escape(raw[int(m.group(1))], {'"': "&quot;"}), text)
    return Markup(text.replace("\n", "<br/>"))


TAG = re.compile(r"<(/?)(b|i|u|link)\b[^>]*>")


def _nest(text: str) -> str:
    """The tags of `text` properly nested. Marks may overlap (`***x***` gives `<b><i>x</b></i>`,
    `[**x](…) **` a bold tag across the end of a link), which ReportLab's paragraph parser
    refuses; where a tag closes over another still open, the inner one is closed first and
    opened again after, as browsers do with HTML. Data never adds tags (it is escaped), and the
    marks never nest more than four deep (link, u, b, i), so this is linear."""
    out, open_tags, position = [], [], 0
    for match in TAG.finditer(text):
        out.append(text[position:match.start()])
        position = match.end()
        closing, name = match.group(1), match.group(2)
        if not closing:
            open_tags.append((name, match.group(0)))
            out.append(match.group(0))
            continue
        if all(open_name != name for open_name, _ in open_tags):
            continue  # nothing to close
        reopen = []
        while open_tags[-1][0] != name:
            reopen.append(open_tags.pop())
            out.append(f"</{reopen[-1][0]}>")
        open_tags.pop()
        out.append(match.group(0))
        for tag in reversed(reopen):
            open_tags.append(tag)
            out.append(tag[1])
    out.append(text[position:])
    out.extend(f"</{name}>" for name, _ in reversed(open_tags))
    return "".join(out)


def has_markup(template: str) -> bool:
    """Whether a template uses inline markup (bold, italic, links): its cells then need a
    Paragraph; without, they are plain strings (the fast path of long tables)."""
    bare = PLACEHOLDER.sub("\ue0000\ue001", template)
    return bool(LINK.search(bare) or BOLD.search(bare) or ITALIC.search(bare))


def placeholders(template: str) -> list[str]:
    return [expression.strip() for expression in PLACEHOLDER.findall(template)]
