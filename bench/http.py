"""A lean keep-alive HTTP/1.1 client for load generation: asyncio streams plus httptools' parser.

httpx spends more CPU per request than the gateway does, and on a 2-core machine the load
generator shares the cores with the system under test, so a heavy client would measure itself."""

from __future__ import annotations

import asyncio
import json

import httptools


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is not None:
            try:
                return await self._send(method, path, body)
            except ConnectionError:  # the server closed an idle keep-alive connection
                self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return await self._send(method, path, body)

    async def _send(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n{self.extra}"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        done = asyncio.get_running_loop().create_future()
        chunks: list[bytes] = []

        class Handler:
            def on_body(self, data: bytes) -> None:
                chunks.append(data)

            def on_message_complete(self) -> None:
                done.set_result(None)

        parser = httptools.HttpResponseParser(Handler())
        while not done.done():
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            parser.feed_data(data)
        return parser.get_status_code(), b"".join(chunks)

    async def json(self, method: str, path: str, body: object | None = None) -> tuple[int, dict]:
        status, raw = await self.request(method, path, json.dumps(body).encode() if body else b"")
        return status, json.loads(raw)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None
