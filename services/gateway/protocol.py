"""uvicorn's httptools protocol with the guards it lacks at the connection level.

uvicorn (0.54) times out idle keep-alive connections but nothing else: a client that opens a
connection and sends half a request header holds it (and its memory) forever, and the header may
grow without bound. This subclass arms one timer when a connection opens and when a request's
first byte arrives, and cancels it when that request's header is complete; when it fires the
connection is closed (idle time between requests stays uvicorn's keep-alive timeout). It also
caps the bytes of a header and answers protocol errors (a garbled request line, control bytes in
a header, a non-ASCII path) with the JSON error envelope instead of uvicorn's plain text.

Request bodies are timed by the application (`requests.read_body`), which can answer 408 in the
envelope; only the header, before there is an application to ask, is timed here.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
"""Request line plus headers; the largest legitimate header here is a few hundred bytes."""


class GatewayProtocol(HttpToolsProtocol):
    def __init__(self, *args, header_timeout: float = 10.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.header_timer: asyncio.TimerHandle | None = None
        self.header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.header_timer is not None and not self.transport.is_closing():  # header incomplete
            self.header_bytes += len(data)
            if self.header_bytes > MAX_HEADER_BYTES:
                self._cancel_header_timer()
                self.send_400_response(f"the request header is over {MAX_HEADER_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.header_timer is None:  # a later request on the connection: its own time
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's 400 for a request it cannot parse, in the JSON envelope."""
        body = json.dumps({"error": {"code": "invalid_request", "message": msg}}).encode()
        head = b"".join([b"HTTP/1.1 400 Bad Request\r\n",
                         *(name + b": " + value + b"\r\n"
                           for name, value in self.server_state.default_headers),
                         b"content-type: application/json\r\n",
                         b"content-length: %d\r\n" % len(body),
                         b"connection: close\r\n\r\n"])
        self.transport.write(head + body)
        self.transport.close()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self.header_bytes = 0
        self.header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timed_out(self) -> None:
        """Drops the connection: a request header has not come whole within the timeout."""
        self.header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
