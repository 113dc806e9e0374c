"""A real HTTP server on loopback that receives webhooks, answering as each test tells it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    answered: int = 0
    finished: float | None = None


@dataclass
class Receiver:
    """`plan[path]`: the status codes to answer, in order (the last repeats); a negative code
    hangs that many seconds (past the webhook timeout), then answers 200."""

    server: ThreadingHTTPServer
    plan: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self, path: str) -> int:
        with self.lock:
            codes = self.plan.get(path, [200])
            seen = sum(1 for r in self.received if r.path == path)
            return codes[min(seen - 1, len(codes) - 1)]


def start() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            entry = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                             time.monotonic())
            with receiver.lock:
                receiver.received.append(entry)
            code = receiver.answer(self.path)
            if code < 0:
                time.sleep(-code)
                code = 200
            entry.answered, entry.finished = code, time.monotonic()
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
