"""Plausible example values for manifest fields that have no `example` or `default`: guessed from
the field's name (its last key segment, and the array it is in) and type, then fitted to its
constraints. They fill the example body of `GET .../schema` and its cURL line, so a template
author sees "jane.doe@example.com" and "Widget" in a preview, not "x" everywhere.

Only names are guessed from: a value that does not fit the constraints (minLength, maxLength,
min, max) is stretched or clamped to fit, so the example body always validates."""

from __future__ import annotations

import re

# (words a field name may contain, value); the first row that matches wins, so specific first.
STRINGS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("email", "mail"), "jane.doe@example.com"),
    (("phone", "tel", "mobile", "fax"), "+1 415 555 0142"),
    (("url", "website", "link", "homepage", "href"), "https://www.example.com"),
    (("iban",), "DE89 3704 0044 0532 0130 00"),
    (("currency",), "USD"),
    (("country",), "United States"),
    (("city", "town"), "Springfield"),
    (("zip", "postcode", "postal"), "94102"),
    (("state", "region", "province"), "California"),
    (("street", "address", "line1"), "1200 Market Street"),
    (("firstname", "given"), "Jane"),
    (("lastname", "surname", "family"), "Doe"),
    (("company", "organization", "organisation", "business", "customer", "client", "vendor",
      "supplier", "seller", "buyer"), "Acme Corp"),
    (("title", "subject", "heading", "headline"), "Quarterly update"),
    (("description", "summary", "body", "notes", "note", "comment", "message", "text",
      "details", "terms"), "Thank you for your business."),
    (("sku", "code", "reference", "ref", "id", "number", "no", "invoice", "order"), "A-1001"),
    (("label", "tag", "category", "kind", "status"), "Standard"),
    (("unit",), "pcs"),
    (("color", "colour"), "#1F3A60"),
    (("author", "signer", "contact", "recipient", "person", "owner", "user", "employee"),
     "Jane Doe"),
)
# The name of a thing in a list ("items[].name"): what the list holds, by the list's name.
LIST_NAMES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("items", "lines", "products", "articles", "positions", "entries"), "Widget"),
    (("people", "members", "contacts", "attendees", "guests", "users", "employees"), "Jane Doe"),
    (("sections", "chapters"), "Overview"),
    (("tasks", "todos"), "Review the draft"),
)
NUMBERS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("qty", "quantity", "count", "units", "pieces"), 2),
    (("percent", "rate", "ratio", "share", "discount", "tax", "vat"), 0.2),
    (("year",), 2026),
    (("age",), 34),
    (("hours", "days", "duration", "minutes"), 8),
    (("weight", "kg", "mass"), 2.5),
    (("price", "amount", "total", "subtotal", "cost", "fee", "balance", "sum", "value",
      "salary", "paid", "due"), 49.95),
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def words(name: str) -> list[str]:
    """`unitPrice` -> ["unit", "price"]; `ship_to` -> ["ship", "to"]."""
    return [w.lower() for w in _WORD.findall(name)]


def _guess(table, name: str, singular: bool = True):
    """The value of the first row naming the field's last word (`customerId`: an id), else of
    the first row naming any of its words."""
    found = words(name.removesuffix("[]"))
    if not found:
        return None
    last = {found[-1], "".join(found)}
    if singular and found[-1].endswith("s") and len(found[-1]) > 3 \
            and not found[-1].endswith(("ss", "us")):
        last.add(found[-1][:-1])  # tags: tag too, notes: note
    for candidates in (last, set(found)):
        for keys, value in table:
            if candidates.intersection(keys):
                return value
    return None


def string(path: list[str], min_length: int = 0, max_length: int | None = None) -> str:
    """A string for the field at `path` (key segments, arrays as "items[]")."""
    name = path[-1] if path else ""
    value = None
    if name == "name" and len(path) > 1:
        parent = path[-2]
        value = _guess(LIST_NAMES, parent, singular=False) if parent.endswith("[]") else None
        value = value or _guess(STRINGS, parent) or "Jane Doe"
    value = value or _guess(STRINGS, name) or (" ".join(words(name)).capitalize() or "Example")
    while len(value) < min_length:
        value = f"{value} {value}"
    return value[:max_length] if max_length is not None else value


def number(path: list[str], integer: bool, low: float | None, high: float | None) -> float | int:
    """A number for the field at `path`, within [low, high]."""
    value = _guess(NUMBERS, path[-1] if path else "")
    value = 1 if value is None else value
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    if integer:
        whole = round(value)
        if low is not None and whole < low:
            whole += 1
        if high is not None and whole > high:
            whole -= 1
        return int(whole)
    return value
