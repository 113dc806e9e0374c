"""Opaque page cursors for keyset pagination, one scheme for every list.

A cursor is the sort key of the last row of a page (for renders its created_at in epoch
milliseconds and its id), as JSON in unpadded base64url. It is only a position, not a capability:
it names no project and grants nothing (every list still filters on the caller's project), so it
is not signed. What comes back is checked against the shape its list expects, so a cursor that
was tampered with, cut short or made up is 400 invalid_request naming `cursor`, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from craftkit import errors

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_CHARS = 512


def encode(*key: object) -> str:
    """The cursor of a row whose sort key is `key` (str, int or UUID parts)."""
    parts = [str(part) if isinstance(part, uuid.UUID) else part for part in key]
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, *kinds: Callable[[object], object]) -> tuple:
    """The key a cursor holds, each part converted by its kind (`millis`, `uuid_part`, `text`);
    InvalidRequest when it is not a cursor of that shape."""
    try:
        if len(cursor) > MAX_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or len(parts) != len(kinds):
            raise ValueError("wrong shape")
        return tuple(kind(part) for kind, part in zip(kinds, parts))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise errors.InvalidRequest(
            "cursor is not one this list gave: pass nextCursor from the previous page unchanged",
            field_errors={"cursor": ["Invalid cursor"]}) from None


def millis(part: object) -> datetime:
    """A timestamp stored as epoch milliseconds (exact: no float on the way)."""
    if not isinstance(part, int) or isinstance(part, bool) or not 0 <= part < 253402300800000:
        raise ValueError("not epoch milliseconds")
    return EPOCH + timedelta(milliseconds=part)


def uuid_part(part: object) -> uuid.UUID:
    if not isinstance(part, str):
        raise ValueError("not a UUID")
    return uuid.UUID(part)


def text(part: object) -> str:
    if not isinstance(part, str) or "\x00" in part or len(part) > 200:
        raise ValueError("not a key")
    return part


def moment(epoch_ms: int, name: str) -> datetime:
    """A filter bound in epoch milliseconds; InvalidRequest naming `name` when out of range."""
    try:
        return millis(epoch_ms)
    except ValueError:
        raise errors.InvalidRequest(f"{name} must be a time from 1970 to 9999, not {epoch_ms}",
                                    field_errors={name: ["Out of range"]}) from None


def page_size(limit: int, default: int, maximum: int) -> int:
    """`limit` as a list takes it: 0 means `default`; out of 1..maximum is InvalidRequest."""
    if limit == 0:
        return default
    if not 1 <= limit <= maximum:
        raise errors.InvalidRequest(f"limit must be from 1 to {maximum}, not {limit}",
                                    field_errors={"limit": [f"Must be from 1 to {maximum}"]})
    return limit
