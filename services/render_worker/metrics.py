"""The render worker's Prometheus metrics (docs/metrics.md), recorded in the worker's own process:
the render processes only return what they made, and this process counts it.

Every metric is registered at import, so /metrics lists each one from the first scrape.
`template` is the template's slug, capped at 100 distinct values per process (metrics.Capped);
`limit` is one of LIMITS. The consumer's lag per partition is craftkit.kafka's
(craftkit_kafka_consumer_lag).
"""

from __future__ import annotations

import contextlib
import functools
import time

from prometheus_client import Counter, Gauge, Histogram

from craftkit.metrics import Capped

# What can stop a render (craftkit.render_pool, craftkit.layout): the deployment's limits, and
# the render process dying under it (a crash in C code, the kernel's OOM killer).
LIMITS = ("time", "memory", "pages", "rows", "process_died")
OUTCOMES = ("succeeded", "failed", "killed")

RENDER_DURATION = Histogram(
    "craftkit_render_duration_seconds",
    "Renders from pick-up (the claim) to the PDF stored, by template and outcome: succeeded, "
    "failed (the template's or the data's fault) or killed (a limit stopped it).",
    ["template", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
RENDER_PAGES = Histogram(
    "craftkit_render_pages", "Pages of each PDF rendered.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000))
RENDER_BYTES = Histogram(
    "craftkit_render_bytes", "Size of each PDF rendered, in bytes.",
    buckets=tuple(8192 * 4 ** n for n in range(9)))  # 8 KiB .. 512 MiB
IN_FLIGHT = Gauge(
    "craftkit_renders_in_flight",
    "Renders this worker has claimed and not finished (fetching assets, waiting for a render "
    "process, rendering, storing).")
KILLED = Counter(
    "craftkit_renders_killed_total", "Renders stopped by a limit, by limit.", ["limit"])
S3_PUT = Histogram(
    "craftkit_s3_put_duration_seconds", "Each PUT of a PDF to S3 (every try), by outcome.",
    ["outcome"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
POOL_RESTARTS = Counter(
    "craftkit_render_pool_restarts_total",
    "Render processes replaced because one was killed (time limit, cancelled render), ran out "
    "of memory or died; not the planned replacement every WORKER_RECYCLE_AFTER renders.")

for _limit in LIMITS:
    KILLED.labels(_limit)
for _outcome in ("ok", "error"):
    S3_PUT.labels(_outcome)

templates = Capped(100)


def in_flight(attempt):
    """Decorates the coroutine function that works on one claimed render: in flight while it
    runs, however it ends."""

    @functools.wraps(attempt)
    async def counted(*args, **kwargs):
        with IN_FLIGHT.track_inprogress():
            return await attempt(*args, **kwargs)

    return counted


class Attempt:
    """One claimed render, from pick-up to its outcome: `succeeded`, `failed` or `killed` records
    its duration. An attempt that S3 ends (given back, or refused for good) records none: the
    S3 PUTs' own metric shows those."""

    def __init__(self, template_slug: str) -> None:
        self.template = templates(template_slug or "unknown")
        self.started = time.perf_counter()

    def seconds(self) -> float:
        """Since pick-up."""
        return time.perf_counter() - self.started

    def _done(self, outcome: str) -> None:
        RENDER_DURATION.labels(self.template, outcome).observe(self.seconds())

    def succeeded(self, pdf: bytes, pages: int) -> None:
        self._done("succeeded")
        RENDER_PAGES.observe(pages)
        RENDER_BYTES.observe(len(pdf))

    def failed(self, limit: str | None) -> None:
        """A failed render: killed when a limit stopped it, else the template's or data's fault."""
        if limit is None:
            self._done("failed")
        else:
            self.killed(limit)

    def killed(self, limit: str) -> None:
        self._done("killed")
        KILLED.labels(limit).inc()


@contextlib.contextmanager
def s3_put():
    """Times one PUT to S3; an exception out of it counts as an error."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        S3_PUT.labels(outcome).observe(time.perf_counter() - started)
