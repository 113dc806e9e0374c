"""What the status and enqueue services check about text and JSON a client sends, before it
reaches PostgreSQL, a regular expression or an error message.

The gateway checks too, but these services are also called over gRPC directly, so each guards
itself: PostgreSQL refuses NUL in text and jsonb (`\\u0000`), UTF-8 cannot carry a lone surrogate
(JSON's `"\\ud800"` escape makes one), jsonb has no Infinity or NaN (`1e400` parses as
Infinity), and the recursive code that reads JSON (copying, encoding, checking) needs a bound
on nesting. Each of these is a 400 that says where the problem is, never a 500.
"""

from __future__ import annotations

import json
import math
import re
import uuid

from craftkit import errors

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays in any JSON document a client sends."""
UNSAFE_CHARACTER = re.compile("[\x00\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def cut(text: str, limit: int = errors.ECHO_CHARS) -> str:
    """`text` unquoted, its first `limit` characters only (for paths and names in messages;
    errors.shorten quotes a value)."""
    return text if len(text) <= limit else text[:limit] + "…"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number (numbers must be finite, at most about "
                     "1.8e308)")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def load_json(text: str, what: str,
              error: type[errors.ApiError] = errors.InvalidRequest) -> object:
    """`text` parsed (NaN and Infinity refused), without `problem`'s walk: for a caller that
    walks the value anyway (Manifest.validate does)."""
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise error(f"{what} is not valid JSON: {cut(str(exc), 200)}",
                    field_errors={what: ["Invalid JSON"]}) from None


def parse_json(text: str, what: str,
               error: type[errors.ApiError] = errors.InvalidRequest) -> object:
    """`text` parsed, refused with `error` (naming `what` and where) if it is not JSON or holds
    anything `problem` names."""
    value = load_json(text, what, error)
    found = problem(value)
    if found:
        where, message = found
        raise error(f"{what}{'.' + where if where else ''} {message}",
                    field_errors={f"{what}.{where}" if where else what: [message]})
    return value


def problem(value: object) -> tuple[str, str] | None:
    """(dotted path, what is wrong) for the first thing in parsed JSON that cannot be stored or
    checked safely: nesting over MAX_DEPTH, a non-finite number, NUL or a lone surrogate in a
    key or string. None when there is nothing. Iterative, so any depth is safe to look at; the
    path is worked out only when there is a problem (this runs on every render request)."""
    if _walk(value, paths=False) is None:
        return None
    return _walk(value, paths=True)


def _walk(value: object, paths: bool) -> tuple[str, str] | None:
    stack: list[tuple[object, tuple, int]] = [(value, (), 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if not _safe(node):
                return _dotted(path), "contains " + _unsafe(node)
        elif isinstance(node, dict):
            if depth >= MAX_DEPTH:
                return _dotted(path), f"is nested deeper than {MAX_DEPTH} levels"
            for key, child in node.items():
                if isinstance(key, str) and not _safe(key):
                    return _dotted((*path, key)), "has a key with " + _unsafe(key)
                stack.append((child, (*path, key) if paths else path, depth + 1))
        elif isinstance(node, list):
            if depth >= MAX_DEPTH:
                return _dotted(path), f"is nested deeper than {MAX_DEPTH} levels"
            stack.extend((child, (*path, index) if paths else path, depth + 1)
                         for index, child in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            return _dotted(path), "is not a finite number (at most about 1.8e308)"
    return None


def safe_copy(value: object) -> tuple[object, tuple[str, str] | None]:
    """(a copy of parsed JSON, None), or (None, `problem(value)`): one iterative pass that both
    checks and copies (new dicts and lists, shared scalars), for Manifest.validate, which fills
    defaults into its copy of every render request's data."""
    root: list = [None]
    stack: list[tuple[object, dict | list, object, int]] = [(value, root, 0, 0)]
    while stack:
        node, into, key, depth = stack.pop()
        if isinstance(node, dict):
            if depth >= MAX_DEPTH:
                return None, problem(value)
            into[key] = new = {}
            for name, child in node.items():
                if isinstance(name, str) and not _safe(name):
                    return None, problem(value)
                new[name] = None  # keeps the order of keys
                stack.append((child, new, name, depth + 1))
        elif isinstance(node, list):
            if depth >= MAX_DEPTH:
                return None, problem(value)
            into[key] = new = [None] * len(node)
            stack.extend((child, new, index, depth + 1) for index, child in enumerate(node))
        elif (isinstance(node, str) and not _safe(node)) or (
                isinstance(node, float) and not math.isfinite(node)):
            return None, problem(value)
        else:
            into[key] = node
    return root[0], None


def _safe(text: str) -> bool:
    if text.isascii():
        return "\x00" not in text
    return UNSAFE_CHARACTER.search(text) is None


def _unsafe(text: str) -> str:
    if "\x00" in text:
        return "a NUL character (\\u0000), which cannot be stored"
    return "a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text"


def _dotted(path: tuple) -> str:
    return cut(".".join(cut(p, 40) if isinstance(p, str) else str(p) for p in path), 200)


def check_text(value: str, what: str, *, limit: int, required: bool = True,
               error: type[errors.ApiError] = errors.InvalidRequest) -> str:
    """A name or label: at most `limit` characters, no control characters; the error names
    `what` as the field."""
    if required and not value.strip():
        raise error(f"{what} must not be empty", field_errors={what: ["Required"]})
    if len(value) > limit:
        raise error(f"{what} is {len(value)} characters; at most {limit}",
                    field_errors={what: [f"String must contain at most {limit} character(s)"]})
    if CONTROL.search(value):
        raise error(f"{what} must not contain control characters",
                    field_errors={what: ["Contains a control character"]})
    return value


def is_uuid(value: str) -> bool:
    """Whether `value` is a UUID in its canonical text form (ids the services hand out)."""
    try:
        return len(value) == 36 and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
