"""The REST v1 routes, one module per resource. Each module lists its routes in ROUTES, made with
`api` (needs an API key covering a scope) or `public` (no key: inbound hooks, health). Both check
the path parameters (requests.check_path) before the handler runs, so no handler repeats it.
`api(..., idempotent=True)` marks a POST that creates something: it takes an Idempotency-Key
(services/gateway/idempotency.py)."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.gateway import auth, requests
from services.gateway.idempotency import idempotent as keyed
from services.gateway.state import state

RPC_TIMEOUT = 10
"""Seconds a handler waits for a backend's answer."""

Handler = Callable[[Request], Awaitable[Response]]


class ApiRoute(Route):
    """A route that needs an API key whose scopes cover `scope`."""

    def __init__(self, path: str, endpoint: Handler, *, method: str, scope: str,
                 idempotent: bool = False) -> None:
        assert scope in auth.SCOPES, scope
        assert method == "POST" or not idempotent, method
        self.scope, self.idempotent = scope, idempotent
        if idempotent:
            endpoint = keyed(endpoint)

        @functools.wraps(endpoint)
        async def checked(request: Request) -> Response:
            auth.require(request, scope)
            requests.check_path(request.path_params)
            return await endpoint(request)
        super().__init__(path, checked, methods=[method])


def api(method: str, path: str, endpoint: Handler, *, scope: str,
        idempotent: bool = False) -> ApiRoute:
    return ApiRoute(path, endpoint, method=method, scope=scope, idempotent=idempotent)


def public(method: str, path: str, endpoint: Handler) -> Route:
    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        requests.check_path(request.path_params)
        return await endpoint(request)
    return Route(path, checked, methods=[method])


async def read_json(request: Request, empty: object = None) -> object:
    """The request's JSON body (at most MAX_BODY_BYTES); `empty` when there is none, if given."""
    return await requests.read_json(request, state(request).settings.max_body_bytes, empty)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
