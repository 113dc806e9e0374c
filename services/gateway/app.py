"""The REST v1 gateway: authenticates, validates the request's shape, calls the gRPC services, and
answers in one JSON error envelope. Holds no state but caches (verified keys, rate buckets,
terminal renders).

    routes/      one module per resource; each lists its ROUTES
    auth.py      the API-key authentication backend and the scopes
    state.py     the typed State (settings, gRPC stubs, caches) built at start-up
    errors.py    every error answer
    requests.py  parsing what clients send; views.py  what the API answers
"""

from __future__ import annotations

import contextlib
import functools

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Mount, Router

from craftkit import logs, tracing
from services.gateway import dashboard, errors, metrics, openapi, requestlog
from services.gateway import tracing as gateway_tracing
from services.gateway.auth import ApiKeys
from services.gateway.routes import (ApiRoute, health, hooks, keys, renders, share_links,
                                     templates, webhooks)
from services.gateway.settings import Settings
from services.gateway.state import running

PUBLIC_ROUTES: list[BaseRoute] = [*health.PUBLIC_ROUTES, *hooks.PUBLIC_ROUTES,
                                  *share_links.PUBLIC_ROUTES]
"""Routes that take no API key (an Authorization header there is not looked at)."""
API_ROUTES: list[ApiRoute] = [*renders.ROUTES, *share_links.ROUTES, *templates.ROUTES,
                              *hooks.ROUTES, *webhooks.ROUTES, *keys.ROUTES]
"""Routes that need an API key, each with the scope it needs."""


def create_app(settings: Settings | None = None) -> Starlette:
    logs.setup_once("gateway")  # GATEWAY_WORKERS > 1: each worker process builds its own app
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        async with running(settings) as state, metrics.readiness(
                functools.partial(health.readiness, state)):
            app.state.gateway = state
            yield
        await tracing.flush()  # stopping: the last requests' spans out before the process ends

    # Public routes match first; everything else passes the API-key backend.
    docs = openapi.routes(PUBLIC_ROUTES, API_ROUTES, settings.public_base_url)
    # No router redirects a path with a trailing slash (Starlette's default): its Location was
    # built from the request's Host header, before any key was checked, with a status the API
    # does not document. Such a path is 404 not_found like any other unknown one.
    api = Router(routes=API_ROUTES, redirect_slashes=False)
    routes = [*PUBLIC_ROUTES, *docs, *dashboard.ROUTES, Mount("", app=api, middleware=[
        Middleware(AuthenticationMiddleware, backend=ApiKeys())])]
    app = requestlog.Gateway(routes=routes, lifespan=lifespan, exception_handlers=errors.HANDLERS,
                             middleware=gateway_tracing.middleware())
    app.router.redirect_slashes = False
    return app
