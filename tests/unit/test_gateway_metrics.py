"""services.gateway.metrics: the request histogram's route label is the matched template, never
the path a client sent."""

from __future__ import annotations

import uuid

import httpx

from prometheus_client import REGISTRY
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from services.gateway import metrics, requestlog


async def ok(request):
    return PlainTextResponse("ok")


class Refuse:
    """A mount's middleware answering before its router runs (as the API key check's 401)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        await PlainTextResponse("no key", status_code=401)(scope, receive, send)


def app(tmp_path) -> requestlog.Gateway:
    api = Router(routes=[Route("/v1/renders/{id}", ok, methods=["GET"])], redirect_slashes=False)
    return requestlog.Gateway(routes=[Route("/healthz", ok),
                                      Mount("/files", app=StaticFiles(directory=tmp_path)),
                                      Mount("/api", app=api),
                                      Mount("/guarded", app=api, middleware=[Middleware(Refuse)]),
                                      Mount("", app=api)])


def count(route: str, method: str, status: str) -> float:
    return REGISTRY.get_sample_value("craftkit_http_request_duration_seconds_count",
                                     {"route": route, "method": method, "status": status}) or 0.0


async def test_routes_are_labelled_by_template_and_random_paths_as_unmatched(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    before = {key: count(*key) for key in [
        ("/v1/renders/{id}", "GET", "200"), ("/api/v1/renders/{id}", "GET", "200"),
        ("/v1/renders/{id}", "POST", "405"), ("unmatched", "GET", "404"),
        ("/files/{path}", "GET", "200"), ("unmatched", "other", "404"),
        ("/guarded/v1/renders/{id}", "GET", "401"), ("unmatched", "GET", "401")]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app(tmp_path)),
                                 base_url="http://test") as client:
        assert (await client.get(f"/v1/renders/{uuid.uuid4()}")).status_code == 200
        assert (await client.get(f"/api/v1/renders/{uuid.uuid4()}")).status_code == 200
        assert (await client.post("/v1/renders/x")).status_code == 405
        assert (await client.get("/files/a.txt")).status_code == 200
        assert (await client.get(f"/guarded/v1/renders/{uuid.uuid4()}")).status_code == 401
        assert (await client.get(f"/guarded/{uuid.uuid4()}")).status_code == 401
        for _ in range(20):
            assert (await client.get(f"/{uuid.uuid4()}/x")).status_code == 404
        assert (await client.request("BREW", f"/{uuid.uuid4()}")).status_code == 404
    after = {key: count(*key) for key in before}
    assert {key: after[key] - before[key] for key in before} == {
        ("/v1/renders/{id}", "GET", "200"): 1, ("/api/v1/renders/{id}", "GET", "200"): 1,
        ("/v1/renders/{id}", "POST", "405"): 1, ("unmatched", "GET", "404"): 20,
        ("/files/{path}", "GET", "200"): 1, ("unmatched", "other", "404"): 1,
        ("/guarded/v1/renders/{id}", "GET", "401"): 1, ("unmatched", "GET", "401"): 1}
    routes = {s.labels["route"] for m in REGISTRY.collect()
              if m.name == "craftkit_http_request_duration_seconds" for s in m.samples}
    assert not any(len(route) > 30 for route in routes)  # no uuid became a label


def test_rate_limits_count_by_project_and_never_by_client_address():
    metrics.rate_limited("requests", "p1")
    metrics.rate_limited("auth_failures", None)
    assert REGISTRY.get_sample_value("craftkit_rate_limited_total",
                                     {"limit": "requests", "project": "p1"}) >= 1
    assert REGISTRY.get_sample_value("craftkit_rate_limited_total",
                                     {"limit": "auth_failures", "project": "none"}) >= 1
