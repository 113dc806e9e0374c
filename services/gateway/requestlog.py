"""Request ids and the access log: the outermost layer of the gateway (around Starlette's own
error middleware, so a 500 gets its id too).

Each request gets an id: the client's `X-Request-Id` when it is 1-64 characters of
[A-Za-z0-9._:-], else 32 new hex characters. It is bound (craftkit.logs.bound) while the request
runs, so every line the gateway logs for it carries it, the gRPC calls it makes send it on
(x-request-id metadata) and the error envelope names it (`requestId`). Every response carries it
as `x-request-id`, whoever answered: a route, the auth backend's 401/429, Starlette's 404/405,
the static files, the 500 of an unexpected error.

After the request ends, one access line: method, route template (never the raw path, which may
hold a share link's or an inbound hook's token), status, duration_ms, bytes sent, request_id and,
for an authenticated key, project_id. Health probes (/healthz, /readyz) are logged at debug.
"""

from __future__ import annotations

import logging
import os
import time

from opentelemetry import trace
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craftkit import logs, tracing
from services.gateway import metrics
from services.gateway.metrics import route_template

log = logging.getLogger("services.gateway.access")

HEADER = b"x-request-id"
SCOPE_KEY = "craftkit.request_id"
"""Where the id is kept in the ASGI scope (GatewayProtocol's own answers read it there)."""
PROBES = frozenset({"/healthz", "/readyz"})


def new_request_id() -> str:
    """32 random hex characters (a uuid4's worth of randomness without building a UUID)."""
    return os.urandom(16).hex()


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-Id when it is a valid one (the first, if several), else a new id."""
    for name, value in scope["headers"]:
        if name == HEADER:
            return logs.valid_request_id(value.decode("latin-1")) or new_request_id()
    return new_request_id()


class Gateway(Starlette):
    """Starlette with RequestLog around its whole middleware stack, Starlette's own error
    middleware included (its 500 answers get an id too)."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestLog(super().build_middleware_stack())


class RequestLog:
    """The pure ASGI middleware: the id, the `x-request-id` header, the request metrics
    (in flight, duration by route, method and status) and the access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope[SCOPE_KEY] = request_id
        header = (HEADER, request_id.encode())
        started = time.perf_counter()
        answer: dict = {"status": 0, "bytes": 0, "span": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                if tracing.enabled():
                    answer["span"] = trace.get_current_span().get_span_context()
                message["headers"] = [*(h for h in message.get("headers", ())
                                        if h[0].lower() != HEADER), header]
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        metrics.IN_FLIGHT.inc()
        with logs.bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except BaseException:
                answer["status"] = answer["status"] or 500
                raise
            finally:
                metrics.IN_FLIGHT.dec()
                ended(scope, answer["status"], answer["bytes"], started, answer["span"])


def ended(scope: Scope, status: int, sent: int, started: float,
          span: trace.SpanContext | None = None) -> None:
    """The request counted (craftkit_http_request_duration_seconds) and its access line written,
    both under the route template. Status 0: no answer went out (the client left, or the
    connection was closed first), counted as 500. `span`: the request's span (the tracing
    middleware runs inside this one, so its trace is read while the answer goes out)."""
    seconds = time.perf_counter() - started
    route = route_template(scope)
    method = scope.get("method", "")
    method = method if method in metrics.METHODS else "other"
    metrics.request_ended(route, method, status or 500, seconds)
    level = logging.DEBUG if route in PROBES else logging.INFO
    if not log.isEnabledFor(level):
        return
    user = scope.get("user")
    project_id = getattr(user, "project_id", None)
    logs.write_direct(log, level, f"{method} {route} {status}", {
        "method": method, "route": route, "status": status,
        "duration_ms": round(seconds * 1000, 1), "bytes": sent,
        **({"project_id": project_id} if project_id else {}),
        **({"trace_id": format(span.trace_id, "032x"), "span_id": format(span.span_id, "016x")}
           if span is not None and span.is_valid else {})})
