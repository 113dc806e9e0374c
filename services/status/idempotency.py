"""IdempotencyService: the Idempotency-Key of REST POSTs (Stripe's semantics), in PostgreSQL so
every gateway replica sees the same keys.

A key goes through: free -> reserved (Begin answered NEW; the request runs on one gateway, which
holds a lease) -> stored (Finish: its status, body and replay headers) -> free again once it
expires (IDEMPOTENCY_RETENTION_SECONDS after Begin; the sweep deletes it, and Begin treats an
expired row as free even before). Abandon frees a reservation whose response must not be
replayed (a 5xx: the client should retry and the retry should run). A reservation whose gateway
died is taken over by the same request (same fingerprint) once its lease ran out, so a key is
never blocked for longer than the lease.
"""

from __future__ import annotations

import asyncio
import json
import logging

import psycopg
from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors, inputs
from craftkit.v1 import idempotency_pb2, idempotency_pb2_grpc

log = logging.getLogger(__name__)

MIN_LEASE_MS, MAX_LEASE_MS = 1_000, 600_000
MAX_STORED_BODY = 4 * 1024 * 1024
"""Most stored bodies are JSON of a few KB, but a new version's 201 echoes its manifest and layout:
up to MAX_TEMPLATE_JSON (512 Ki) characters, up to 4 bytes each in UTF-8. A body refused here is
not replayed and its key is taken over by a retry once the lease ends: the request runs twice."""
SWEEP_EVERY_SECONDS = 60.0
SWEEP_BATCH = 1000
Outcome = idempotency_pb2.BeginResponse

# Takes the key when it is free: absent, expired, or reserved by the same request whose lease
# ran out (its gateway died). Returns nothing when the key is held or stored.
RESERVE = """
INSERT INTO idempotency_keys AS k (project_id, key, fingerprint, lease_id, lease_until, expires_at)
VALUES (%(project)s, %(key)s, %(fingerprint)s, %(lease)s,
        clock_timestamp() + %(lease_ms)s * interval '1 millisecond',
        clock_timestamp() + %(keep)s * interval '1 second')
ON CONFLICT (project_id, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, lease_id = EXCLUDED.lease_id,
        lease_until = EXCLUDED.lease_until, status = NULL, body = NULL, headers = NULL,
        created_at = clock_timestamp(), expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= clock_timestamp()
       OR (k.status IS NULL AND k.lease_until <= clock_timestamp()
           AND k.fingerprint = EXCLUDED.fingerprint)
RETURNING lease_id
"""

HELD = """
SELECT fingerprint, status, body, headers FROM idempotency_keys
WHERE project_id = %s AND key = %s AND expires_at > clock_timestamp()
"""

FINISH = """
UPDATE idempotency_keys SET status = %(status)s, body = %(body)s, headers = %(headers)s,
                            lease_until = NULL
WHERE project_id = %(project)s AND key = %(key)s AND lease_id = %(lease)s AND status IS NULL
"""

ABANDON = """
DELETE FROM idempotency_keys
WHERE project_id = %s AND key = %s AND lease_id = %s AND status IS NULL
"""

SWEEP = """
DELETE FROM idempotency_keys WHERE (project_id, key) IN (
    SELECT project_id, key FROM idempotency_keys WHERE expires_at <= clock_timestamp()
    ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)
"""


def _lease_id(value: str) -> str:
    if not inputs.is_uuid(value):
        raise errors.InvalidRequest("lease_id must be the lease_id Begin answered")
    return value


class IdempotencyService(idempotency_pb2_grpc.IdempotencyServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, *, retention_seconds: int) -> None:
        self.pool = pool
        self.retention_seconds = retention_seconds

    async def Begin(self, request, context):
        key = inputs.check_idempotency_key(request.key)
        if len(request.fingerprint) != 32:
            raise errors.InvalidRequest("fingerprint must be a SHA-256 digest (32 bytes)")
        lease_ms = min(max(request.lease_ms, MIN_LEASE_MS), MAX_LEASE_MS)
        params = {"project": request.project_id, "key": key, "fingerprint": request.fingerprint,
                  "lease": uuid7(), "lease_ms": lease_ms, "keep": self.retention_seconds}
        async with self.pool.connection() as conn:
            # A row can expire or be swept between the two statements: then try again.
            for _ in range(3):
                try:
                    cur = await conn.execute(RESERVE, params)
                except psycopg.errors.ForeignKeyViolation:
                    raise errors.NotFound("no such project") from None
                reserved = await cur.fetchone()
                if reserved is not None:
                    return Outcome(outcome=Outcome.NEW, lease_id=str(reserved["lease_id"]))
                cur = await conn.execute(HELD, (request.project_id, key))
                held = await cur.fetchone()
                if held is not None:
                    return _held(held, request.fingerprint)
        raise errors.Unavailable("the idempotency key kept changing hands; retry")

    async def Finish(self, request, context):
        response = request.response
        if len(response.body) > MAX_STORED_BODY:
            raise errors.InvalidRequest(f"a stored body is at most {MAX_STORED_BODY} bytes")
        async with self.pool.connection() as conn:
            cur = await conn.execute(FINISH, {
                "project": request.project_id, "key": inputs.check_idempotency_key(request.key),
                "lease": _lease_id(request.lease_id), "status": response.status,
                "body": response.body, "headers": json.dumps(dict(response.headers))})
            if cur.rowcount == 0:
                raise errors.Conflict("this idempotency key is no longer reserved by this "
                                      "request (its lease ran out and another took it over)")
        return idempotency_pb2.FinishResponse()

    async def Abandon(self, request, context):
        async with self.pool.connection() as conn:
            await conn.execute(ABANDON, (request.project_id,
                                         inputs.check_idempotency_key(request.key),
                                         _lease_id(request.lease_id)))
        return idempotency_pb2.AbandonResponse()


def _held(row: dict, fingerprint: bytes) -> idempotency_pb2.BeginResponse:
    if bytes(row["fingerprint"]) != fingerprint:
        return Outcome(outcome=Outcome.REUSED)
    if row["status"] is None:
        return Outcome(outcome=Outcome.IN_USE)
    return Outcome(outcome=Outcome.REPLAY, response=idempotency_pb2.StoredResponse(
        status=row["status"], body=bytes(row["body"] or b""), headers=row["headers"] or {}))


async def sweep_once(pool: AsyncConnectionPool) -> int:
    """Deletes up to SWEEP_BATCH expired keys; returns how many. Replicas sweeping at once skip
    each other's rows."""
    async with pool.connection() as conn:
        cur = await conn.execute(SWEEP, (SWEEP_BATCH,))
        return cur.rowcount


async def sweep(pool: AsyncConnectionPool) -> None:
    """Forever: expired keys deleted, a batch at a time, then a pause (Begin already treats an
    expired key as free: this only keeps the table small)."""
    while True:
        try:
            while await sweep_once(pool) == SWEEP_BATCH:
                pass
        except (psycopg.Error, OSError) as exc:
            log.warning("idempotency key sweep failed (will retry): %s", exc)
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
