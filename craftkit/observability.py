"""What every service process sets up first: logs (craftkit.logs), the Prometheus endpoint
(craftkit.metrics) and traces (craftkit.tracing). Each service's __main__ calls `start`."""

from __future__ import annotations

from craftkit import logs, metrics, tracing


def start(service: str) -> None:
    """Logs as LOG_FORMAT says, /metrics on METRICS_LISTEN when set, and spans exported over OTLP
    when OTEL_EXPORTER_OTLP_ENDPOINT is set (nothing recorded when it is not)."""
    logs.setup(service)
    metrics.serve_from_env()
    tracing.setup(service)
