"""What the gateway and the status and enqueue services check about text and JSON a client sends,
before it reaches PostgreSQL, protobuf, a regular expression or an error message.

The gateway checks every body, and the services check again because they are also called over
gRPC directly: PostgreSQL refuses NUL in text and jsonb (`\\u0000`), UTF-8 cannot carry a lone
surrogate (JSON's `"\\ud800"` escape makes one), jsonb has no Infinity or NaN (`1e400` parses as
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
CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
"""What no name, label or path segment may hold, and what `cut` escapes: C0 controls, DEL and
lone surrogates (which would fail the encoding of a message quoting them)."""
TOO_DEEP = f"is nested deeper than {MAX_DEPTH} levels; flatten the data"
NOT_FINITE = "is not a finite number; send numbers within ±1.8e308"

MAX_NAME_LENGTH = 200
"""Display names (projects, templates, API keys) and filenames, in characters."""

_UNSAFE = re.compile("[\x00\ud800-\udfff]").search
_finite = math.isfinite


def cut(text: str, limit: int = errors.ECHO_CHARS) -> str:
    """`text` (a key, path or name from the client) unquoted for a message: its first `limit`
    characters, control characters and lone surrogates escaped as repr does. errors.shorten
    quotes a whole value."""
    return CONTROL.sub(lambda match: repr(match.group())[1:-1], errors.cut(text, limit))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number (numbers must be finite, at most about "
                     "1.8e308)")


DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Parses JSON text refusing NaN and Infinity (ValueError), which jsonb cannot store. Deep
nesting raises RecursionError; `check` bounds what parses."""


def load_json(text: str, what: str,
              error: type[errors.ApiError] = errors.InvalidRequest) -> object:
    """`text` parsed (NaN and Infinity refused), without `check`'s walk: for a caller that
    walks the value anyway (Manifest.validate does)."""
    try:
        return DECODER.decode(text)
    except RecursionError:
        raise error(f"{what} {TOO_DEEP}") from None
    except ValueError as exc:
        raise error(f"{what} is not valid JSON: {cut(str(exc), 200)}",
                    field_errors={what: ["Invalid JSON"]}) from None


def parse_json(text: str, what: str,
               error: type[errors.ApiError] = errors.InvalidRequest) -> object:
    """`text` parsed, refused with `error` (naming `what` and where) if it is not JSON or holds
    anything `check` refuses."""
    value = load_json(text, what, error)
    found = problem(value)
    if found:
        where, message = found
        raise error(f"{what}{'.' + where if where else ''} {message}",
                    field_errors={f"{what}.{where}" if where else what: [message]})
    return value


class Unsafe(Exception):
    """What `check` found first. `problem` says what is wrong and what to fix; `where` is the
    dotted path to it, cut for quoting ("" for the value itself); `malformed` is true for what
    valid JSON text never holds (a lone surrogate, a number beyond ±1.8e308: the gateway's
    invalid_json) and false for valid JSON the system cannot take (NUL, deep nesting)."""

    def __init__(self, problem: str, malformed: bool) -> None:
        super().__init__(problem)
        self.problem, self.malformed, self._path = problem, malformed, []

    def at(self, key: str | int) -> Unsafe:
        """Adds the key or index one level up; the walk calls this on its way out."""
        self._path.append(str(key))
        return self

    @property
    def where(self) -> str:
        return cut(".".join(reversed(self._path)))


def check(value: object) -> None:
    """Raises Unsafe for the first thing in parsed JSON (the plain dicts and lists json builds)
    that cannot be stored or processed: nesting deeper than MAX_DEPTH, a non-finite number,
    NUL or a lone surrogate in a key or string. It runs on every body the gateway reads and on
    every render's data, and costs about what json.loads took to parse the same value (1 µs
    for the seed invoice)."""
    kind = type(value)
    if kind is dict or kind is list:
        _walk(value, 1)
    elif kind is str and _unsafe(value) or kind is float and not _finite(value):
        raise _value_problem(value)


def _walk(value: dict | list, depth: int) -> None:
    """The checks inlined per kind, since this runs for every value of every body; text is
    searched only when the C-speed tests (not ASCII, or a NUL in it) say it might need it.
    Recursive, which is safe: it goes no deeper than MAX_DEPTH."""
    is_dict = type(value) is dict
    for key, item in value.items() if is_dict else enumerate(value):
        if is_dict and (not key.isascii() or "\x00" in key) and _UNSAFE(key):
            raise Unsafe(*_text_problem(key, "has a key with")).at(key)
        kind = type(item)
        if kind is str:
            if (not item.isascii() or "\x00" in item) and _UNSAFE(item):
                raise _value_problem(item).at(key)
        elif kind is float:
            if not _finite(item):
                raise _value_problem(item).at(key)
        elif kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                raise Unsafe(TOO_DEEP, False).at(key)
            try:
                _walk(item, depth + 1)
            except Unsafe as exc:
                raise exc.at(key) from None


def _unsafe(text: str) -> bool:
    """NUL or a lone surrogate in `text` (as `_walk` tests it inline)."""
    return (not text.isascii() or "\x00" in text) and _UNSAFE(text) is not None


def _value_problem(value: str | float) -> Unsafe:
    if type(value) is float:
        return Unsafe(NOT_FINITE, True)
    return Unsafe(*_text_problem(value, "contains"))


def _text_problem(text: str, what: str) -> tuple[str, bool]:
    if "\x00" in text:
        return f"{what} a NUL character (\\u0000), which cannot be stored; remove it", False
    return f"{what} a lone UTF-16 surrogate (\\ud800-\\udfff); send valid Unicode text", True


def problem(value: object) -> tuple[str, str] | None:
    """(dotted path, what is wrong) for the first thing `check` refuses in `value`, or None."""
    try:
        check(value)
    except Unsafe as found:
        return found.where, found.problem
    return None


def safe_copy(value: object) -> tuple[object, tuple[str, str] | None]:
    """(a copy of parsed JSON, None), or (None, `problem(value)`): for Manifest.validate, which
    fills defaults into its copy of every render request's data. The copy has new dicts and
    lists and shares scalars; it recurses only once `check` has bounded the depth."""
    found = problem(value)
    return (None, found) if found else (_copy(value), None)


_CONTAINERS = (dict, list)


def _copy(value: object) -> object:
    kind = type(value)
    if kind is dict:
        return {key: _copy(item) if type(item) in _CONTAINERS else item
                for key, item in value.items()}
    if kind is list:
        return [_copy(item) if type(item) in _CONTAINERS else item for item in value]
    return value


IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
"""1 to 255 printable ASCII characters: what an HTTP header carries unambiguously."""


def check_idempotency_key(key: str) -> str:
    """An Idempotency-Key header's value (services/gateway/idempotency.py), checked by the gateway
    and again by the status service that stores it."""
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise errors.InvalidRequest(
            "the Idempotency-Key header must be 1 to 255 printable ASCII characters (a UUID is "
            "a good key)", field_errors={"Idempotency-Key": ["Invalid idempotency key"]})
    return key


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
    return len(value) == 36 and canonical_uuid(value) == value.lower()


def canonical_uuid(value: str) -> str | None:
    """`value` in the canonical text form of a UUID, from any form uuid.UUID reads (upper case,
    braces, no hyphens), or None when it is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
