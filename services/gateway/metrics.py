"""The gateway's Prometheus metrics: every request by route template, method and status, and
requests in flight (both kept by services.gateway.requestlog's middleware), rate-limited
requests by limit and project, sync waits, and readiness (craftkit_serving,
craftkit_dependency_up) refreshed every few seconds from the same checks as /readyz.

Served on METRICS_LISTEN only (craftkit.metrics), never on the API port. Label values are bounded:
the route is the matched route's path template (or "unmatched"), never the path a client sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import Counter, Gauge, Histogram
from starlette.routing import Match, Mount
from starlette.types import Scope

from craftkit import metrics

log = logging.getLogger(__name__)

REQUESTS = Histogram("craftkit_http_request_duration_seconds",
                     "REST requests by route template, method and status: time from the request "
                     "to the response's last byte.", ["route", "method", "status"],
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
IN_FLIGHT = Gauge("craftkit_http_requests_in_flight", "REST requests being answered now.",
                  multiprocess_mode="livesum")
RATE_LIMITED = Counter("craftkit_rate_limited_total", "Requests refused with 429 by one of the "
                       "gateway's limits, by limit and project (the first 50 projects a "
                       'process sees; later ones are "other"; "none" when no project is known).',
                       ["limit", "project"])
SYNC_WAITS = Gauge("craftkit_sync_waits_in_progress", "Requests with options.sync held open "
                   "waiting for their render.", multiprocess_mode="livesum")
SYNC_WAITS_ENDED = Counter("craftkit_sync_waits_total", "Sync waits by how they ended: answered "
                           "(200 with the terminal render) or fell_back (202 to poll).",
                           ["outcome"])
for _outcome in ("answered", "fell_back"):
    SYNC_WAITS_ENDED.labels(_outcome)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
BACKENDS = ("status", "enqueue", "webhooks")
READINESS_SECONDS = 5.0
"""How often the readiness gauges are refreshed."""

_projects = metrics.Capped(50)


def request_ended(route: str, method: str, status: int, seconds: float) -> None:
    """One request answered (services.gateway.requestlog, for every request, and the protocol's
    own refusals): `route` a template or "unmatched", `method` one of METHODS or "other"."""
    metrics.child(REQUESTS, route, method, str(status)).observe(seconds)


def route_template(scope: Scope) -> str:
    """The path template of the route that matched (`/v1/renders/{id}`), the mount's prefix
    included; "unmatched" when none did. Starlette's routers leave the route they chose in
    scope["route"] (the innermost one, through mounts)."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    prefix = scope.get("root_path", "")[len(scope.get("app_root_path", "")):]
    if isinstance(route, Mount):
        if not route.routes:  # a mounted app (static files) serves whatever is under it
            return f"{prefix}/{{path}}"
        # A mounted router that did not route: its middleware answered first (the API key
        # check's 401 or 429) or no route below it matched (404).
        route = next((r for r in route.routes if r.matches(scope)[0] is not Match.NONE), None)
    template = getattr(route, "path_format", None)  # "{id:int}" shown as "{id}"
    return prefix + template if template else UNMATCHED


def rate_limited(limit: str, project: str | None) -> None:
    """Counts a 429 that the gateway's limit `limit` decided (services.gateway.limits)."""
    RATE_LIMITED.labels(limit, _projects(project) if project else "none").inc()


@contextlib.contextmanager
def sync_wait():
    """Counts a sync wait in progress; the caller says how it ended with `sync_wait_ended`."""
    SYNC_WAITS.inc()
    try:
        yield
    finally:
        SYNC_WAITS.dec()


def sync_wait_ended(answered: bool) -> None:
    SYNC_WAITS_ENDED.labels("answered" if answered else "fell_back").inc()


@contextlib.asynccontextmanager
async def readiness(check):
    """Refreshes craftkit_serving and craftkit_dependency_up every READINESS_SECONDS while the
    block runs. `check()` answers (ready, {backend: its health status name}) as /readyz does."""
    async def refresh() -> None:
        while True:
            try:
                ready, backends = await check()
                metrics.report_health(ready, {name: backends.get(name) == "SERVING"
                                              for name in BACKENDS})
            except Exception as exc:  # noqa: BLE001 - a failed check is reported as not ready
                log.warning("readiness check for metrics failed: %s", exc)
                metrics.report_health(False, {name: False for name in BACKENDS})
            await asyncio.sleep(READINESS_SECONDS)

    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        metrics.report_health(False, {})
