"""InboundHookService: signed URLs that let a third party trigger renders of one template.
The URL's token is random and stored only as a SHA-256 hash, like API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors
from craftkit.timefmt import ms
from craftkit.v1 import inbound_pb2, inbound_pb2_grpc
from services.status.templates import known_template, not_found

COLUMNS = ("h.id, h.project_id, t.slug, coalesce(h.version_number, 0) AS version_number, "
           "h.created_at, h.revoked_at")


def hook_proto(row: dict, token: str = "") -> inbound_pb2.InboundHook:
    return inbound_pb2.InboundHook(
        id=str(row["id"]), project_id=str(row["project_id"]), template_slug=row["slug"],
        version_number=row["version_number"], token=token, created_at_ms=ms(row["created_at"]),
        revoked_at_ms=ms(row["revoked_at"]))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InboundHookService(inbound_pb2_grpc.InboundHookServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _template_id(self, conn, project_id: str, slug: str):
        if not known_template(project_id, slug):
            raise not_found(slug)
        cur = await conn.execute("SELECT id FROM templates WHERE project_id = %s AND slug = %s",
                                 (project_id, slug))
        row = await cur.fetchone()
        if row is None:
            raise not_found(slug)
        return row["id"]

    async def CreateInboundHook(self, request, context):
        token = secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            template_id = await self._template_id(conn, request.project_id, request.template_slug)
            if request.version_number:
                cur = await conn.execute(
                    "SELECT 1 FROM template_versions WHERE template_id = %s AND number = %s "
                    "AND published_at IS NOT NULL", (template_id, request.version_number))
                if await cur.fetchone() is None:
                    raise errors.VersionNotFound(
                        f"template {errors.shorten(request.template_slug)} has no published "
                        f"version {request.version_number}")
            cur = await conn.execute(
                "WITH h AS (INSERT INTO inbound_hooks (id, project_id, template_id, "
                "version_number, token_sha256) VALUES (%s, %s, %s, %s, %s) RETURNING *) "
                f"SELECT {COLUMNS} FROM h JOIN templates t ON t.id = h.template_id",
                (uuid7(), request.project_id, template_id, request.version_number or None,
                 digest(token)))
            return hook_proto(await cur.fetchone(), token)

    async def ListInboundHooks(self, request, context):
        async with self.pool.connection() as conn:
            template_id = await self._template_id(conn, request.project_id, request.template_slug)
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM inbound_hooks h JOIN templates t ON t.id = h.template_id "
                "WHERE h.template_id = %s ORDER BY h.created_at", (template_id,))
            rows = await cur.fetchall()
        return inbound_pb2.ListInboundHooksResponse(hooks=[hook_proto(r) for r in rows])

    async def RevokeInboundHook(self, request, context):
        try:
            hook_id = uuid.UUID(request.hook_id)
        except ValueError:
            raise errors.NotFound(f"no inbound hook {errors.shorten(request.hook_id)}") from None
        async with self.pool.connection() as conn:
            template_id = await self._template_id(conn, request.project_id, request.template_slug)
            cur = await conn.execute(
                "WITH h AS (UPDATE inbound_hooks SET revoked_at = coalesce(revoked_at, "
                "date_trunc('milliseconds', now())) WHERE id = %s AND template_id = %s "
                f"RETURNING *) SELECT {COLUMNS} FROM h JOIN templates t ON t.id = h.template_id",
                (hook_id, template_id))
            row = await cur.fetchone()
        if row is None:
            raise errors.NotFound(
                f"no inbound hook {errors.shorten(request.hook_id)} for this template")
        return hook_proto(row)

    async def ResolveInboundHook(self, request, context):
        refused = errors.Unauthorized("this inbound hook URL is not valid (unknown, revoked, or "
                                      "its signature does not match)")
        try:
            hook_id = uuid.UUID(request.hook_id)
        except ValueError:
            raise refused from None
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS}, h.token_sha256 FROM inbound_hooks h "
                "JOIN templates t ON t.id = h.template_id WHERE h.id = %s", (hook_id,))
            row = await cur.fetchone()
        if row is None or row["revoked_at"] is not None or \
                not hmac.compare_digest(row["token_sha256"], digest(request.token)):
            raise refused
        return hook_proto(row)
