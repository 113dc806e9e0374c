"""Streaming a render's PDF from S3 to the client: the URL comes presigned from the status service
(DownloadService; the gateway holds no S3 credentials), the bytes pass through chunk by chunk
(never the whole PDF in memory), and conditional and range requests go to S3 as they came.

    client  GET /v1/renders/{id}/download | GET /s/{token}
            Range (one range), If-None-Match      -> forwarded to S3
            If-Range                              -> If-Match (an ETag) or If-Unmodified-Since
                                                     (a date) beside the Range; S3's 412 means
                                                     "changed": asked again without either
    S3      200, 206, 304, 416                    -> passed on, with Content-Length,
                                                     Content-Range, ETag, Accept-Ranges,
                                                     Last-Modified
            anything else, or no answer           -> 503 unavailable (never S3's XML)

S3 does not implement If-Range (AWS documents no such header for GetObject), hence the
translation. HEAD asks S3 with the same GET (the URL is signed for GET only) and passes on the
headers without reading the body.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from craftkit import errors
from craftkit.v1 import downloads_pb2
from services.gateway.requests import PDF, Media, Param

if TYPE_CHECKING:
    from services.gateway.state import State

log = logging.getLogger(__name__)

FORWARDED = ("range", "if-none-match")
PASSED_STATUSES = frozenset({200, 206, 304, 416})
PASSED_HEADERS = ("content-length", "content-range", "etag", "accept-ranges", "last-modified")
CHUNK_BYTES = 64 * 1024
_NOT_TOKEN = re.compile(r'[^\x20-\x7e]|["\\%]')

REQUEST_HEADERS = (
    Param("Range", {"type": "string", "example": "bytes=0-1023"},
          "One byte range (several: the whole PDF, 200)", "header"),
    Param("If-Range", {"type": "string"}, "An ETag or a date: the Range applies only while the "
                                          "PDF is that one", "header"),
    Param("If-None-Match", {"type": "string"}, "An ETag: 304 while the PDF is that one",
          "header"),
)
"""The request headers a download honours (what s3_headers forwards), for the OpenAPI document."""
ANSWERS = {200: (PDF,), 206: (Media("application/pdf", "The range asked for"),),
           304: (), 416: ()}
"""A download's answers (PASSED_STATUSES): the PDF, a range of it, nothing (304: unchanged;
416: the range is past its end); a HEAD answers the same headers with no body."""


def client() -> httpx.AsyncClient:
    """The one HTTP client the gateway fetches from S3 with: a bounded pool, and timeouts on
    every step (a read timeout is per chunk, so a long download is fine while bytes flow)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=3.0, read=20.0, write=10.0, pool=5.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        follow_redirects=False)


def content_disposition(filename: str) -> str:
    """`attachment` with the filename twice, as RFC 6266 advises: an ASCII fallback (anything
    else, quotes, backslashes and percent signs as `_`) and the exact name in RFC 5987 encoding.
    Both are built from printable ASCII only, so no filename can end the header or add one."""
    fallback = _NOT_TOKEN.sub("_", filename) or "download.pdf"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class Proxied(StreamingResponse):
    """S3's body passed on chunk by chunk; the upstream response is closed, and `done` called
    (the project's stream counted out), however the stream ends (finished, the client gone, an
    error)."""

    def __init__(self, upstream: httpx.Response, headers: dict[str, str],
                 done: Callable[[], None], stall_seconds: float) -> None:
        super().__init__(upstream.aiter_raw(CHUNK_BYTES), status_code=upstream.status_code,
                         headers=headers)
        self.upstream, self.done, self.stall_seconds = upstream, done, stall_seconds

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TimeoutError:
            # uvicorn closes the connection of a response left unfinished (and says so).
            log.warning("a download client accepted no data for %gs; dropped",
                        self.stall_seconds)
        finally:
            self.done()
            await self.upstream.aclose()

    async def stream_response(self, send) -> None:
        """Each chunk must be taken by the client within `stall_seconds` (uvicorn's send waits
        while the client's socket is full): a client that stops reading would otherwise hold
        its S3 connection, and one of its project's streams, for as long as it stays connected."""
        async def send_in_time(message) -> None:
            async with asyncio.timeout(self.stall_seconds or None):
                await send(message)
        await super().stream_response(send_in_time)


