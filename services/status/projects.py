"""ProjectService: projects and their API keys (kept only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import re
import secrets

from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors, inputs
from craftkit.v1 import projects_pb2, projects_pb2_grpc

KEY_PREFIX = "ck_live_"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def new_key() -> tuple[str, str]:
    """A fresh API key and its hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hashlib.sha256(key.encode()).hexdigest()


class ProjectService(projects_pb2_grpc.ProjectServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _add_key(self, conn, project_id) -> str:
        key, digest = new_key()
        await conn.execute("INSERT INTO api_keys (key_sha256, project_id, prefix) VALUES (%s, %s, %s)",
                           (digest, project_id, key[:12]))
        return key

    async def CreateProject(self, request, context):
        inputs.check_text(request.name, "name", limit=inputs.MAX_NAME_LENGTH)
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("INSERT INTO projects (id, name) VALUES (%s, %s) RETURNING id, name",
                                     (uuid7(), request.name))
            row = await cur.fetchone()
            key = await self._add_key(conn, row["id"])
        return projects_pb2.CreateProjectResponse(
            project=projects_pb2.Project(id=str(row["id"]), name=row["name"]), api_key=key)

    async def CreateApiKey(self, request, context):
        if not inputs.is_uuid(request.project_id):
            raise errors.NotFound(f"no project {errors.shorten(request.project_id)}")
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT id FROM projects WHERE id = %s", (request.project_id,))
            if await cur.fetchone() is None:
                raise errors.NotFound(f"no project {errors.shorten(request.project_id)}")
            return projects_pb2.CreateApiKeyResponse(api_key=await self._add_key(conn, request.project_id))

    async def Authenticate(self, request, context):
        if not SHA256_HEX.fullmatch(request.key_sha256):
            raise errors.Unauthorized("unknown or revoked API key")
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT p.id, p.name FROM api_keys k JOIN projects p ON p.id = k.project_id "
                "WHERE k.key_sha256 = %s AND k.revoked_at IS NULL", (request.key_sha256,))
            row = await cur.fetchone()
        if row is None:
            raise errors.Unauthorized("unknown or revoked API key")
        return projects_pb2.Project(id=str(row["id"]), name=row["name"])
