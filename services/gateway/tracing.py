"""The gateway's spans (craftkit.tracing): one SERVER span per request, from
opentelemetry-instrumentation-asgi's middleware, where every render's trace starts. The route
template is the one the request metrics use (metrics.route_template).

What a client sends never shapes a span beyond one request's worth:
- names and URL attributes come from the matched route's template ("POST /v1/renders/{id}"),
  `unmatched` when none matched: never the raw path, which may carry a secret (a share link's
  token, an inbound hook's) and which a hostile client can make different every time; no query
  string; headers only if an operator asks for them (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*),
  and Authorization and cookies then shown as "[REDACTED]";
- a client's own traceparent, tracestate and baggage headers are dropped: a request from the
  internet starts a new trace (it cannot pick trace ids, force sampling, or put baggage on every
  internal call).
"""

from __future__ import annotations

from opentelemetry import trace
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from craftkit import tracing
from services.gateway.metrics import METHODS, UNMATCHED, route_template

PROBES = "/healthz$,/readyz$"
"""Kubelet's probes, every few seconds: no spans (patterns searched in the URL, no query)."""
UNTRUSTED_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")
"""Attributes the ASGI instrumentation fills from the raw URL; replaced by the route template."""
QUERY_ATTRIBUTES = ("url.query",)
REDACTED_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie",
                    ".*api[-_]?key.*", ".*token.*", ".*secret.*", ".*signature.*"]


def middleware() -> list[Middleware]:
    """The tracing middleware, the first inside RequestLog; none when tracing is off (the gateway's processes set
    tracing up here too: with GATEWAY_WORKERS > 1 each worker process builds its own app)."""
    if not tracing.setup("gateway"):
        return []
    return [Middleware(Traced)]


class Traced:
    """OpenTelemetryMiddleware around the app, named by route; the client's trace headers
    dropped first. The per-message receive/send spans are left out (noise, and a cost per
    body chunk)."""

    def __init__(self, app: ASGIApp) -> None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware  # only when on

        self.app = OpenTelemetryMiddleware(
            Named(app), excluded_urls=PROBES, default_span_details=method_only,
            server_request_hook=scrub,
            exclude_spans=["receive", "send"],
            http_capture_headers_sanitize_fields=REDACTED_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name in UNTRUSTED_HEADERS
                                           for name, _ in scope["headers"]):
            # In place, not a copy: the layers outside read what routing leaves in the scope.
            scope["headers"] = [(name, value) for name, value in scope["headers"]
                                if name not in UNTRUSTED_HEADERS]
        await self.app(scope, receive, send)


def method_only(scope: Scope) -> tuple[str, dict]:
    """The span's name until routing has matched: the method alone (the raw path never)."""
    return known_method(scope), {}


def known_method(scope: Scope) -> str:
    """The method as sent when it is a standard one (a client's made-up method: "HTTP")."""
    method = scope.get("method", "")
    return method if method in METHODS else "HTTP"


def scrub(span: trace.Span, scope: Scope) -> None:
    """Overwrites the URL attributes the instrumentation took from the raw request (they are
    set again from the route template once it is known)."""
    if span.is_recording():
        name(span, scope, UNMATCHED)


class Named:
    """Inside the tracing middleware: once the router has matched (at the response's start, or
    at the end when no response went out), names the span by the route's template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()
        if scope["type"] != "http" or not span.is_recording():
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                name(span, scope, route_template(scope))
            await send(message)

        try:
            await self.app(scope, receive, send_named)
        finally:
            if span.is_recording():  # not ended: no complete answer went out
                name(span, scope, route_template(scope))


def name(span: trace.Span, scope: Scope, template: str) -> None:
    span.update_name(f"{known_method(scope)} {template}")
    attributes = getattr(span, "attributes", None) or {}
    replaced = {key: template for key in URL_ATTRIBUTES if key in attributes}
    replaced.update({key: "" for key in QUERY_ATTRIBUTES if key in attributes})
    span.set_attributes({**replaced, "http.route": template})
