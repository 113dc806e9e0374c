"""ProjectService: projects and their API keys (kept only as SHA-256 hashes, named by a stable id).

A key's scopes say what it may do at the gateway: `full` (everything, key management included) ⊇
`render` (enqueue, cancel and read renders, share links) ⊇ `download` (read renders and download:
the partner key). The gateway enforces them; this service stores them and hands them out with the
project on every Authenticate.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timezone

from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors, inputs
from craftkit.timefmt import ms
from craftkit.v1 import projects_pb2, projects_pb2_grpc

KEY_PREFIX = "ck_live_"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SCOPES = ("full", "render", "download")
"""Every scope, widest first; each includes the ones after it."""
FIRST_KEY_NAME = "default"
PAGE, MAX_PAGE = 50, 200
KEY_COLUMNS = "id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at"
TOUCH_EVERY = "1 second"
"""Authenticate writes last_used_at at most this often per key (every gateway asks once per
KEY_CACHE_SECONDS per key; this bounds the writes when many gateways do)."""


def new_key() -> tuple[str, str]:
    """A fresh API key and its hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hashlib.sha256(key.encode()).hexdigest()


def check_scopes(scopes) -> list[str]:
    """`scopes` made canonical (distinct, widest first); empty means ["full"]. InvalidRequest
    naming the allowed scopes for anything else."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise errors.InvalidRequest(
            f"unknown scope {errors.shorten(unknown[0])}: scopes are {', '.join(SCOPES)}",
            field_errors={"scopes": [f"Must be among {', '.join(SCOPES)}"]})
    return [s for s in SCOPES if s in scopes] or ["full"]


def key_proto(row: dict) -> projects_pb2.ApiKey:
    return projects_pb2.ApiKey(
        id=str(row["id"]), project_id=str(row["project_id"]), name=row["name"],
        prefix=row["prefix"], scopes=row["scopes"], created_at_ms=ms(row["created_at"]),
        last_used_at_ms=ms(row["last_used_at"]), revoked_at_ms=ms(row["revoked_at"]))


def no_key(key_id: str) -> errors.NotFound:
    return errors.NotFound(f"no API key {errors.shorten(key_id)} in this project")


class ProjectService(projects_pb2_grpc.ProjectServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _add_key(self, conn, project_id, name: str, scopes: list[str]) -> tuple[str, dict]:
        key, digest = new_key()
        cur = await conn.execute(
            "INSERT INTO api_keys (key_sha256, id, project_id, prefix, name, scopes) "
            f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {KEY_COLUMNS}",
            (digest, uuid7(), project_id, key[:12], name, scopes))
        return key, await cur.fetchone()

    async def CreateProject(self, request, context):
        inputs.check_text(request.name, "name", limit=inputs.MAX_NAME_LENGTH)
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO projects (id, name) VALUES (%s, %s) RETURNING id, name",
                (uuid7(), request.name))
            row = await cur.fetchone()
            key, key_row = await self._add_key(conn, row["id"], FIRST_KEY_NAME, ["full"])
        return projects_pb2.CreateProjectResponse(
            project=projects_pb2.Project(id=str(row["id"]), name=row["name"]), api_key=key,
            key=key_proto(key_row))

    async def CreateApiKey(self, request, context):
        if not inputs.is_uuid(request.project_id):
            raise errors.NotFound(f"no project {errors.shorten(request.project_id)}")
        name = inputs.check_text(request.name, "name", limit=inputs.MAX_NAME_LENGTH,
                                 required=False)
        scopes = check_scopes(request.scopes)
        async with self.pool.connection() as conn, conn.transaction():
            await self._known_project(conn, request.project_id)
            key, row = await self._add_key(conn, request.project_id, name, scopes)
        return projects_pb2.CreateApiKeyResponse(api_key=key, key=key_proto(row))

    async def ListApiKeys(self, request, context):
        limit = request.limit or PAGE
        if not 1 <= limit <= MAX_PAGE:
            raise errors.InvalidRequest(f"limit must be between 1 and {MAX_PAGE}",
                                        field_errors={"limit": [f"Between 1 and {MAX_PAGE}"]})
        async with self.pool.connection() as conn:
            after = await self._after(conn, request.project_id, request.cursor)
            cur = await conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = %s "
                "AND (created_at, id) < (%s, %s) ORDER BY created_at DESC, id DESC LIMIT %s",
                (request.project_id, *after, limit + 1))
            rows = await cur.fetchall()
            if not rows and not request.cursor:
                await self._known_project(conn, request.project_id)
        page = rows[:limit]
        return projects_pb2.ListApiKeysResponse(
            keys=[key_proto(r) for r in page],
            next_cursor=str(page[-1]["id"]) if len(rows) > limit else "")

    async def _known_project(self, conn, project_id: str) -> None:
        """NotFound for a project id that names no project (an operator's typo must not read
        as "no keys")."""
        cur = await conn.execute("SELECT 1 FROM projects WHERE id = %s", (project_id,))
        if await cur.fetchone() is None:
            raise errors.NotFound(f"no project {errors.shorten(project_id)}")

    async def _after(self, conn, project_id: str, cursor: str) -> tuple:
        """The keyset position a cursor (the last key id of the previous page) stands for: the
        next page starts just after that key, whatever was inserted meanwhile."""
        if not cursor:
            return (datetime.max.replace(tzinfo=timezone.utc), uuid.UUID(int=(1 << 128) - 1))
        key_id = inputs.canonical_uuid(cursor)
        row = None
        if key_id is not None:
            cur = await conn.execute(
                "SELECT created_at, id FROM api_keys WHERE id = %s AND project_id = %s",
                (key_id, project_id))
            row = await cur.fetchone()
        if row is None:
            raise errors.InvalidRequest(
                "cursor is not one this list gave; send nextCursor as it came",
                field_errors={"cursor": ["Unknown cursor"]})
        return row["created_at"], row["id"]

    async def RevokeApiKey(self, request, context):
        key_id = inputs.canonical_uuid(request.key_id)
        if key_id is None:
            raise no_key(request.key_id)
        async with self.pool.connection() as conn, conn.transaction():
            # Revocations of one project take turns, so two of its last full keys revoked at
            # once cannot both pass the keep_a_full_key check. NO KEY UPDATE: FOR UPDATE would
            # also wait for (and hold up) every insert naming the project, whose foreign key
            # check takes FOR KEY SHARE on this row.
            await conn.execute("SELECT 1 FROM projects WHERE id = %s FOR NO KEY UPDATE",
                               (request.project_id,))
            cur = await conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = %s AND project_id = %s",
                (key_id, request.project_id))
            row = await cur.fetchone()
            if row is None:
                raise no_key(request.key_id)
            if row["revoked_at"] is not None:
                return key_proto(row)
            if request.keep_a_full_key and "full" in row["scopes"]:
                await self._keep_a_full_key(conn, request.project_id, key_id)
            cur = await conn.execute(
                "UPDATE api_keys SET revoked_at = date_trunc('milliseconds', now()) "
                f"WHERE id = %s RETURNING {KEY_COLUMNS}", (key_id,))
            return key_proto(await cur.fetchone())

    async def _keep_a_full_key(self, conn, project_id: str, key_id: str) -> None:
        cur = await conn.execute(
            "SELECT 1 FROM api_keys WHERE project_id = %s AND id <> %s AND revoked_at IS NULL "
            "AND 'full' = ANY(scopes) LIMIT 1", (project_id, key_id))
        if await cur.fetchone() is None:
            raise errors.Conflict("this is the project's last active key with scope full: "
                                  "create another full key first, or ask the operator")

    async def Authenticate(self, request, context):
        if not SHA256_HEX.fullmatch(request.key_sha256):
            raise errors.Unauthorized("unknown or revoked API key")
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "WITH touched AS (UPDATE api_keys SET last_used_at = date_trunc('milliseconds', "
                "now()) WHERE key_sha256 = %s AND revoked_at IS NULL AND (last_used_at IS NULL "
                f"OR last_used_at < now() - interval '{TOUCH_EVERY}')) "
                "SELECT p.id, p.name, k.id AS key_id, k.scopes FROM api_keys k "
                "JOIN projects p ON p.id = k.project_id "
                "WHERE k.key_sha256 = %s AND k.revoked_at IS NULL",
                (request.key_sha256, request.key_sha256))
            row = await cur.fetchone()
        if row is None:
            raise errors.Unauthorized("unknown or revoked API key")
        return projects_pb2.Project(id=str(row["id"]), name=row["name"],
                                    key_id=str(row["key_id"]), scopes=row["scopes"])

