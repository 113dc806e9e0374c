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
    public("POST", "/v1/hooks/{hook}/{token}", inbound_render, summary="Render through a hook",
           description="A third party POSTs the render's data (the body itself, no `data` "
                       "wrapper) to a hook's signed url, with no API key: 202 as POST …/render "
                       "answers. Unknown, revoked or badly signed urls are 401 and count against "
                       "the client address (429).",
           body=requests.HOOK_DATA,
           answers={202: views.RENDER_CREATED},
           errors=("unauthorized", "rate_limited", "unavailable", "invalid_json",
                   "invalid_request", "invalid_input_data", "template_not_found",
                   "version_not_found", "no_published_version", "payload_too_large",
                   "request_timeout")),
]
ROUTES = [
    api("POST", "/v1/templates/{slug}/inbound-hooks", create_inbound_hook, scope="full",
        idempotent=True, summary="Make an inbound hook",
        description="A signed url that renders the template with the data POSTed to it, no "
                    "key needed (a form tool's webhook). The url is in this answer only.",
        body=requests.INBOUND_HOOK, body_optional=True, answers={201: views.INBOUND_HOOK},
        errors=("template_not_found", "version_not_found"),
        links={"RevokeInboundHook": ("revoke_inbound_hook", {"slug": "$request.path.slug",
                                                             "id": "$response.body#/id"})}),
    api("GET", "/v1/templates/{slug}/inbound-hooks", list_inbound_hooks, scope="full",
        summary="List a template's inbound hooks", answers={200: views.INBOUND_HOOK_LIST},
        errors=("template_not_found",)),
    api("DELETE", "/v1/templates/{slug}/inbound-hooks/{id}", revoke_inbound_hook, scope="full",
        summary="Revoke an inbound hook", answers={200: views.INBOUND_HOOK},
        errors=("not_found", "template_not_found")),
]