def s3_headers(request: Request) -> dict[str, str]:
    """What the GET to S3 carries of the client's request (If-Range made S3's way). A request
    for several ranges is answered whole (RFC 9110 lets a server ignore Range): S3's answer to
    one would be multipart/byteranges, not the application/pdf this route promises."""
    sent = {name: request.headers[name] for name in FORWARDED
            if _parsable(request.headers.get(name, ""))}
    if "," in sent.get("range", ""):
        del sent["range"]
    validator = request.headers.get("if-range", "").strip()
    if "range" in sent and validator:
        if validator.startswith(('"', "W/")) and _parsable(validator):
            sent["if-match"] = validator
        elif _http_date(validator):
            sent["if-unmodified-since"] = validator
        else:  # a validator that cannot match: RFC 9110 13.1.5, ignore the Range
            del sent["range"]
    return sent


def _parsable(value: str) -> bool:
    """Whether a header value can be a range or an ETag list at all: printable ASCII (the
    grammar's), so that it can go to S3 (httpx sends ASCII only; a Latin-1 byte was a 500)."""
    return bool(value) and value.isascii() and value.isprintable()


def _http_date(value: str) -> bool:
    """Whether `value` is an HTTP-date: S3 refuses a malformed If-Unmodified-Since with an error
    that would read as S3 failing (503), when it is the client's junk to ignore."""
    if not _parsable(value):
        return False
    try:
        return parsedate_to_datetime(value) is not None
    except (TypeError, ValueError):
        return False


async def fetch(http: httpx.AsyncClient, url: str, sent: dict[str, str]) -> httpx.Response:
    """S3's answer to a GET of `url`, its body not yet read; with an If-Range translated, a 412
    (the PDF is not the one the client has a part of) is asked again for the whole file."""
    try:
        upstream = await http.send(http.build_request("GET", url, headers=sent), stream=True)
        if upstream.status_code == 412 and ("if-match" in sent or "if-unmodified-since" in sent):
            await upstream.aclose()
            whole = {k: v for k, v in sent.items()
                     if k not in ("range", "if-match", "if-unmodified-since")}
            upstream = await http.send(http.build_request("GET", url, headers=whole), stream=True)
    except httpx.HTTPError as exc:
        log.warning("S3 unreachable for a download: %s: %s", type(exc).__name__, exc)
        raise errors.Unavailable("the PDF store is unreachable; retry with backoff") from None
    return upstream


async def stream(request: Request, gateway: State, download: downloads_pb2.Download,
                 shared: bool = False) -> Response:
    """The client's answer for the PDF DownloadService presigned, counted in `gateway.streams`
    (429 when too many are in progress) until its last byte is sent or the client leaves. A
    project's share links (`shared`: anyone holding one) count apart from its keyed downloads,
    so a leaked link's holders cannot block the project's own."""
    streams = gateway.streams
    owner = download.project_id or download.render_id  # a status older than project_id: per render
    owner += " share-links" if shared else ""
    streams.enter(owner)
    leave = functools.partial(streams.leave, owner)
    try:
        response = await _stream(request, gateway, download, leave)
    except BaseException:
        leave()
        raise
    if not isinstance(response, Proxied):
        leave()
    return response


async def _stream(request: Request, gateway: State, download: downloads_pb2.Download,
                  done: Callable[[], None]) -> Response:
    upstream = await fetch(gateway.http, download.url, s3_headers(request))
    if upstream.status_code not in PASSED_STATUSES:
        await upstream.aclose()
        log.warning("S3 answered %d to a download of render %s", upstream.status_code,
                    download.render_id)
        raise errors.Unavailable("the PDF store did not answer as expected; retry with backoff")
    headers = {name: upstream.headers[name] for name in PASSED_HEADERS if name in upstream.headers}
    headers.update({"content-type": "application/pdf",
                    "content-disposition": content_disposition(download.filename),
                    "cache-control": "private, no-cache", "x-content-type-options": "nosniff"})
    if request.method == "HEAD" or upstream.status_code in (304, 416):
        await upstream.aclose()  # no body to pass on (S3's 416 body is its XML)
        if upstream.status_code == 416:
            headers["content-length"] = "0"
        return Response(status_code=upstream.status_code, headers=headers)
    return Proxied(upstream, headers, done, gateway.settings.download_stall_seconds)
