"""Rate limits the gateway keeps in memory, per replica."""

from __future__ import annotations

import contextlib
import time

import grpc

from craftkit import errors
from services.gateway import metrics


class RateLimiter:
    """A token bucket per key (a project, a client address): `rate` tokens a second, bursts up
    to `burst`. Keeps at most `size` buckets, forgetting the least recently used. Each refusal
    is counted in craftkit_rate_limited_total under `limit`, and under the key as the project
    when `by_project` (a client address is never a label)."""

    def __init__(self, rate: float, burst: int, what: str = "requests a second for this project",
                 size: int = 100_000, *, limit: str = "requests", by_project: bool = True) -> None:
        self.rate, self.burst, self.what, self.size = rate, burst, what, size
        self.limit, self.by_project = limit, by_project
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> None:
        """Spends a token, or raises RateLimited carrying the wait until the next one."""
        wait = self._take(key)
        if wait is not None:
            metrics.rate_limited(self.limit, key if self.by_project else None)
            raise errors.RateLimited(f"over {self.rate:g} {self.what}; back off with jitter and "
                                     f"retry in {wait:.2f}s", retry_after=wait)

    def _take(self, key: str) -> float | None:
        """Spends a token; None when there was one, else the seconds until the next."""
        if self.rate <= 0:
            return None
        now = time.monotonic()
        tokens, last = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        self.buckets[key] = (tokens if tokens < 1 else tokens - 1, now)
        if len(self.buckets) > self.size:
            del self.buckets[next(iter(self.buckets))]
        return (1 - tokens) / self.rate if tokens < 1 else None

    def spend(self, key: str, amount: float) -> None:
        """Spends `amount` tokens at once, going into debt if need be (a cost known only
        afterwards, like the seconds a preview took): `key` is refused until it is repaid."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, last = self.buckets.pop(key, (self.burst, now))
        self.buckets[key] = (min(self.burst, tokens + (now - last) * self.rate) - amount, now)
        if len(self.buckets) > self.size:
            del self.buckets[next(iter(self.buckets))]

    @contextlib.asynccontextmanager
    async def spending(self, key: str):
        """Spends the seconds the block takes (however it ends)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.spend(key, time.monotonic() - started)

    def check(self, key: str) -> None:
        """Raises RateLimited if `key` has no token left, spending none."""
        tokens, last = self.buckets.get(key, (self.burst, 0.0))
        if self.rate > 0 and tokens + (time.monotonic() - last) * self.rate < 1:
            self.take(key)

    @contextlib.asynccontextmanager
    async def failing(self, key: str, *codes: grpc.StatusCode):
        """Refuses `key` while it has no token; a call failing with one of `codes` spends one."""
        self.check(key)
        try:
            yield
        except grpc.aio.AioRpcError as exc:
            if exc.code() in codes:
                self._take(key)  # the next call is refused (and counted), not this one
            raise


class Streams:
    """Download streams open per project in this gateway process. Each holds one connection of
    the S3 client's pool for as long as its client takes to read: a client that stops reading
    holds it until it goes away. Capping each project keeps one project's stalled clients (or a
    share link's) from taking the whole pool and every other project's downloads with it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}

    def enter(self, project: str) -> None:
        """Counts a stream for `project`, or raises RateLimited when it has `limit` open."""
        count = self.open.get(project, 0)
        if self.limit > 0 and count >= self.limit:
            metrics.rate_limited("download_streams", project.split(" ")[0])  # "<id> share-links"
            raise errors.RateLimited(
                f"this project has {count} downloads in progress on this server, the most "
                "DOWNLOAD_STREAMS_PER_PROJECT allows; retry when one has finished",
                retry_after=1)
        self.open[project] = count + 1

    def leave(self, project: str) -> None:
        count = self.open.pop(project, 1) - 1
        if count > 0:
            self.open[project] = count
