"""Scopes at the route level: the real ApiRoute and error handlers, with a test authentication
backend in place of the key lookup (that one is covered against real servers)."""

import asyncio
import hashlib

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Mount

from services.gateway import errors
from craftkit.v1 import projects_pb2
from services.gateway.auth import Caller, KeyCache, caller
from services.gateway.limits import RateLimiter
from services.gateway.routes import api


class Scoped(AuthenticationBackend):
    """Authenticates `X-Scopes: render,download` as a key holding those scopes."""

    async def authenticate(self, conn):
        if "x-scopes" not in conn.headers:
            return None
        scopes = frozenset(filter(None, conn.headers["x-scopes"].split(",")))
        return AuthCredentials(sorted(scopes)), Caller("project-1", "key-1", scopes)


async def whoami(request):
    return JSONResponse({"project": caller(request).project_id})


def get(scope: str, headers: dict | None = None) -> httpx.Response:
    """GET on a route needing `scope`, through the gateway's ApiRoute and error handlers."""
    app = Starlette(routes=[Mount("", routes=[api("GET", "/x", whoami, scope=scope)],
                                  middleware=[Middleware(AuthenticationMiddleware,
                                                         backend=Scoped())])],
                    exception_handlers=errors.HANDLERS)

    async def call():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gateway") as client:
            return await client.get("/x", headers=headers)
    return asyncio.run(call())


@pytest.mark.parametrize("held, needed, allowed", [
    ("full", "full", True), ("full", "render", True), ("full", "download", True),
    ("render", "full", False), ("render", "render", True), ("render", "download", True),
    ("download", "full", False), ("download", "render", False), ("download", "download", True),
    ("download,render", "render", True), ("", "download", True)])
def test_scopes_nest_full_render_download(held, needed, allowed):
    # An empty scope list is a key made before scopes existed: a full key.
    scopes = frozenset(filter(None, held.split(","))) or frozenset({"full"})
    assert Caller("p", "k", scopes).allows(needed) is allowed


def test_a_key_outside_the_route_scope_gets_403_naming_the_scope():
    answer = get("render", {"x-scopes": "download"})
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert "'render'" in error["message"] and "(download)" in error["message"]


def test_a_route_needing_full_names_only_full():
    message = get("full", {"x-scopes": "render,download"}).json()["error"]["message"]
    assert message.endswith("use a key with the 'full' scope"), message


def test_a_key_inside_the_scope_reaches_the_handler():
    answer = get("download", {"x-scopes": "render"})
    assert answer.status_code == 200
    assert answer.json() == {"project": "project-1"}


def test_no_key_gets_401_with_how_to_send_one():
    answer = get("download")
    assert answer.status_code == 401
    assert "Authorization: Bearer" in answer.json()["error"]["message"]


class Projects:
    """ProjectService's Authenticate as a table of digests, counting the questions."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys, self.asked = keys, 0

    async def Authenticate(self, request, timeout):
        self.asked += 1
        return projects_pb2.Project(id="p", key_id=self.keys[request.key_sha256],
                                    scopes=["render"])


def test_a_forgotten_key_is_asked_about_again_and_the_others_stay_cached():
    digest = {k: hashlib.sha256(k.encode()).hexdigest() for k in ("one", "two")}
    projects = Projects({digest["one"]: "key-1", digest["two"]: "key-2"})
    cache = KeyCache(projects, ttl=3600, failures=RateLimiter(0, 0))

    async def lookups(*keys):
        return [(await cache.caller(f"Bearer {k}", "10.0.0.1")).key_id for k in keys]
    assert asyncio.run(lookups("one", "two", "one")) == ["key-1", "key-2", "key-1"]
    assert projects.asked == 2
    cache.forget("key-1")
    assert asyncio.run(lookups("one", "two")) == ["key-1", "key-2"]
    assert projects.asked == 3


class Answering(Projects):
    """Projects whose Authenticate answers only when told to: a lookup still in flight."""

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__(keys)
        self.asking, self.answer = asyncio.Event(), asyncio.Event()

    async def Authenticate(self, request, timeout):
        self.asking.set()
        await self.answer.wait()
        return await super().Authenticate(request, timeout)


def test_a_key_revoked_while_its_lookup_is_in_flight_is_not_cached_by_that_lookup():
    # The lookup was answered before the revocation committed; the revoking gateway forgets the
    # key meanwhile. Caching that answer would let the revoked key in for KEY_CACHE_SECONDS more
    # on the very gateway that said it was revoked.
    digest = hashlib.sha256(b"one").hexdigest()

    async def scenario():
        projects = Answering({digest: "key-1"})
        cache = KeyCache(projects, ttl=3600, failures=RateLimiter(0, 0))
        in_flight = asyncio.create_task(cache.caller("Bearer one", "10.0.0.1"))
        await projects.asking.wait()
        cache.forget("key-1")
        projects.answer.set()
        await in_flight
        await cache.caller("Bearer one", "10.0.0.1")
        return projects.asked
    assert asyncio.run(scenario()) == 2
