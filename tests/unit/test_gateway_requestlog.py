"""services.gateway.requestlog: the access line names the route the request metrics count it
under, so an operator who sees a spike of 401s or 429s on a route in the dashboard finds their
lines by that route."""

from __future__ import annotations

import logging
import uuid

import httpx
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, Router

from services.gateway import requestlog
from tests.unit.test_gateway_metrics import Refuse, count, ok


async def test_a_request_refused_before_routing_is_logged_under_its_metrics_route(caplog):
    api = Router(routes=[Route("/v1/renders/{id}", ok, methods=["GET"])], redirect_slashes=False)
    app = requestlog.Gateway(routes=[Mount("", app=api, middleware=[Middleware(Refuse)])])
    before = count("/v1/renders/{id}", "GET", "401")
    caplog.set_level(logging.INFO, logger=requestlog.log.name)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        assert (await client.get(f"/v1/renders/{uuid.uuid4()}")).status_code == 401
    assert count("/v1/renders/{id}", "GET", "401") == before + 1
    [line] = [r for r in caplog.records if r.name == requestlog.log.name]
    assert (line.route, line.status) == ("/v1/renders/{id}", 401)
