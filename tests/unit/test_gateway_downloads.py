"""The download stream's pure parts: Content-Disposition, what goes to S3, and the cache of
finished renders with an expiring downloadUrl."""

from __future__ import annotations

import time
from urllib.parse import unquote

import pytest
from starlette.requests import Request

from services.gateway.downloads import content_disposition, s3_headers
from services.gateway.state import TerminalRenders


@pytest.mark.parametrize("filename, fallback", [
    ("invoice.pdf", "invoice.pdf"),
    ('Rechnung "März".pdf', "Rechnung _M_rz_.pdf"),
    ("請求書.pdf", "___.pdf"),
    ('a.pdf"\r\nSet-Cookie: x=y', "a.pdf___Set-Cookie: x=y"),
    ("100%\\x.pdf", "100__x.pdf"),
])
def test_content_disposition_is_ascii_and_carries_the_exact_name(filename, fallback):
    header = content_disposition(filename)
    assert header.isascii() and header.isprintable()
    assert header.startswith(f'attachment; filename="{fallback}"; ')
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == filename


def request(headers: dict[str, str]) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/",
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})


@pytest.mark.parametrize("sent, expected", [
    ({"range": "bytes=0-9", "if-none-match": '"e"', "cookie": "c", "authorization": "Bearer k"},
     {"range": "bytes=0-9", "if-none-match": '"e"'}),
    ({"range": "bytes=0-9", "if-range": '"e"'}, {"range": "bytes=0-9", "if-match": '"e"'}),
    ({"range": "bytes=0-9", "if-range": "Tue, 24 Nov 2026 02:00:00 GMT"},
     {"range": "bytes=0-9", "if-unmodified-since": "Tue, 24 Nov 2026 02:00:00 GMT"}),
    ({"if-range": '"e"'}, {}),  # If-Range without a Range means nothing
    ({"range": "bytes=0-1,5-9", "if-range": '"e"'}, {}),  # several ranges: the whole file
])
def test_s3_gets_the_conditions_and_never_the_clients_credentials(sent, expected):
    assert s3_headers(request(sent)) == expected


def test_a_cached_body_with_an_expiring_url_is_served_for_a_tenth_of_its_life(monkeypatch):
    cache = TerminalRenders(10)
    cache.put("p", "forever", b"a")
    cache.put("p", "presigned", b"b", url_expires_at_ms=int((time.time() + 100) * 1000))
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 9)
    assert cache.get("p", "presigned") == b"b"
    monkeypatch.setattr(time, "monotonic", lambda: now + 11)
    assert cache.get("p", "presigned") is None and cache.get("p", "forever") == b"a"
