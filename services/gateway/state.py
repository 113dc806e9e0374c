"""What the gateway holds while it runs: its settings, the gRPC stubs, and caches. One typed
`State` per application (`state(request)`), built when the application starts."""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx
from grpc_health.v1 import health_pb2_grpc
from starlette.requests import HTTPConnection

from craftkit.service import channel
from craftkit.v1 import (downloads_pb2_grpc, enqueue_pb2_grpc, idempotency_pb2_grpc,
                         inbound_pb2_grpc, projects_pb2_grpc, status_pb2_grpc,
                         templates_pb2_grpc, webhooks_pb2_grpc)
from services.gateway import downloads
from services.gateway.auth import KeyCache
from services.gateway.limits import RateLimiter, Streams
from services.gateway.previews import Previews
from services.gateway.settings import Settings


@dataclass(frozen=True)
class Backends:
    status: status_pb2_grpc.StatusServiceStub
    enqueue: enqueue_pb2_grpc.EnqueueServiceStub
    templates: templates_pb2_grpc.TemplateServiceStub
    projects: projects_pb2_grpc.ProjectServiceStub
    inbound: inbound_pb2_grpc.InboundHookServiceStub
    webhooks: webhooks_pb2_grpc.WebhookServiceStub
    idempotency: idempotency_pb2_grpc.IdempotencyServiceStub
    downloads: downloads_pb2_grpc.DownloadServiceStub
    health: dict[str, health_pb2_grpc.HealthStub]


class TerminalRenders:
    """The GET body of renders that are terminal, served from memory: an LRU of `size` entries
    keyed by project and render. A terminal render changes once more at most, when retention
    expires it (downloadUrl null, expiredAt set), so an entry is kept `ttl` seconds, and one
    already expired for as long as the LRU keeps it. A body whose downloadUrl expires
    (DOWNLOAD_URL_MODE=presigned) is served only for the first tenth of that URL's life, so
    every downloadUrl handed out has at least 90 % of its life left."""

    FRESH_SHARE = 0.1

    def __init__(self, size: int, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self.entries: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()

    def get(self, project: str, render_id: str) -> bytes | None:
        entry = self.entries.get((project, render_id))
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self.entries[(project, render_id)]
            return None
        self.entries.move_to_end((project, render_id))
        return entry[0]

    def put(self, project: str, render_id: str, body: bytes, url_expires_at_ms: int = 0, *,
            expired: bool = False) -> None:
        """Keeps `body`; `url_expires_at_ms` (epoch ms, 0: never) is when its downloadUrl stops
        working; `expired`: retention has run on the render, nothing about it changes now."""
        if self.size <= 0 or self.ttl <= 0:
            return
        good_until = math.inf if expired else time.monotonic() + self.ttl
        if url_expires_at_ms:
            life = url_expires_at_ms / 1000 - time.time()
            good_until = min(good_until, time.monotonic() + max(0.0, life) * self.FRESH_SHARE)
        self.entries[(project, render_id)] = (body, good_until)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


@dataclass(frozen=True)
class State:
    settings: Settings
    backends: Backends
    keys: KeyCache
    """Verified API keys (services.gateway.auth)."""
    limiter: RateLimiter
    """Requests per project."""
    failures: RateLimiter
    """Failed authentications per client address."""
    terminal: TerminalRenders
    previews: Previews
    """The render processes of previews (services.gateway.previews)."""
    preview_limiter: RateLimiter
    """Previews per project."""
    preview_time: RateLimiter
    """Seconds of preview rendering per project (each preview spends what it took)."""
    http: httpx.AsyncClient
    """Fetches PDFs from S3 for the download streams (services.gateway.downloads)."""
    streams: Streams
    """Download streams in progress per project."""


def state(request: HTTPConnection) -> State:
    return request.app.state.gateway


@contextlib.asynccontextmanager
async def running(settings: Settings):
    """The State, with its channels open until the block ends."""
    status = channel(settings.status_address, settings.security)
    enqueue = channel(settings.enqueue_address, settings.security)
    webhooks = channel(settings.webhooks_address, settings.security)
    backends = Backends(
        status=status_pb2_grpc.StatusServiceStub(status),
        enqueue=enqueue_pb2_grpc.EnqueueServiceStub(enqueue),
        templates=templates_pb2_grpc.TemplateServiceStub(status),
        projects=projects_pb2_grpc.ProjectServiceStub(status),
        inbound=inbound_pb2_grpc.InboundHookServiceStub(status),
        webhooks=webhooks_pb2_grpc.WebhookServiceStub(webhooks),
        idempotency=idempotency_pb2_grpc.IdempotencyServiceStub(status),
        downloads=downloads_pb2_grpc.DownloadServiceStub(status),
        health={"status": health_pb2_grpc.HealthStub(status),
                "enqueue": health_pb2_grpc.HealthStub(enqueue),
                "webhooks": health_pb2_grpc.HealthStub(webhooks)})
    failures = RateLimiter(settings.auth_failure_rate_per_second, settings.auth_failure_burst,
                           "failed authentications a second from this address",
                           limit="auth_failures", by_project=False)
    previews = Previews(settings.preview_processes, settings.render_limits,
                        settings.render_memory_limit_mb)
    http = downloads.client()
    try:
        yield State(
            settings=settings, backends=backends,
            keys=KeyCache(backends.projects, settings.key_cache_seconds, failures,
                          stale=settings.key_stale_seconds),
            limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
            failures=failures, terminal=TerminalRenders(settings.render_cache_size,
                                                          settings.render_cache_seconds),
            previews=previews,
            preview_limiter=RateLimiter(settings.preview_rate_per_second, settings.preview_burst,
                                        "previews a second for this project", limit="previews"),
            preview_time=RateLimiter(settings.preview_seconds_per_second,
                                     settings.preview_seconds_burst,
                                     "seconds of preview rendering a second for this project",
                                     limit="preview_seconds"),
            http=http, streams=Streams(settings.download_streams_per_project))
    finally:
        await http.aclose()
        previews.close()
        for open_channel in (status, enqueue, webhooks):
            await open_channel.close()
