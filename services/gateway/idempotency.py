"""Idempotency-Key on the POSTs that create things (Stripe's semantics): declared once per route
with `api(..., idempotent=True)` (routes/__init__.py), never in a handler.

A request with the header reserves its key for its project (IdempotencyService.Begin), runs, and
its response is stored (Finish) and replayed, with `Idempotent-Replayed: true`, to every later
request with the same key and the same request for IDEMPOTENCY_RETENTION_SECONDS (24 h). What is
stored is what the client would act on: every 2xx and 4xx, errors included (a 400 stays a 400).
What may pass is not stored (Abandon): a 5xx, a 429 and a 408, and a request cut short (the client
gone, the gateway stopping); a retry with the key then runs again.

The request is its fingerprint: SHA-256 of the method, the path with its query string and the raw
body bytes (not a canonical form of the JSON: a client retries the bytes it sent, and "the same
body" means those bytes). The same key with another fingerprint is 422 idempotency_key_reused; a
key whose first request still runs is 409 idempotency_key_in_use (retry after it finishes). A
reservation holds for the longest a request can take here (LEASE_MARGIN_SECONDS past the sync
wait): if its gateway dies, the same request may take the key over after that, never sooner.

What is stored is sealed with the key itself (seal): the status service holds a hash of the key
(storage_key) and the body encrypted (AES-GCM) under another hash of it. A stored response may
show a secret that is otherwise kept only hashed (a new API key, an inbound hook's token); the
database (its backups, a replica) must not hold it readable for 24 h. Only a client that has the
key can replay, so the body is as safe as the key is hard to guess (a UUID is).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os

import grpc
from Crypto.Cipher import AES
from starlette.requests import Request
from starlette.responses import Response

from craftkit import errors, inputs
from craftkit.v1 import idempotency_pb2
from services.gateway import errors as answers
from services.gateway import requests
from services.gateway.auth import caller
from services.gateway.state import Backends, state

log = logging.getLogger(__name__)

HEADER = "idempotency-key"
REPLAYED = "idempotent-replayed"
KEPT_HEADERS = ("content-type", "location")
"""The headers a replay repeats (the rest are the server's of the moment: date, length)."""
NOT_STORED = frozenset({408, 429})
"""4xx answers that say "not now" rather than "this request is wrong": a retry may succeed."""
Outcome = idempotency_pb2.BeginResponse
RPC_TIMEOUT = 10
LEASE_MARGIN_SECONDS = 30


def fingerprint(request: Request, body: bytes) -> bytes:
    """SHA-256 of the method, the path with its query and the raw body."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), target.encode(), body)).digest()


def stored(response: Response) -> bool:
    """Whether a replay should repeat `response`: an answer to the request itself."""
    return (response.status_code < 500 and response.status_code not in NOT_STORED
            and isinstance(getattr(response, "body", None), bytes))


def storage_key(key: str) -> str:
    """What the status service stores for `key`: a hash (64 hex digits, itself a valid key)."""
    return hashlib.sha256(b"craftkit idempotency key\0" + key.encode()).hexdigest()


NONCE_BYTES, TAG_BYTES = 12, 16


def _cipher(key: str, nonce: bytes):
    secret = hashlib.sha256(b"craftkit idempotency body\0" + key.encode()).digest()
    return AES.new(secret, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)


def seal(key: str, body: bytes) -> bytes:
    """`body` encrypted under `key`: a fresh nonce, the AES-GCM ciphertext, its tag."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext, tag = _cipher(key, nonce).encrypt_and_digest(body)
    return nonce + ciphertext + tag


def unseal(key: str, sealed: bytes) -> bytes:
    """The body `seal` encrypted; ValueError if it was not sealed under `key`."""
    nonce, ciphertext, tag = (sealed[:NONCE_BYTES], sealed[NONCE_BYTES:-TAG_BYTES],
                              sealed[-TAG_BYTES:])
    return _cipher(key, nonce).decrypt_and_verify(ciphertext, tag)


def replay(saved: idempotency_pb2.StoredResponse, key: str) -> Response:
    return Response(unseal(key, saved.body), status_code=saved.status,
                    headers={**saved.headers, REPLAYED: "true"})


def idempotent(endpoint):
    """`endpoint` taking an Idempotency-Key: without the header it runs as it is."""

    @functools.wraps(endpoint)
    async def keyed(request: Request) -> Response:
        keys = request.headers.getlist(HEADER)
        if not keys:
            return await endpoint(request)
        if len(keys) > 1:  # a proxy in front may have read another one than we would
            raise errors.InvalidRequest(
                f"send one Idempotency-Key header, not {len(keys)}",
                field_errors={"Idempotency-Key": ["Send one header"]})
        return await _keyed(request, endpoint, inputs.check_idempotency_key(keys[0]))
    return keyed


async def _keyed(request: Request, endpoint, header: str) -> Response:
    gateway, project, key = state(request), caller(request).project_id, storage_key(header)
    body = await requests.read_body(request, gateway.settings.max_body_bytes)
    request._body = body  # Starlette's own cache: the endpoint reads the same bytes again
    backends = gateway.backends
    begun = await backends.idempotency.Begin(idempotency_pb2.BeginRequest(
        project_id=project, key=key, fingerprint=fingerprint(request, body),
        lease_ms=lease_ms(gateway.settings.sync_timeout_seconds)), timeout=RPC_TIMEOUT)
    if begun.outcome == Outcome.REPLAY:
        return replay(begun.response, header)
    if begun.outcome == Outcome.REUSED:
        raise errors.IdempotencyKeyReused(
            "this Idempotency-Key was used with another request (method, path or body) in the "
            "last 24 hours; use a new key for a new request")
    if begun.outcome == Outcome.IN_USE:
        raise errors.IdempotencyKeyInUse(
            "a request with this Idempotency-Key is still in progress; retry in a moment to get "
            "its response")
    ref = {"project_id": project, "key": key, "lease_id": begun.lease_id}
    try:
        response = await _answer(request, endpoint)
    except BaseException:
        _forget(backends, ref, "the request failed")
        raise
    if stored(response):
        await _finish(backends, ref, response, seal(header, response.body))
    else:  # freed before answering, so the client's retry finds the key free
        await _abandon(backends, ref, f"answered {response.status_code}")
    return response


async def _answer(request: Request, endpoint) -> Response:
    """The endpoint's response, its errors answered here (as services.gateway.errors answers
    them) so they can be stored like any response."""
    try:
        return await endpoint(request)
    except errors.ApiError as exc:
        return await answers.api_error(request, exc)
    except grpc.aio.AioRpcError as exc:
        return await answers.rpc_error(request, exc)


async def _finish(backends: Backends, ref: dict, response: Response, sealed: bytes) -> None:
    """Stores the response. If that fails the response is still answered; the key stays held
    until its lease runs out, then a retry runs again (the render dedupe still catches a
    retried render)."""
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    try:
        await backends.idempotency.Finish(idempotency_pb2.FinishRequest(
            **ref, response=idempotency_pb2.StoredResponse(
                status=response.status_code, body=sealed, headers=headers)),
            timeout=RPC_TIMEOUT)
    except grpc.aio.AioRpcError as exc:
        log.warning("Idempotency-Key response not stored (%s: %s); the key is held until its "
                    "lease ends", exc.code().name, exc.details())


async def _abandon(backends: Backends, ref: dict, why: str) -> None:
    try:
        await backends.idempotency.Abandon(idempotency_pb2.AbandonRequest(**ref),
                                           timeout=RPC_TIMEOUT)
    except grpc.aio.AioRpcError as exc:
        log.warning("Idempotency-Key not freed after %s (%s); it is held until its lease ends",
                    why, exc.code().name)


def _forget(backends: Backends, ref: dict, why: str) -> None:
    """_abandon in the background: a cancelled request (the client gone) cannot await."""
    task = asyncio.ensure_future(_abandon(backends, ref, why))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_PENDING: set[asyncio.Task] = set()
"""Abandon calls in flight (a task nobody references may be collected before it runs)."""


def lease_ms(sync_timeout_seconds: float) -> int:
    """How long a reservation holds: past the longest request here (a sync render's wait plus
    its calls), so a live request never loses its key; a dead gateway's key frees after it."""
    return int((sync_timeout_seconds + LEASE_MARGIN_SECONDS) * 1000)
