"""uvicorn's httptools protocol with the read timeouts it lacks.

uvicorn (0.54) times out idle keep-alive connections but nothing else: a client that opens a
connection and sends half a request header, or fewer body bytes than its Content-Length, holds
the connection (and a request task) forever, and a header may grow without bound. This subclass
gives each request a deadline: its header must be complete within `header_timeout` of the
connection opening (or of the request's first byte, on a kept-alive connection), and its body
within `body_timeout` of the header. A late header closes the connection; a late body gets 408
`request_timeout` in the JSON envelope (unless the application has already answered), the
application sees a disconnect, and the connection is closed. It also caps a header at
MAX_HEADER_BYTES and answers what the parser refuses (a garbled request line, control bytes in
a header, a non-ASCII path) in the envelope instead of uvicorn's plain text.

The deadline is a number set per request and checked by one timer per connection every
CHECK_SECONDS, because a timer per request costs more than the rest of the protocol's work on a
small POST (uvloop: ~2 µs to arm and cancel; asyncio.timeout around the body read: ~4 µs).
"""

from __future__ import annotations

import asyncio
import json
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from craftkit import errors, logs
from services.gateway import requestlog

MAX_HEADER_BYTES = 64 * 1024
"""Request line plus headers; the largest legitimate header here is a few hundred bytes."""
TOO_LARGE = f"the request header is over {MAX_HEADER_BYTES} bytes"
CHECK_SECONDS = 0.5
"""How often a connection checks its deadline, so a timeout fires up to this much late."""


class HeaderTooLarge(Exception):
    pass


class GatewayProtocol(HttpToolsProtocol):
    def __init__(self, *args, header_timeout: float, body_timeout: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.body_timeout = header_timeout, body_timeout
        self.deadline: float | None = None
        """When the header or body being read must be complete; None between requests."""
        self.reading_header = False
        self.header_bytes = 0
        self.parsed_bytes = 0
        """The URL and the headers as parsed (a whole header may come in one read)."""
        self.header_too_large = False
        self.header_started = time.perf_counter()
        self.checker: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_header()
        self.checker = self.loop.call_later(CHECK_SECONDS, self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.checker is not None:
            self.checker.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.reading_header and not self.transport.is_closing():
            self.header_bytes += len(data)
            if self.header_bytes > MAX_HEADER_BYTES:
                self.send_400_response(TOO_LARGE)

    def on_url(self, url: bytes) -> None:
        self.parsed_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.reading_header:  # a later request on a kept-alive connection
            self._expect_header()

    def on_headers_complete(self) -> None:
        """A header that arrived whole in one read passed data_received's count (made after
        the parser ran): the parsed size is checked here, before the application is called.
        Raising stops the parser; uvicorn answers send_400_response."""
        if self.parsed_bytes > MAX_HEADER_BYTES:
            self.header_too_large = True
            raise HeaderTooLarge(TOO_LARGE)
        self.reading_header = False
        self.deadline = self.loop.time() + self.body_timeout
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.deadline = None
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, in the JSON envelope."""
        if self.header_too_large:
            msg = TOO_LARGE
        self._answer_and_close(b"400 Bad Request", errors.InvalidRequest(msg))

    def _expect_header(self) -> None:
        self.reading_header, self.header_bytes, self.parsed_bytes = True, 0, 0
        self.header_started = time.perf_counter()
        self.deadline = self.loop.time() + self.header_timeout

    def _check_deadline(self) -> None:
        if self.transport.is_closing():
            return
        if self.deadline is not None and self.loop.time() > self.deadline:
            self._time_out()
            return
        self.checker = self.loop.call_later(CHECK_SECONDS, self._check_deadline)

    def _time_out(self) -> None:
        """A late header: close. A late body: 408 if nothing was answered yet, and the
        application's pending receive() returns a disconnect, so its task ends too."""
        cycle = self.cycle
        if cycle is not None and not self.reading_header and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
            if not cycle.response_started:
                self._answer_and_close(b"408 Request Timeout", errors.RequestTimeout(
                    f"the request body did not all arrive within {self.body_timeout:g}s; send "
                    "as many bytes as its Content-Length says, promptly"))
                return
        self.transport.close()

    def _answer_and_close(self, status: bytes, error: errors.ApiError) -> None:
        """The envelope, with the request's id (RequestLog's, when the application has the
        request; else a new one: a request refused before it reached the application, which is
        then counted and logged here as RequestLog would: route `unmatched`,
        method `other`)."""
        current = self.cycle is not None and not self.cycle.response_complete
        scope = self.cycle.scope if current else {}
        request_id = scope.get(requestlog.SCOPE_KEY) or requestlog.new_request_id()
        body = json.dumps({"error": {**error.body()["error"], "requestId": request_id}}).encode()
        head = b"".join([b"HTTP/1.1 ", status, b"\r\n",
                         *(name + b": " + value + b"\r\n"
                           for name, value in self.server_state.default_headers),
                         b"x-request-id: " + request_id.encode() + b"\r\n",
                         b"content-type: application/json\r\n",
                         b"content-length: %d\r\n" % len(body),
                         b"connection: close\r\n\r\n"])
        self.transport.write(head + body)
        self.transport.close()
        if not current:  # no application saw this request: count and log it here
            code = int(status.split()[0])
            with logs.bound(request_id=request_id):
                requestlog.ended({}, code, len(body), self.header_started)
