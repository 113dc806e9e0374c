"""Who is calling: the API key in `Authorization: Bearer …`, checked by one Starlette
authentication backend, and what its scopes let it do.

Scopes nest: `full` ⊇ `render` ⊇ `download`. A `download` key (the partner key) reads renders and
downloads them; a `render` key also enqueues, cancels and shares them; a `full` key does
everything, including templates, webhooks and keys. Each route names the scope it needs
(routes.api); a key without it gets 403 insufficient_scope naming that scope."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import grpc
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection, Request

from craftkit import errors
from craftkit.v1 import projects_pb2, projects_pb2_grpc
from services.gateway.limits import RateLimiter

RPC_TIMEOUT = 10
SCOPES = ("full", "render", "download")
GRANTS = {"full": frozenset(SCOPES), "render": frozenset({"render", "download"}),
          "download": frozenset({"download"})}
"""What each scope a key holds allows."""
UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""Authenticate errors that say nothing about the key: the service could not be asked."""
NO_KEY = "send your API key as 'Authorization: Bearer ck_live_…'"


@dataclass(frozen=True)
class Caller(BaseUser):
    """The project an API key belongs to, and the key's scopes."""
    project_id: str
    key_id: str
    scopes: frozenset[str]

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.key_id

    def allows(self, scope: str) -> bool:
        return any(scope in GRANTS.get(held, ()) for held in self.scopes)


def caller(request: Request) -> Caller:
    """The authenticated caller of a route declared with routes.api."""
    user = request.user
    if not isinstance(user, Caller):
        raise errors.Unauthorized(NO_KEY)
    return user


def require(request: Request, scope: str) -> Caller:
    """The caller, if its key covers `scope`; else 401 (no key) or 403 insufficient_scope."""
    who = caller(request)
    if not who.allows(scope):
        wide_enough = f"'{scope}'" if scope == "full" else f"'{scope}' or 'full'"
        raise errors.InsufficientScope(
            f"this API key's scopes ({', '.join(sorted(who.scopes))}) do not include "
            f"'{scope}', which this route needs; use a key with the {wide_enough} scope")
    return who


class KeyCache:
    """Bearer key -> Caller, asking the project service once per KEY_CACHE_SECONDS (so a revoked
    key stops working within that time). Lookups that fail cost the client address a token of
    `failures`, so unknown keys cannot hammer the database: with none left the address gets 429
    without a lookup.

    While the project service cannot be reached (a restart, a rollout), a key verified within
    the last `stale` seconds (KEY_STALE_SECONDS) is still accepted, so a status outage does not
    turn every request into a 503: stale-if-error. A revocation made just before such an outage
    takes effect when the service answers again (at most `stale` seconds later)."""

    def __init__(self, projects: projects_pb2_grpc.ProjectServiceStub, ttl: float,
                 failures: RateLimiter, size: int = 10_000, stale: float = 0.0) -> None:
        self.projects, self.ttl, self.failures, self.size = projects, ttl, failures, size
        self.stale = stale
        self.entries: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self.forgotten = 0
        """How many times forget ran: a lookup that overlapped one does not cache its answer,
        which may predate the revocation."""

    async def caller(self, header: str | None, address: str) -> Caller:
        scheme, _, key = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise errors.Unauthorized(NO_KEY)
        digest = hashlib.sha256(key.strip().encode()).hexdigest()
        hit = self.entries.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        forgotten = self.forgotten
        try:
            async with self.failures.failing(address, grpc.StatusCode.UNAUTHENTICATED):
                project = await self.projects.Authenticate(
                    projects_pb2.AuthenticateRequest(key_sha256=digest), timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            verified_at = hit[1] - self.ttl if hit else -math.inf
            if exc.code() in UNREACHABLE and time.monotonic() < verified_at + self.stale:
                return hit[0]
            raise
        # Keys made before scopes existed have none: they are full keys.
        who = Caller(project.id, project.key_id, frozenset(project.scopes or ["full"]))
        if forgotten != self.forgotten:
            return who
        self.entries[digest] = (who, now + self.ttl)
        self.entries.move_to_end(digest)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return who

    def forget(self, key_id: str) -> None:
        """Drops a revoked key, so this gateway refuses it from the next request on (the others
        within their KEY_CACHE_SECONDS)."""
        self.forgotten += 1
        for digest in [d for d, (who, _) in self.entries.items() if who.key_id == key_id]:
            del self.entries[digest]


class ApiKeys(AuthenticationBackend):
    """The authentication backend of the routes that take an API key: a request without an
    Authorization header passes through unauthenticated (the route then answers 401); one with
    a key is authenticated and spends a token of its project's rate limit. Errors (401, 429,
    503) are ApiErrors, answered by services.gateway.errors like any other."""

    async def authenticate(self, conn: HTTPConnection):
        headers = conn.headers.getlist("authorization")
        if not headers:
            return None
        if len(headers) > 1:  # a proxy in front may have read another one than we would
            raise errors.Unauthorized(f"send one Authorization header, not {len(headers)}")
        header = headers[0]
        state = conn.app.state.gateway  # services.gateway.state.State
        who = await state.keys.caller(header, client_address(conn))
        state.limiter.take(who.project_id)
        return AuthCredentials(sorted(who.scopes)), who


def client_address(conn: HTTPConnection) -> str:
    """The client's address (from X-Forwarded-For when the peer is a trusted proxy: uvicorn's
    proxy_headers with FORWARDED_ALLOW_IPS)."""
    return conn.client.host if conn.client else "unknown"
