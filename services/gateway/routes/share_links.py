"""Share links: a URL that downloads one render's PDF with no API key, until it expires, is
revoked or has been opened maxDownloads times (each request to it counts: see DownloadService)."""

from __future__ import annotations

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftkit.v1 import downloads_pb2
from services.gateway import downloads, requests, views
from services.gateway.auth import caller, client_address
from services.gateway.routes import RPC_TIMEOUT, api, public, read_json
from services.gateway.state import state


async def create_share_link(request: Request) -> JSONResponse:
    gateway = state(request)
    expires_in, max_downloads = requests.share_link_request(await read_json(request, empty={}))
    link = await gateway.backends.downloads.CreateShareLink(downloads_pb2.CreateShareLinkRequest(
        project_id=caller(request).project_id, render_id=request.path_params["id"],
        expires_in_seconds=expires_in, max_downloads=max_downloads), timeout=RPC_TIMEOUT)
    return JSONResponse(views.share_link(link, gateway.settings.public_base_url), status_code=201)


async def list_share_links(request: Request) -> JSONResponse:
    gateway = state(request)
    reply = await gateway.backends.downloads.ListShareLinks(downloads_pb2.ListShareLinksRequest(
        project_id=caller(request).project_id, render_id=request.path_params["id"]),
        timeout=RPC_TIMEOUT)
    base = gateway.settings.public_base_url
    return JSONResponse({"links": [views.share_link(link, base) for link in reply.links]})


async def revoke_share_link(request: Request) -> JSONResponse:
    gateway = state(request)
    link = await gateway.backends.downloads.RevokeShareLink(downloads_pb2.RevokeShareLinkRequest(
        project_id=caller(request).project_id, render_id=request.path_params["id"],
        link_id=request.path_params["link"]), timeout=RPC_TIMEOUT)
    return JSONResponse(views.share_link(link, gateway.settings.public_base_url))


async def open_share_link(request: Request) -> Response:
    """Anyone holding the URL: the PDF, or 410 link_expired. Unknown tokens cost the client
    address a failed-authentication token (guessing is as hopeless as for keys, and as bounded)."""
    gateway = state(request)
    async with gateway.failures.failing(client_address(request), grpc.StatusCode.NOT_FOUND):
        found = await gateway.backends.downloads.OpenShareLink(
            downloads_pb2.OpenShareLinkRequest(token=request.path_params["share"]),
            timeout=RPC_TIMEOUT)
    return await downloads.stream(request, gateway, found, shared=True)


PUBLIC_ROUTES = [
    public("GET", "/s/{share}", open_share_link, summary="Open a share link",
           description="The render's PDF, with no API key, as GET …/download answers it "
                       "(Range, 206, 304); 410 link_expired once expired, revoked or used up. "
                       "Unknown tokens are 404 and count against the client address (429).",
           headers=downloads.REQUEST_HEADERS, answers=downloads.ANSWERS,
           errors=("not_found", "link_expired", "rate_limited", "unavailable")),
]
ROUTES = [
    api("POST", "/v1/renders/{id}/share-links", create_share_link, scope="render",
        idempotent=True, summary="Share a render's PDF",
        description="A URL anyone may open (no key) until it expires, is revoked or has been "
                    "opened maxDownloads times. The url is shown only in this answer.",
        body=requests.SHARE_LINK, body_optional=True, answers={201: views.SHARE_LINK},
        errors=("not_found", "render_not_ready", "render_failed", "render_expired"),
        links={"RevokeShareLink": ("revoke_share_link", {"id": "$request.path.id",
                                                         "link": "$response.body#/id"}),
               "ListShareLinks": ("list_share_links", {"id": "$request.path.id"})}),
    api("GET", "/v1/renders/{id}/share-links", list_share_links, scope="render",
        summary="List a render's share links", answers={200: views.SHARE_LINK_LIST},
        errors=("not_found",)),
    api("DELETE", "/v1/renders/{id}/share-links/{link}", revoke_share_link, scope="render",
        summary="Revoke a share link", description="Again: 200, the same revokedAt.",
        answers={200: views.SHARE_LINK}, errors=("not_found",)),
]
