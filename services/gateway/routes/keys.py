"""API keys: POST /v1/keys (the key shown once), GET /v1/keys, DELETE /v1/keys/{id}. Only `full`
keys manage keys, so no key can make one wider than itself (a full key may make any scope).

A key may revoke itself or any other key of its project, except the project's last active full
key (409 conflict): without it the project could no longer manage its keys over REST (the
operator's `craftkit keys revoke` can). A revocation is effective at once in the gateway process
that answered it and in every other within KEY_CACHE_SECONDS."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from craftkit.v1 import projects_pb2
from services.gateway import requests, views
from services.gateway.auth import caller
from services.gateway.routes import RPC_TIMEOUT, api, read_json
from services.gateway.state import state


async def create_key(request: Request) -> JSONResponse:
    body = requests.key_request(await read_json(request))
    made = await state(request).backends.projects.CreateApiKey(
        projects_pb2.CreateApiKeyRequest(project_id=caller(request).project_id,
                                         name=body["name"], scopes=body["scopes"]),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.api_key(made.key, made.api_key), status_code=201)


async def list_keys(request: Request) -> JSONResponse:
    limit = requests.limit_param(request.query_params.get("limit",
                                                         str(requests.KEYS_PAGE.default)))
    reply = await state(request).backends.projects.ListApiKeys(
        projects_pb2.ListApiKeysRequest(project_id=caller(request).project_id, limit=limit,
                                        cursor=request.query_params.get("cursor", "")),
        timeout=RPC_TIMEOUT)
    return JSONResponse({"data": [views.api_key(k) for k in reply.keys],
                         "nextCursor": reply.next_cursor or None})


async def revoke_key(request: Request) -> JSONResponse:
    key = await state(request).backends.projects.RevokeApiKey(
        projects_pb2.RevokeApiKeyRequest(project_id=caller(request).project_id,
                                         key_id=request.path_params["id"], keep_a_full_key=True),
        timeout=RPC_TIMEOUT)
    state(request).keys.forget(key.id)
    return JSONResponse(views.api_key(key))


ROUTES = [
    api("POST", "/v1/keys", create_key, scope="full", idempotent=True, summary="Make an API key",
        description="The key itself is in this answer only (stored as a SHA-256 hash).",
        body=requests.KEY, answers={201: views.API_KEY},
        links={"RevokeKey": ("revoke_key", {"id": "$response.body#/id"})}),
    api("GET", "/v1/keys", list_keys, scope="full", summary="List API keys",
        description="Newest first, revoked keys too (revokedAt set).",
        query=requests.KEYS_PAGE.params()[:1] + (requests.Param(
            "cursor", {"type": "string", "maxLength": requests.MAX_CURSOR_CHARS},
            requests.KEYS_PAGE.cursor),), answers={200: views.API_KEY_LIST}),
    api("DELETE", "/v1/keys/{id}", revoke_key, scope="full", summary="Revoke an API key",
        description="Refused by every gateway within KEY_CACHE_SECONDS. Again: 200, the same "
                    "revokedAt. The project's last active full key cannot be revoked (409).",
        answers={200: views.API_KEY}, errors=("not_found", "conflict")),
]
