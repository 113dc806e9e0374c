"""Inbound hooks: signed URLs a third party POSTs a render's data to, with no API key."""

from __future__ import annotations

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse

from craftkit import errors
from craftkit.v1 import inbound_pb2
from services.gateway import requests, views
from services.gateway.auth import caller, client_address
from services.gateway.routes import RPC_TIMEOUT, api, public, read_json
from services.gateway.routes.renders import enqueue
from services.gateway.state import state


async def inbound_render(request: Request) -> JSONResponse:
    """A third party's POST to a signed hook URL: the body is the render's data. Unknown or
    badly signed URLs cost the client address a failed-authentication token."""
    gateway = state(request)
    async with gateway.failures.failing(client_address(request),
                                        grpc.StatusCode.UNAUTHENTICATED,
                                        grpc.StatusCode.NOT_FOUND):
        hook = await gateway.backends.inbound.ResolveInboundHook(
            inbound_pb2.ResolveInboundHookRequest(hook_id=request.path_params["hook"],
                                                  token=request.path_params["token"]),
            timeout=RPC_TIMEOUT)
    gateway.limiter.take(hook.project_id)
    data = await read_json(request)
    if not isinstance(data, dict):
        raise errors.InvalidRequest("the body must be a JSON object: the render's data")
    return await enqueue(gateway, hook.project_id, hook.template_slug, data,
                         hook.version_number, False, "")


async def create_inbound_hook(request: Request) -> JSONResponse:
    gateway = state(request)
    body = requests.inbound_hook_request(await read_json(request, empty={}))
    hook = await gateway.backends.inbound.CreateInboundHook(
        inbound_pb2.CreateInboundHookRequest(
            project_id=caller(request).project_id, template_slug=request.path_params["slug"],
            version_number=body.get("versionNumber", 0)), timeout=RPC_TIMEOUT)
    return JSONResponse(views.inbound_hook(hook, gateway.settings.public_base_url),
                        status_code=201)


async def list_inbound_hooks(request: Request) -> JSONResponse:
    gateway = state(request)
    reply = await gateway.backends.inbound.ListInboundHooks(
        inbound_pb2.ListInboundHooksRequest(project_id=caller(request).project_id,
                                            template_slug=request.path_params["slug"]),
        timeout=RPC_TIMEOUT)
    base = gateway.settings.public_base_url
    return JSONResponse({"hooks": [views.inbound_hook(h, base) for h in reply.hooks]})


async def revoke_inbound_hook(request: Request) -> JSONResponse:
    gateway = state(request)
    hook = await gateway.backends.inbound.RevokeInboundHook(
        inbound_pb2.RevokeInboundHookRequest(
            project_id=caller(request).project_id, template_slug=request.path_params["slug"],
            hook_id=request.path_params["id"]), timeout=RPC_TIMEOUT)
    return JSONResponse(views.inbound_hook(hook, gateway.settings.public_base_url))


PUBLIC_ROUTES = [
    public("POST", "/v1/hooks/{hook}/{token}", inbound_render),
]
ROUTES = [
    api("POST", "/v1/templates/{slug}/inbound-hooks", create_inbound_hook, scope="full",
        idempotent=True),
    api("GET", "/v1/templates/{slug}/inbound-hooks", list_inbound_hooks, scope="full"),
    api("DELETE", "/v1/templates/{slug}/inbound-hooks/{id}", revoke_inbound_hook, scope="full"),
]
