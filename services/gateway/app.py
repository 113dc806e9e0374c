"""The REST v1 gateway: authenticates, validates the request's shape, calls the gRPC services, and
answers in one JSON error envelope. Holds no state but caches (verified keys, rate buckets)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from craftkit import errors
from craftkit.service import channel
from craftkit.renders import TERMINAL, STATUS_NAME
from craftkit.v1 import (enqueue_pb2, enqueue_pb2_grpc, inbound_pb2, inbound_pb2_grpc,
                         projects_pb2, projects_pb2_grpc, status_pb2, status_pb2_grpc,
                         templates_pb2, templates_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc)
from services.gateway import requests, views
from services.gateway.settings import Settings

log = logging.getLogger(__name__)

RPC_TIMEOUT = 10
# A sync wait that ends with one of these answers 202 (the render is accepted; poll it).
WAIT_CUT_SHORT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                            grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclass
class Backends:
    status: status_pb2_grpc.StatusServiceStub
    enqueue: enqueue_pb2_grpc.EnqueueServiceStub
    templates: templates_pb2_grpc.TemplateServiceStub
    projects: projects_pb2_grpc.ProjectServiceStub
    inbound: inbound_pb2_grpc.InboundHookServiceStub
    webhooks: webhooks_pb2_grpc.WebhookServiceStub
    health: dict[str, health_pb2_grpc.HealthStub]


class KeyCache:
    """Bearer key -> project id, asking the project service once per KEY_CACHE_SECONDS. Lookups
    that fail cost the client address a token of `failures`, so unknown keys cannot hammer the
    database: with none left the address gets 429 without a lookup."""

    def __init__(self, projects: projects_pb2_grpc.ProjectServiceStub, ttl: float,
                 failures: RateLimiter, size: int = 10_000) -> None:
        self.projects, self.ttl, self.failures, self.size = projects, ttl, failures, size
        self.entries: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def project(self, header: str | None, address: str) -> str:
        scheme, _, key = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise errors.Unauthorized("send your API key as 'Authorization: Bearer ck_live_…'")
        digest = hashlib.sha256(key.strip().encode()).hexdigest()
        hit = self.entries.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        async with self.failures.failing(address, grpc.StatusCode.UNAUTHENTICATED):
            project = await self.projects.Authenticate(
                projects_pb2.AuthenticateRequest(key_sha256=digest), timeout=RPC_TIMEOUT)
        self.entries[digest] = (project.id, now + self.ttl)
        self.entries.move_to_end(digest)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return project.id


class TerminalRenders:
    """The GET body of renders that are terminal. Those never change (the database refuses it),
    so they are served from memory: an LRU of `size` entries keyed by project and render."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, project: str, render_id: str) -> bytes | None:
        body = self.entries.get((project, render_id))
        if body is not None:
            self.entries.move_to_end((project, render_id))
        return body

    def put(self, project: str, render_id: str, body: bytes) -> None:
        if self.size > 0:
            self.entries[(project, render_id)] = body
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


