"""Traces (OpenTelemetry): spans exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; the
API's no-op tracer, at no cost, when it is not.

One render is one trace across five processes:

    gateway  POST /v1/renders                       (ASGI middleware, services/gateway/tracing.py)
      enqueue  EnqueueRender                        (gRPC interceptors, both ends)
        -> outbox row -> Kafka render.jobs          (traceparent in the row, then in the headers)
          render_worker  render > StartRender, store, FinishRender
            status  FinishRender
              -> outbox row -> Kafka render.events
                webhooks  webhook.deliver           (one span per attempt, retries included:
                                                     the delivery row keeps the context)

Kafka has no instrumentation here, so its context travels by hand: `inject()` gives the current
span's W3C `traceparent` (and `tracestate`) as Kafka headers, `extract()` reads them back. Only the
trace context crosses Kafka, never W3C baggage (whatever a client put there would ride along).

The SDK reads the standard variables itself: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS,
_CERTIFICATE, _INSECURE, OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_* (batching), OTEL_RESOURCE_ATTRIBUTES.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import grpc
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

tracer = trace.get_tracer("craftkit")

HEADERS = ("traceparent", "tracestate")
"""The Kafka headers (and outbox fields) carrying a span's context."""

_propagator = TraceContextTextMapPropagator()
_EMPTY = Context()
_provider = None  # the SDK's TracerProvider, once setup() installed it
FLUSH_TIMEOUT_MS = 5_000
MAX_ATTRIBUTE_CHARS = 1024
"""Span attribute values are cut to this many characters (unless LENGTH_LIMITS set another):
some are a client's (http.user_agent, up to the 64 kB a header may be), and uncapped, a batch
of such spans is over gRPC's 4 MiB message limit: the collector refuses it and every span in
it, everyone's, is lost."""
LENGTH_LIMITS = ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
SERVER_FAULTS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                           grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL,
                           grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS})


def wanted() -> bool:
    """Whether the environment asks for traces: an OTLP endpoint is set, and neither
    OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says no."""
    endpoint = (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip())
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    return bool(endpoint) and not disabled and exporter != "none"


def setup(service: str) -> bool:
    """Installs the exporting tracer provider when the environment asks for traces (`wanted`);
    True when it is installed (also when an earlier call did: the gateway's workers call it
    again). When not, nothing is installed: `tracer` stays the API's no-op one."""
    global _provider
    if _provider is not None:
        return True
    if not wanted():
        return False
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        if "@" in urlsplit(os.environ.get(name, "").strip()).netloc:
            # gRPC takes "user:password@host" for a host name: nothing is exported, and the
            # exporter's every warning would write the password into the log.
            raise SystemExit(f"{name} holds a user name or password, which OTLP over gRPC does "
                             "not use: give scheme://host:port, and credentials in "
                             "OTEL_EXPORTER_OTLP_HEADERS")
    # Imported only here: a process without traces loads none of the SDK.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES; the names given here win over it, so one
    # config.env for every service still names each one apart.
    resource = Resource.create({"service.name": f"craftkit-{service}",
                                "service.namespace": "craftkit",
                                "service.version": _version(),
                                "service.instance.id": f"{socket.gethostname()}:{os.getpid()}"})
    # The sampler comes from OTEL_TRACES_SAMPLER (default: parentbased_always_on); the provider
    # is shut down (its last spans flushed) when the process exits.
    configured = any(os.environ.get(name, "").strip() for name in LENGTH_LIMITS)
    limits = SpanLimits(max_span_attribute_length=None if configured else MAX_ATTRIBUTE_CHARS)
    provider = TracerProvider(resource=resource, span_limits=limits)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("craftkit")
    except PackageNotFoundError:
        return "unknown"


def enabled() -> bool:
    """Whether spans are recorded and exported (setup installed the provider)."""
    return _provider is not None


async def flush() -> None:
    """Exports the spans ended so far (waiting up to FLUSH_TIMEOUT_MS, off the event loop):
    awaited when a service is told to stop, so the spans of its last calls are not lost if it
    is killed before it exits (at exit, the provider's own shutdown exports the rest)."""
    if _provider is not None:
        await asyncio.to_thread(_provider.force_flush, FLUSH_TIMEOUT_MS)


def server_interceptors() -> list:
    """grpc.aio server interceptors continuing the caller's trace (none when tracing is off).
    Health checks (every second from each dependant, every few from kubelet) make no spans."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

    return [aio_server_interceptor(filter_=filters.negate(filters.health_check()))]


def client_interceptors() -> list:
    """grpc.aio client interceptors passing the trace on to the server (none when off)."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors, filters

    return aio_client_interceptors(filter_=filters.negate(filters.health_check()))


def annotate(key: str, value: str | int | float | bool) -> None:
    """Sets an attribute on the current span (nothing when tracing is off: no span records)."""
    if _provider is not None:
        trace.get_current_span().set_attribute(key, value)


def rpc_failed(code: grpc.StatusCode) -> None:
    """Records on the current server span the code a handler ends its call with through
    abort_with_status (the gRPC instrumentation sees only abort and set_code). The span is an
    error only for the codes that mean the server failed, as OpenTelemetry's conventions say;
    NOT_FOUND or INVALID_ARGUMENT are the caller's."""
    if _provider is None:
        return
    span = trace.get_current_span()
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in SERVER_FAULTS:
        span.set_status(trace.StatusCode.ERROR, code.name)


def current_fields() -> dict[str, str]:
    """The current span's context as W3C fields ({"traceparent": ..., "tracestate": ...}; empty
    when tracing is off or no span is current): what an outbox or delivery row stores."""
    if _provider is None:
        return {}
    fields: dict[str, str] = {}
    _propagator.inject(fields)
    return fields


def inject() -> list[tuple[str, bytes]]:
    """The current span's context as Kafka headers; [] when tracing is off."""
    return as_headers(current_fields())


def extract(headers: Iterable[tuple[str, bytes | None]] | None) -> Context:
    """The context a Kafka message's headers carry, for spans that continue its trace. A
    message without them (an old row, another producer) gives an empty context: a new trace."""
    return from_fields(header_fields(headers))


def as_headers(fields: dict[str, str] | None) -> list[tuple[str, bytes]]:
    """Stored W3C fields (an outbox row's) as Kafka headers."""
    return [(name, str(fields[name]).encode()) for name in HEADERS if fields and fields.get(name)]


def header_fields(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The W3C fields among a Kafka message's headers (to store them with what it caused)."""
    if _provider is None:
        return {}
    return {name: bytes(value).decode("latin-1") for name, value in headers or ()
            if name in HEADERS and value is not None}


def from_fields(fields: dict[str, str] | None) -> Context:
    """The context of stored W3C fields (a delivery row's); empty, so spans started in it begin
    a new trace, when there are none or they do not parse."""
    if _provider is None or not fields:
        return _EMPTY
    return _propagator.extract({name: str(fields[name]) for name in HEADERS if name in fields})
