"""Renders: enqueue one from a template (async, or sync up to SYNC_TIMEOUT_SECONDS), read it,
list them a page at a time, cancel a queued one."""

from __future__ import annotations

import logging

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftkit.renders import STATUS_NAME, TERMINAL
from craftkit.v1 import downloads_pb2, enqueue_pb2, render_pb2, status_pb2
from services.gateway import downloads, metrics, requests, views
from services.gateway.auth import caller
from services.gateway.routes import RPC_TIMEOUT, api, dumps, read_json
from services.gateway.state import State, state

log = logging.getLogger(__name__)

# A sync wait that ends with one of these answers 202 (the render is accepted; poll it).
WAIT_CUT_SHORT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                            grpc.StatusCode.DEADLINE_EXCEEDED})


async def render_template(request: Request) -> JSONResponse:
    data, version, sync, filename = requests.render_request(await read_json(request))
    return await enqueue(state(request), caller(request).project_id,
                         request.path_params["slug"], data, version, sync, filename)


async def get_render(request: Request) -> Response:
    gateway, project = state(request), caller(request).project_id
    render_id = request.path_params["id"]
    body = gateway.terminal.get(project, render_id)
    if body is None:
        render = await gateway.backends.status.GetRender(
            status_pb2.GetRenderRequest(project_id=project, render_id=render_id),
            timeout=RPC_TIMEOUT)
        body = dumps(views.render(render, gateway.settings.public_base_url)).encode()
        if STATUS_NAME[render.status] in TERMINAL:
            gateway.terminal.put(project, render_id, body, render.download_url_expires_at_ms,
                                 expired=render.expired_at_ms > 0)
    return Response(body, media_type="application/json")


async def download(request: Request) -> Response:
    """The render's PDF, streamed from S3 (services.gateway.downloads)."""
    gateway = state(request)
    found = await gateway.backends.downloads.GetDownload(downloads_pb2.GetDownloadRequest(
        project_id=caller(request).project_id, render_id=request.path_params["id"]),
        timeout=RPC_TIMEOUT)
    return await downloads.stream(request, gateway, found)


async def list_renders(request: Request) -> JSONResponse:
    """GET /v1/renders: `{data: [renders as GET shows them], nextCursor}`, newest first."""
    gateway, project = state(request), caller(request).project_id
    reply = await gateway.backends.status.ListRenders(status_pb2.ListRendersRequest(
        project_id=project, **requests.renders_query(request.query_params)), timeout=RPC_TIMEOUT)
    base = gateway.settings.public_base_url
    return JSONResponse({"data": [views.render(r, base) for r in reply.renders],
                         "nextCursor": reply.next_cursor or None})


async def cancel_render(request: Request) -> JSONResponse:
    """POST /v1/renders/{id}/cancel: 200 with the cancelled render; 409 not_cancellable once it
    is rendering or terminal."""
    gateway, project = state(request), caller(request).project_id
    render = await gateway.backends.status.CancelRender(status_pb2.CancelRenderRequest(
        project_id=project, render_id=request.path_params["id"]), timeout=RPC_TIMEOUT)
    return JSONResponse(views.render(render, gateway.settings.public_base_url))


async def enqueue(gateway: State, project: str, slug: str, data: dict, version: int,
                  sync: bool, filename: str) -> JSONResponse:
    """Enqueues a render (the REST POST and inbound hooks): 202 with its pollUrl, or, with
    `sync`, the render once terminal (202 still when the wait runs out)."""
    reply = await gateway.backends.enqueue.EnqueueRender(enqueue_pb2.EnqueueRenderRequest(
        project_id=project, template_slug=slug, data_json=dumps(data),
        version_number=version, filename=filename), timeout=RPC_TIMEOUT)
    render = reply.render
    if sync and STATUS_NAME[render.status] not in TERMINAL:
        with metrics.sync_wait():
            render = await wait(gateway, project, render)
        metrics.sync_wait_ended(answered=STATUS_NAME[render.status] in TERMINAL)
    base = gateway.settings.public_base_url
    if sync and STATUS_NAME[render.status] in TERMINAL:
        render.template_slug = render.template_slug or slug  # the wait's answer may not join it
        return JSONResponse(views.render(render, base))
    body = views.render_created(render, base)
    return JSONResponse(body, status_code=202, headers={"location": body["pollUrl"]})


async def wait(gateway: State, project: str, render: render_pb2.Render) -> render_pb2.Render:
    """`render` once terminal, or as accepted when the wait cannot finish: a status replica
    stopping mid-wait (a rollout) or unreachable. The render is accepted either way, so the
    client gets its 202 to poll, never a 503 that reads as "not accepted, retry"."""
    timeout = gateway.settings.sync_timeout_seconds
    try:
        return await gateway.backends.status.WaitRender(status_pb2.WaitRenderRequest(
            project_id=project, render_id=render.id, timeout_ms=int(timeout * 1000)),
            timeout=timeout + RPC_TIMEOUT)
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in WAIT_CUT_SHORT:
            raise
        log.warning("render %s: the sync wait ended early (%s: %s); answering 202",
                    render.id, exc.code().name, exc.details())
        return render


RENDER_LINKS = {
    "GetRender": ("get_render", {"id": "$response.body#/id"}),
    "CancelRender": ("cancel_render", {"id": "$response.body#/id"}),
    "DownloadRender": ("download", {"id": "$response.body#/id"}),
    "CreateShareLink": ("create_share_link", {"id": "$response.body#/id"}),
}
"""Where a render's answer leads: read it, cancel it, download it, share it."""
DOWNLOAD_ERRORS = ("not_found", "render_not_ready", "render_failed", "render_expired")
"""What a download answers before any byte (a PDF not there yet, never, or no longer)."""

ROUTES = [
    api("POST", "/v1/templates/{slug}/render", render_template, scope="render", idempotent=True,
        summary="Render a template",
        description="Enqueues a render of the template's published version (or "
                    "options.versionNumber) with `data`: 202 with its pollUrl. Poll it 200 ms "
                    "after, then ×1.5 up to 1 s, for at most 30 s, or subscribe a webhook. With "
                    "options.sync the answer waits for the render (200 once it is done).",
        body=requests.RENDER, answers={202: views.RENDER_CREATED, 200: views.RENDER},
        errors=("invalid_input_data", "template_not_found", "version_not_found",
                "no_published_version"), links=RENDER_LINKS),
    api("GET", "/v1/renders", list_renders, scope="download", summary="List renders",
        description="Newest first, filtered; `nextCursor` is null on the last page.",
        query=requests.RENDERS_QUERY, answers={200: views.RENDER_LIST},
        errors=("template_not_found",)),
    api("GET", "/v1/renders/{id}", get_render, scope="download", summary="Get a render",
        description="Its status; once succeeded, download it. Terminal renders never change.",
        answers={200: views.RENDER}, errors=("not_found",), links=RENDER_LINKS),
    api("GET", "/v1/renders/{id}/download", download, scope="download",
        summary="Download a render's PDF",
        description="The PDF, streamed (works with a private bucket). Range (one range), "
                    "If-Range and If-None-Match are honoured: 206 with Content-Range, 304, "
                    "416. HEAD answers the headers only.",
        headers=downloads.REQUEST_HEADERS, answers=downloads.ANSWERS, errors=DOWNLOAD_ERRORS),
    api("POST", "/v1/renders/{id}/cancel", cancel_render, scope="render",
        summary="Cancel a queued render",
        description="200 with the cancelled render; 409 not_cancellable once it is rendering "
                    "or done.", answers={200: views.RENDER}, errors=("not_found",
                                                                    "not_cancellable")),
]