class RateLimiter:
    """A token bucket per key (a project, a client address): `rate` tokens a second, bursts up
    to `burst`. Keeps at most `size` buckets, forgetting the least recently used."""

    def __init__(self, rate: float, burst: int, what: str = "requests a second for this project",
                 size: int = 100_000) -> None:
        self.rate, self.burst, self.what, self.size = rate, burst, what, size
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> None:
        """Spends a token, or raises RateLimited carrying the wait until the next one."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, last = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        self.buckets[key] = (tokens if tokens < 1 else tokens - 1, now)
        if len(self.buckets) > self.size:
            del self.buckets[next(iter(self.buckets))]
        if tokens < 1:
            wait = (1 - tokens) / self.rate
            raise errors.RateLimited(f"over {self.rate:g} {self.what}; back off with jitter and "
                                     f"retry in {wait:.2f}s", retry_after=wait)

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
                with contextlib.suppress(errors.RateLimited):
                    self.take(key)
            raise


async def serving(stub: health_pb2_grpc.HealthStub, service: str = "") -> str:
    """A backend's health status for `service` ("SERVING", "NOT_SERVING", ...), or the gRPC
    error's name when it cannot be asked ("UNAVAILABLE", "DEADLINE_EXCEEDED")."""
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    except grpc.aio.AioRpcError as exc:
        return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    base = settings.public_base_url

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
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
            health={"status": health_pb2_grpc.HealthStub(status),
                    "enqueue": health_pb2_grpc.HealthStub(enqueue),
                    "webhooks": health_pb2_grpc.HealthStub(webhooks)})
        app.state.backends = backends
        app.state.failures = RateLimiter(
            settings.auth_failure_rate_per_second, settings.auth_failure_burst,
            "failed authentications a second from this address")
        app.state.keys = KeyCache(backends.projects, settings.key_cache_seconds,
                                  app.state.failures)
        app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        app.state.terminal = TerminalRenders(settings.render_cache_size)
        try:
            yield
        finally:
            for open_channel in (status, enqueue, webhooks):
                await open_channel.close()

    async def project_of(request: Request) -> str:
        project = await request.app.state.keys.project(request.headers.get("authorization"),
                                                       _address(request))
        request.app.state.limiter.take(project)
        return project

    async def read_json(request: Request, empty: object = None) -> object:
        return await requests.read_json(request, settings.max_body_bytes, empty)

    async def render_template(request: Request) -> JSONResponse:
        project = await project_of(request)
        data, version, sync, filename = requests.render_request(await read_json(request))
        return await enqueue(request, project, request.path_params["slug"], data, version, sync,
                             filename)

    async def inbound_render(request: Request) -> JSONResponse:
        """A third party's POST to a signed hook URL: the body is the render's data."""
        async with request.app.state.failures.failing(_address(request),
                                                      grpc.StatusCode.UNAUTHENTICATED,
                                                      grpc.StatusCode.NOT_FOUND):
            hook = await request.app.state.backends.inbound.ResolveInboundHook(
                inbound_pb2.ResolveInboundHookRequest(hook_id=request.path_params["hook"],
                                                      token=request.path_params["token"]),
                timeout=RPC_TIMEOUT)
        request.app.state.limiter.take(hook.project_id)
        data = await read_json(request)
        if not isinstance(data, dict):
            raise errors.InvalidRequest("the body must be a JSON object: the render's data")
        return await enqueue(request, hook.project_id, hook.template_slug, data,
                             hook.version_number, False, "")

    async def enqueue(request: Request, project: str, slug: str, data: dict, version: int,
                      sync: bool, filename: str) -> JSONResponse:
        backends: Backends = request.app.state.backends
        reply = await backends.enqueue.EnqueueRender(enqueue_pb2.EnqueueRenderRequest(
            project_id=project, template_slug=slug, data_json=_dumps(data),
            version_number=version, filename=filename), timeout=RPC_TIMEOUT)
        render = reply.render
        if sync and STATUS_NAME[render.status] not in TERMINAL:
            render = await wait(backends, project, render)
        if sync and STATUS_NAME[render.status] in TERMINAL:
            return JSONResponse(views.render(render, base))
        body = views.render_created(render, base)
        return JSONResponse(body, status_code=202, headers={"location": body["pollUrl"]})

    async def wait(backends: Backends, project: str, render):
        """`render` once terminal, or as accepted when the wait cannot finish: a status replica
        stopping mid-wait (a rollout) or unreachable. The render is accepted either way, so the
        client gets its 202 to poll, never a 503 that reads as "not accepted, retry"."""
        timeout = settings.sync_timeout_seconds
        try:
            return await backends.status.WaitRender(status_pb2.WaitRenderRequest(
                project_id=project, render_id=render.id, timeout_ms=int(timeout * 1000)),
                timeout=timeout + RPC_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in WAIT_CUT_SHORT:
                raise
            log.warning("render %s: the sync wait ended early (%s: %s); answering 202",
                        render.id, exc.code().name, exc.details())
            return render

    async def get_render(request: Request) -> Response:
        project = await project_of(request)
        render_id = request.path_params["id"]
        cache: TerminalRenders = request.app.state.terminal
        body = cache.get(project, render_id)
        if body is None:
            render = await request.app.state.backends.status.GetRender(
                status_pb2.GetRenderRequest(project_id=project, render_id=render_id),
                timeout=RPC_TIMEOUT)
            body = _dumps(views.render(render, base)).encode()
            if STATUS_NAME[render.status] in TERMINAL:
                cache.put(project, render_id, body)
        return Response(body, media_type="application/json")

    async def create_template(request: Request) -> JSONResponse:
        project = await project_of(request)
        body = requests.template_request(await read_json(request))
        template = await request.app.state.backends.templates.CreateTemplate(
            templates_pb2.CreateTemplateRequest(
                project_id=project, slug=body["slug"], name=body.get("name", ""),
                default_filename=body.get("defaultFilename", "")), timeout=RPC_TIMEOUT)
        return JSONResponse(views.template(template), status_code=201)

    async def list_templates(request: Request) -> JSONResponse:
        project = await project_of(request)
        reply = await request.app.state.backends.templates.ListTemplates(
            templates_pb2.ListTemplatesRequest(project_id=project), timeout=RPC_TIMEOUT)
        return JSONResponse({"templates": [views.template(t, with_versions=False)
                                           for t in reply.templates]})

    async def get_template(request: Request) -> JSONResponse:
        project = await project_of(request)
        template = await request.app.state.backends.templates.GetTemplate(
            templates_pb2.GetTemplateRequest(project_id=project, slug=request.path_params["slug"]),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.template(template))

    async def add_version(request: Request) -> JSONResponse:
        project = await project_of(request)
        body = requests.version_request(await read_json(request))
        version = await request.app.state.backends.templates.AddVersion(
            templates_pb2.AddVersionRequest(
                project_id=project, slug=request.path_params["slug"],
                manifest_json=_dumps(body["manifest"]), layout_json=_dumps(body["layout"])),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.version(version), status_code=201)

    async def publish_version(request: Request) -> JSONResponse:
        project = await project_of(request)
        template = await request.app.state.backends.templates.PublishVersion(
            templates_pb2.PublishVersionRequest(
                project_id=project, slug=request.path_params["slug"],
                number=request.path_params["number"]), timeout=RPC_TIMEOUT)
        return JSONResponse(views.template(template))

    async def version_schema(request: Request) -> JSONResponse:
        project = await project_of(request)
        reply = await request.app.state.backends.templates.GetVersionSchema(
            templates_pb2.GetVersionSchemaRequest(
                project_id=project, slug=request.path_params["slug"],
                number=request.path_params["number"], api_base_url=base), timeout=RPC_TIMEOUT)
        return JSONResponse({"number": reply.number, "schema": json.loads(reply.schema_json),
                             "example": json.loads(reply.example_json), "curl": reply.curl})

    async def put_asset(request: Request) -> JSONResponse:
        project = await project_of(request)
        data = await requests.read_body(request, settings.max_asset_bytes)
        asset = await request.app.state.backends.templates.PutAsset(
            templates_pb2.PutAssetRequest(project_id=project, slug=request.path_params["slug"],
                                          name=request.path_params["name"], data=data),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.asset(asset), status_code=201)

    async def list_assets(request: Request) -> JSONResponse:
        project = await project_of(request)
        reply = await request.app.state.backends.templates.ListAssets(
            templates_pb2.ListAssetsRequest(project_id=project, slug=request.path_params["slug"]),
            timeout=RPC_TIMEOUT)
        return JSONResponse({"assets": [views.asset(a) for a in reply.assets]})

    async def create_inbound_hook(request: Request) -> JSONResponse:
        project = await project_of(request)
        body = requests.inbound_hook_request(await read_json(request, empty={}))
        hook = await request.app.state.backends.inbound.CreateInboundHook(
            inbound_pb2.CreateInboundHookRequest(
                project_id=project, template_slug=request.path_params["slug"],
                version_number=body.get("versionNumber", 0)), timeout=RPC_TIMEOUT)
        return JSONResponse(views.inbound_hook(hook, base), status_code=201)

    async def list_inbound_hooks(request: Request) -> JSONResponse:
        project = await project_of(request)
        reply = await request.app.state.backends.inbound.ListInboundHooks(
            inbound_pb2.ListInboundHooksRequest(project_id=project,
                                                template_slug=request.path_params["slug"]),
            timeout=RPC_TIMEOUT)
        return JSONResponse({"hooks": [views.inbound_hook(h, base) for h in reply.hooks]})

    async def revoke_inbound_hook(request: Request) -> JSONResponse:
        project = await project_of(request)
        hook = await request.app.state.backends.inbound.RevokeInboundHook(
            inbound_pb2.RevokeInboundHookRequest(
                project_id=project, template_slug=request.path_params["slug"],
                hook_id=request.path_params["id"]), timeout=RPC_TIMEOUT)
        return JSONResponse(views.inbound_hook(hook, base))

    async def create_webhook(request: Request) -> JSONResponse:
        project = await project_of(request)
        body = requests.webhook_request(await read_json(request), creating=True)
        endpoint = await request.app.state.backends.webhooks.CreateEndpoint(
            webhooks_pb2.CreateEndpointRequest(project_id=project, url=body["url"],
                                               events=body.get("events", [])),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.endpoint(endpoint), status_code=201)

    async def list_webhooks(request: Request) -> JSONResponse:
        project = await project_of(request)
        reply = await request.app.state.backends.webhooks.ListEndpoints(
            webhooks_pb2.ListEndpointsRequest(project_id=project), timeout=RPC_TIMEOUT)
        return JSONResponse({"webhooks": [views.endpoint(e) for e in reply.endpoints]})

    async def update_webhook(request: Request) -> JSONResponse:
        project = await project_of(request)
        body = requests.webhook_request(await read_json(request), creating=False)
        endpoint = await request.app.state.backends.webhooks.UpdateEndpoint(
            webhooks_pb2.UpdateEndpointRequest(
                project_id=project, endpoint_id=request.path_params["id"],
                has_url="url" in body, url=body.get("url", ""),
                has_events="events" in body, events=body.get("events", []),
                has_enabled="enabled" in body, enabled=body.get("enabled", False)),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.endpoint(endpoint))

    async def delete_webhook(request: Request) -> JSONResponse:
        project = await project_of(request)
        endpoint = await request.app.state.backends.webhooks.DeleteEndpoint(
            webhooks_pb2.EndpointRef(project_id=project, endpoint_id=request.path_params["id"]),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.endpoint(endpoint))

    async def rotate_webhook_secret(request: Request) -> JSONResponse:
        project = await project_of(request)
        body = requests.rotate_request(await read_json(request, empty={}))
        endpoint = await request.app.state.backends.webhooks.RotateSecret(
            webhooks_pb2.RotateSecretRequest(project_id=project,
                                             endpoint_id=request.path_params["id"],
                                             overlap_seconds=body.get("overlapSeconds", 0)),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.endpoint(endpoint))

    async def list_deliveries(request: Request) -> JSONResponse:
        project = await project_of(request)
        limit = requests.limit_param(request.query_params.get("limit", "50"))
        reply = await request.app.state.backends.webhooks.ListDeliveries(
            webhooks_pb2.ListDeliveriesRequest(project_id=project,
                                               endpoint_id=request.path_params["id"],
                                               limit=limit), timeout=RPC_TIMEOUT)
        return JSONResponse({"deliveries": [views.delivery(d) for d in reply.deliveries]})

    async def redeliver(request: Request) -> JSONResponse:
        project = await project_of(request)
        delivery = await request.app.state.backends.webhooks.Redeliver(
            webhooks_pb2.RedeliverRequest(project_id=project, endpoint_id=request.path_params["id"],
                                          delivery_id=request.path_params["delivery"]),
            timeout=RPC_TIMEOUT)
        return JSONResponse(views.delivery(delivery), status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        """Ready when the status service is: every route authenticates through it. Enqueue,
        webhooks and Kafka serve only some routes (and a POST stays safe while Kafka is away),
        so they are reported in the body but never take the gateway out of service."""
        health = request.app.state.backends.health
        names = {"status": ("status", ""), "enqueue": ("enqueue", ""),
                 "webhooks": ("webhooks", ""), "kafka": ("enqueue", "kafka")}
        states = dict(zip(names, await asyncio.gather(
            *(serving(health[backend], service) for backend, service in names.values()))))
        ready = states["status"] == "SERVING"
        return JSONResponse({"ready": ready, "requires": ["status"], "backends": states},
                            status_code=200 if ready else 503)

    routes = [
        _route("/v1/templates/{slug}/render", render_template, methods=["POST"]),
        _route("/v1/renders/{id}", get_render, methods=["GET"]),
        _route("/v1/templates", create_template, methods=["POST"]),
        _route("/v1/templates", list_templates, methods=["GET"]),
        _route("/v1/templates/{slug}", get_template, methods=["GET"]),
        _route("/v1/templates/{slug}/versions", add_version, methods=["POST"]),
        _route("/v1/templates/{slug}/versions/{number}/publish", publish_version,
              methods=["POST"]),
        _route("/v1/templates/{slug}/versions/{number}/schema", version_schema,
              methods=["GET"]),
        _route("/v1/templates/{slug}/assets/{name}", put_asset, methods=["PUT"]),
        _route("/v1/templates/{slug}/assets", list_assets, methods=["GET"]),
        _route("/v1/templates/{slug}/inbound-hooks", create_inbound_hook, methods=["POST"]),
        _route("/v1/templates/{slug}/inbound-hooks", list_inbound_hooks, methods=["GET"]),
        _route("/v1/templates/{slug}/inbound-hooks/{id}", revoke_inbound_hook, methods=["DELETE"]),
        _route("/v1/hooks/{hook}/{token}", inbound_render, methods=["POST"]),
        _route("/v1/webhooks", create_webhook, methods=["POST"]),
        _route("/v1/webhooks", list_webhooks, methods=["GET"]),
        _route("/v1/webhooks/{id}", update_webhook, methods=["PATCH"]),
        _route("/v1/webhooks/{id}", delete_webhook, methods=["DELETE"]),
        _route("/v1/webhooks/{id}/rotate-secret", rotate_webhook_secret, methods=["POST"]),
        _route("/v1/webhooks/{id}/deliveries", list_deliveries, methods=["GET"]),
        _route("/v1/webhooks/{id}/deliveries/{delivery}/redeliver", redeliver, methods=["POST"]),
        _route("/healthz", healthz),
        _route("/readyz", readyz),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        errors.ApiError: api_error, grpc.aio.AioRpcError: rpc_error,
        HTTPException: http_error, Exception: unexpected_error})


def _route(path: str, endpoint, **kwargs) -> Route:
    """A route whose path parameters are checked (requests.check_path) before `endpoint` runs:
    one place for every route."""
    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        requests.check_path(request.path_params)
        return await endpoint(request)
    return Route(path, checked, **kwargs)


def _address(request: Request) -> str:
    """The client's address (from X-Forwarded-For when the peer is a trusted proxy: uvicorn's
    proxy_headers with FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def error_response(error: errors.ApiError) -> JSONResponse:
    """The envelope; Retry-After is the limiter's wait rounded up (1 s for `unavailable`)."""
    headers = {}
    if error.code in ("rate_limited", "unavailable"):
        wait = getattr(error, "retry_after", None) or 1
        headers["retry-after"] = str(max(1, math.ceil(wait)))
    return JSONResponse(error.body(), status_code=errors.http_status(error), headers=headers)


async def api_error(request: Request, exc: errors.ApiError) -> JSONResponse:
    return error_response(exc)


async def rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
    error = errors.from_rpc_error(exc)
    if errors.http_status(error) >= 500:
        log.warning("%s %s: backend said %s: %s", request.method, request.url.path,
                    exc.code().name, exc.details())
    return error_response(error)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    path = errors.shorten(request.url.path)
    message = {404: f"no route for {request.method} {path}",
               405: f"{request.method} is not allowed on {path}"}.get(
        exc.status_code, str(exc.detail))
    return JSONResponse({"error": {"code": code, "message": message}},
                        status_code=exc.status_code, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": {"code": "internal", "message": "internal error"}},
                        status_code=500)
