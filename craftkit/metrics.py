"""Prometheus metrics (prometheus-client): the HTTP endpoint every process serves on
METRICS_LISTEN, and the helpers the services' metrics share. Metric names: docs/metrics.md."""

from __future__ import annotations

import os

import prometheus_client


def serve_from_env() -> int | None:
    """Serves /metrics on METRICS_LISTEN (host:port) when it is set; returns the port."""
    listen = os.environ.get("METRICS_LISTEN", "")
    if not listen:
        return None
    host, _, port = listen.rpartition(":")
    server, _ = prometheus_client.start_http_server(int(port), addr=host or "0.0.0.0")
    return server.server_port
