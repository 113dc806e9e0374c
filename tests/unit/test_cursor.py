"""Page cursors: what a list hands out comes back as the same key; anything else is a 400."""

from __future__ import annotations

import base64
import uuid

import pytest

from craftkit import cursor, errors

ID = uuid.UUID("0196e2a0-1c2d-7000-8000-00000000abcd")


def test_a_cursor_round_trips_its_key():
    token = cursor.encode(1764000000123, ID)
    at, last = cursor.decode(token, cursor.millis, cursor.uuid_part)
    assert cursor.encode(int((at - cursor.EPOCH).total_seconds() * 1000), last) == token
    assert at.microsecond == 123000 and last == ID
    assert cursor.decode(cursor.encode("slug-a"), cursor.text) == ("slug-a",)
    assert "=" not in token and "+" not in token and "/" not in token  # URL-safe as it is


def raw(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode()


@pytest.mark.parametrize("token", [
    "", "not base64!", "%%%", raw(b"\xff\xfe"), raw(b"{}"), raw(b"null"), raw(b"[]"),
    raw(b"[1]"), raw(b'[1, "x"]'), raw(b'["1", "0196e2a0-1c2d-7000-8000-00000000abcd"]'),
    raw(b'[true, "0196e2a0-1c2d-7000-8000-00000000abcd"]'),
    raw(b'[1.5, "0196e2a0-1c2d-7000-8000-00000000abcd"]'),
    raw(b'[-1, "0196e2a0-1c2d-7000-8000-00000000abcd"]'),
    raw(b'[1e400, "0196e2a0-1c2d-7000-8000-00000000abcd"]'),
    raw(b'[99999999999999999999999, "0196e2a0-1c2d-7000-8000-00000000abcd"]'),
    raw(b"[" * 300 + b"]" * 300), "A" * 1000,
    cursor.encode(1, ID)[:-3],
])
def test_anything_but_a_cursor_of_the_lists_shape_is_invalid_request(token):
    with pytest.raises(errors.InvalidRequest) as refused:
        cursor.decode(token, cursor.millis, cursor.uuid_part)
    assert "cursor" in refused.value.field_errors


def test_a_text_key_refuses_nul_and_other_types():
    for key in ("a\x00b", 5, None, "x" * 201):
        with pytest.raises(errors.InvalidRequest):
            cursor.decode(cursor.encode(key), cursor.text)


def test_page_size_defaults_and_bounds():
    assert cursor.page_size(0, 20, 100) == 20
    assert cursor.page_size(100, 20, 100) == 100
    for bad in (-1, 101):
        with pytest.raises(errors.InvalidRequest) as refused:
            cursor.page_size(bad, 20, 100)
        assert "limit" in refused.value.field_errors


def test_moment_names_its_parameter_when_out_of_range():
    with pytest.raises(errors.InvalidRequest) as refused:
        cursor.moment(-1, "createdAfter")
    assert "createdAfter" in refused.value.field_errors
    assert cursor.moment(0, "x") == cursor.EPOCH
