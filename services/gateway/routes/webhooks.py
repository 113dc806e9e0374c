"""Webhook endpoints (create, list, update, delete, rotate the secret) and their deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from craftkit.v1 import webhooks_pb2
from services.gateway import requests, views
from services.gateway.auth import caller
from services.gateway.routes import RPC_TIMEOUT, api, read_json
from services.gateway.state import state


async def create_webhook(request: Request) -> JSONResponse:
    body = requests.webhook_request(await read_json(request), creating=True)
    endpoint = await state(request).backends.webhooks.CreateEndpoint(
        webhooks_pb2.CreateEndpointRequest(project_id=caller(request).project_id,
                                           url=body["url"], events=body.get("events", [])),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.endpoint(endpoint), status_code=201)


async def list_webhooks(request: Request) -> JSONResponse:
    """Oldest first, `limit` (1 to 100, default 100) at a time; nextCursor null on the last page."""
    limit, cursor = requests.WEBHOOKS_PAGE.read(request.query_params)
    reply = await state(request).backends.webhooks.ListEndpoints(
        webhooks_pb2.ListEndpointsRequest(project_id=caller(request).project_id, limit=limit,
                                          cursor=cursor), timeout=RPC_TIMEOUT)
    return JSONResponse({"webhooks": [views.endpoint(e) for e in reply.endpoints],
                         "nextCursor": reply.next_cursor or None})


async def update_webhook(request: Request) -> JSONResponse:
    body = requests.webhook_request(await read_json(request), creating=False)
    endpoint = await state(request).backends.webhooks.UpdateEndpoint(
        webhooks_pb2.UpdateEndpointRequest(
            project_id=caller(request).project_id, endpoint_id=request.path_params["id"],
            has_url="url" in body, url=body.get("url", ""),
            has_events="events" in body, events=body.get("events", []),
            has_enabled="enabled" in body, enabled=body.get("enabled", False)),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.endpoint(endpoint))


async def delete_webhook(request: Request) -> JSONResponse:
    endpoint = await state(request).backends.webhooks.DeleteEndpoint(
        webhooks_pb2.EndpointRef(project_id=caller(request).project_id,
                                 endpoint_id=request.path_params["id"]),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.endpoint(endpoint))


async def rotate_webhook_secret(request: Request) -> JSONResponse:
    body = requests.rotate_request(await read_json(request, empty={}))
    endpoint = await state(request).backends.webhooks.RotateSecret(
        webhooks_pb2.RotateSecretRequest(project_id=caller(request).project_id,
                                         endpoint_id=request.path_params["id"],
                                         overlap_seconds=body.get("overlapSeconds", 0)),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.endpoint(endpoint))


async def list_deliveries(request: Request) -> JSONResponse:
    """Newest first, `limit` (1 to 200, default 50) at a time; nextCursor null on the last page."""
    limit, cursor = requests.DELIVERIES_PAGE.read(request.query_params)
    reply = await state(request).backends.webhooks.ListDeliveries(
        webhooks_pb2.ListDeliveriesRequest(project_id=caller(request).project_id,
                                           endpoint_id=request.path_params["id"], limit=limit,
                                           cursor=cursor), timeout=RPC_TIMEOUT)
    return JSONResponse({"deliveries": [views.delivery(d) for d in reply.deliveries],
                         "nextCursor": reply.next_cursor or None})


async def redeliver(request: Request) -> JSONResponse:
    delivery = await state(request).backends.webhooks.Redeliver(
        webhooks_pb2.RedeliverRequest(project_id=caller(request).project_id,
                                      endpoint_id=request.path_params["id"],
                                      delivery_id=request.path_params["delivery"]),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.delivery(delivery), status_code=202)


WEBHOOK_LINKS = {
    "ListDeliveries": ("list_deliveries", {"id": "$response.body#/id"}),
    "UpdateWebhook": ("update_webhook", {"id": "$response.body#/id"}),
    "RotateSecret": ("rotate_webhook_secret", {"id": "$response.body#/id"}),
    "DeleteWebhook": ("delete_webhook", {"id": "$response.body#/id"}),
}

ROUTES = [
    api("POST", "/v1/webhooks", create_webhook, scope="full", idempotent=True,
        summary="Subscribe an endpoint",
        description="Craftkit POSTs each subscribed event there, signed with the secret "
                    "(x-craftkit-signature); the secret is in this answer only.",
        body=requests.WEBHOOK, answers={201: views.WEBHOOK}, links=WEBHOOK_LINKS),
    api("GET", "/v1/webhooks", list_webhooks, scope="full", summary="List endpoints",
        query=requests.WEBHOOKS_PAGE.params(), answers={200: views.WEBHOOK_LIST}),
    api("PATCH", "/v1/webhooks/{id}", update_webhook, scope="full", summary="Change an endpoint",
        body=requests.WEBHOOK_UPDATE, answers={200: views.WEBHOOK}, errors=("not_found",)),
    api("DELETE", "/v1/webhooks/{id}", delete_webhook, scope="full",
        summary="Delete an endpoint", answers={200: views.WEBHOOK}, errors=("not_found",)),
    api("POST", "/v1/webhooks/{id}/rotate-secret", rotate_webhook_secret, scope="full",
        idempotent=True, summary="Rotate an endpoint's secret",
        description="The new secret is in this answer only; the old one still signs beside it "
                    "for overlapSeconds.", body=requests.ROTATE, body_optional=True,
        answers={200: views.WEBHOOK},
        errors=("not_found",)),
    api("GET", "/v1/webhooks/{id}/deliveries", list_deliveries, scope="full",
        summary="An endpoint's delivery log", query=requests.DELIVERIES_PAGE.params(),
        answers={200: views.DELIVERY_LIST}, errors=("not_found",)),
    api("POST", "/v1/webhooks/{id}/deliveries/{delivery}/redeliver", redeliver, scope="full",
        idempotent=True, summary="Send a delivery again", answers={202: views.DELIVERY},
        errors=("not_found",)),
]
