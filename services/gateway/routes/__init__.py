"""The REST v1 routes, one module per resource. Each module lists its routes in ROUTES, made with
`api` (needs an API key covering a scope) or `public` (no key: inbound hooks, health). Both check
the path parameters (requests.check_path) before the handler runs, so no handler repeats it.
`api(..., idempotent=True)` marks a POST that creates something: it takes an Idempotency-Key
(services/gateway/idempotency.py).

Every route also says what the OpenAPI document (services/gateway/openapi.py) shows of it: a
summary, its body (a requests.Shape, the one the handler checks with), its query parameters
(requests.Param), its answers by status (a views schema name or Media), the error codes it
answers beyond those its kind answers anyway (see openapi.error_codes), and links to the
operations its answer leads to. A test fails when a route lacks them."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.gateway import auth, requests
from services.gateway.idempotency import idempotent as keyed
from services.gateway.requests import Media
from services.gateway.state import state

RPC_TIMEOUT = 10
"""Seconds a handler waits for a backend's answer."""

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document shows of one route (tests/unit/test_openapi.py fails when a
    route of the app has no summary)."""
    summary: str = ""
    description: str = ""
    body: requests.Shape | Media | None = None
    query: tuple[requests.Param, ...] = ()
    answers: dict[int, str | tuple[Media, ...]] = field(default_factory=dict)
    """By status: a schema of views.SCHEMAS by name, or the media types it may answer."""
    errors: tuple[str, ...] = ()
    """Error codes (craftkit.errors) this route answers beyond those of its kind."""
    links: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    """From the first answer: link name -> (operationId, its parameters as runtime
    expressions), so a client (or schemathesis) can follow create -> read -> delete."""
    headers: tuple[requests.Param, ...] = ()
    """Request headers beyond Authorization and Idempotency-Key (Accept, Range)."""
    body_optional: bool = False
    """The handler reads an empty body as {} (read_json's `empty`)."""


class ApiRoute(Route):
    """A route that needs an API key whose scopes cover `scope`."""

    def __init__(self, path: str, endpoint: Handler, *, method: str, scope: str,
                 doc: Doc, idempotent: bool = False) -> None:
        assert scope in auth.SCOPES, scope
        assert method == "POST" or not idempotent, method
        self.scope, self.idempotent, self.doc = scope, idempotent, doc
        self.operation_id = endpoint.__name__
        if idempotent:
            endpoint = keyed(endpoint)

        @functools.wraps(endpoint)
        async def checked(request: Request) -> Response:
            auth.require(request, scope)
            requests.check_path(request.path_params)
            return await endpoint(request)
        super().__init__(path, checked, methods=[method])


def api(method: str, path: str, endpoint: Handler, *, scope: str, idempotent: bool = False,
        **doc) -> ApiRoute:
    """A route needing a key with `scope`; `doc` are Doc's fields."""
    return ApiRoute(path, endpoint, method=method, scope=scope, idempotent=idempotent,
                    doc=Doc(**doc))


class PublicRoute(Route):
    """A route that takes no API key."""

    def __init__(self, path: str, endpoint: Handler, *, method: str, doc: Doc) -> None:
        self.doc, self.operation_id = doc, endpoint.__name__

        @functools.wraps(endpoint)
        async def checked(request: Request) -> Response:
            requests.check_path(request.path_params)
            return await endpoint(request)
        super().__init__(path, checked, methods=[method])


def public(method: str, path: str, endpoint: Handler, **doc) -> PublicRoute:
    return PublicRoute(path, endpoint, method=method, doc=Doc(**doc))


async def read_json(request: Request, empty: object = None) -> object:
    """The request's JSON body (at most MAX_BODY_BYTES); `empty` when there is none, if given."""
    return await requests.read_json(request, state(request).settings.max_body_bytes, empty)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
