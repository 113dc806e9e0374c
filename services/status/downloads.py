"""DownloadService: where the gateway streams a render's PDF from, and share links.

A share link's token is random and stored only as a SHA-256 hash (like API keys and inbound hooks).
OpenShareLink counts a download when the link is opened, in the same statement that checks expiry,
revocation and the count, so two clients racing for the last download cannot both get it. A client
that opens the link and then aborts (or a range request resuming a download) still spends one:
the server cannot tell a finished download from an abandoned one, and counting on completion would
let a client that always aborts one byte short download forever.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors
from craftkit.downloads import (DEFAULT_LINK_SECONDS, MAX_DOWNLOADS, MAX_LINK_SECONDS,
                                STREAM_URL_SECONDS, Presigner)
from craftkit.timefmt import ms
from craftkit.v1 import downloads_pb2, downloads_pb2_grpc

LINK_COLUMNS = ("id, render_id, expires_at, coalesce(max_downloads, 0) AS max_downloads, "
                "downloads, created_at, revoked_at")

# Counts one download on a link that is still good, and answers where its PDF is.
OPEN = """
WITH opened AS (
    UPDATE share_links s SET downloads = s.downloads + 1
    FROM renders r
    WHERE s.token_sha256 = %s AND s.revoked_at IS NULL AND s.expires_at > clock_timestamp()
      AND (s.max_downloads IS NULL OR s.downloads < s.max_downloads)
      AND r.id = s.render_id AND r.status = 'succeeded' AND r.object_key IS NOT NULL
      AND r.expired_at IS NULL
    RETURNING r.id, r.project_id, r.status::text AS status, r.object_key, r.filename
)
SELECT * FROM opened
"""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_proto(row: dict, token: str = "") -> downloads_pb2.ShareLink:
    return downloads_pb2.ShareLink(
        id=str(row["id"]), render_id=str(row["render_id"]), token=token,
        expires_at_ms=ms(row["expires_at"]), max_downloads=row["max_downloads"],
        downloads=row["downloads"], created_at_ms=ms(row["created_at"]),
        revoked_at_ms=ms(row["revoked_at"]))


def check_downloadable(render_id: str, row: dict) -> None:
    """Raises why the render's PDF cannot be downloaded (not yet, never, or no longer)."""
    status = row["status"]
    if status in ("queued", "rendering"):
        raise errors.RenderNotReady(f"render {render_id} is {status}; its PDF is there once it "
                                    "has succeeded (poll GET /v1/renders/{id})")
    if status != "succeeded":
        raise errors.RenderFailed(f"render {render_id} is {status}: it has no PDF")
    if row["expired_at"] is not None or not row["object_key"]:
        raise errors.RenderExpired(f"render {render_id}'s PDF has been deleted "
                                   "(RENDER_RETENTION_DAYS)")


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise errors.NotFound(f"no {what} with id {errors.shorten(value)}") from None


def link_terms(request) -> tuple[int, int | None]:
    """(seconds until the link expires, its download limit or None), or InvalidRequest naming
    what to fix."""
    seconds = request.expires_in_seconds or DEFAULT_LINK_SECONDS
    if not 1 <= seconds <= MAX_LINK_SECONDS:
        raise errors.InvalidRequest(
            f"expiresIn must be 1 to {MAX_LINK_SECONDS} seconds (90 days), got "
            f"{request.expires_in_seconds}", field_errors={"expiresIn": ["Out of range"]})
    if not 0 <= request.max_downloads <= MAX_DOWNLOADS:
        raise errors.InvalidRequest(
            f"maxDownloads must be 1 to {MAX_DOWNLOADS}, or null for no limit; got "
            f"{request.max_downloads}", field_errors={"maxDownloads": ["Out of range"]})
    return seconds, request.max_downloads or None


class DownloadService(downloads_pb2_grpc.DownloadServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, presigner: Presigner) -> None:
        self.pool = pool
        self.presigner = presigner
        """Signs for S3_ENDPOINT: the gateway fetches the PDF itself and never hands this out."""

    def _download(self, row: dict) -> downloads_pb2.Download:
        return downloads_pb2.Download(url=self.presigner.url(row["object_key"], STREAM_URL_SECONDS),
                                      filename=row["filename"], render_id=str(row["id"]),
                                      project_id=str(row["project_id"]))

    async def _render(self, conn, project_id: str, render_id: str) -> dict:
        cur = await conn.execute(
            "SELECT id, project_id, status::text AS status, object_key, filename, expired_at "
            "FROM renders "
            "WHERE id = %s AND project_id = %s", (parse_uuid(render_id, "render"), project_id))
        row = await cur.fetchone()
        if row is None:
            raise errors.NotFound(f"no render with id {errors.shorten(render_id)} in this project")
        return row

    async def GetDownload(self, request, context):
        async with self.pool.connection() as conn:
            row = await self._render(conn, request.project_id, request.render_id)
        check_downloadable(request.render_id, row)
        return self._download(row)

    async def CreateShareLink(self, request, context):
        seconds, limit = link_terms(request)
        token = secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            render = await self._render(conn, request.project_id, request.render_id)
            check_downloadable(request.render_id, render)
            cur = await conn.execute(
                "INSERT INTO share_links (id, project_id, render_id, token_sha256, expires_at, "
                "max_downloads) VALUES (%s, %s, %s, %s, date_trunc('milliseconds', "
                "clock_timestamp()) + %s * interval '1 second', %s) "
                f"RETURNING {LINK_COLUMNS}",
                (uuid7(), request.project_id, render["id"], digest(token), seconds, limit))
            return link_proto(await cur.fetchone(), token)

    async def ListShareLinks(self, request, context):
        async with self.pool.connection() as conn:
            render = await self._render(conn, request.project_id, request.render_id)
            cur = await conn.execute(
                f"SELECT {LINK_COLUMNS} FROM share_links WHERE render_id = %s "
                "AND project_id = %s ORDER BY created_at DESC, id DESC",
                (render["id"], request.project_id))
            rows = await cur.fetchall()
        return downloads_pb2.ListShareLinksResponse(links=[link_proto(r) for r in rows])

    async def RevokeShareLink(self, request, context):
        link_id = parse_uuid(request.link_id, "share link")
        async with self.pool.connection() as conn:
            render = await self._render(conn, request.project_id, request.render_id)
            cur = await conn.execute(
                "UPDATE share_links SET revoked_at = coalesce(revoked_at, "
                "date_trunc('milliseconds', clock_timestamp())) WHERE id = %s AND render_id = %s "
                f"AND project_id = %s RETURNING {LINK_COLUMNS}",
                (link_id, render["id"], request.project_id))
            row = await cur.fetchone()
        if row is None:
            raise errors.NotFound(f"no share link {errors.shorten(request.link_id)} on render "
                                  f"{request.render_id}")
        return link_proto(row)

    async def OpenShareLink(self, request, context):
        hashed = digest(request.token)
        async with self.pool.connection() as conn:
            cur = await conn.execute(OPEN, (hashed,))
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute("SELECT 1 FROM share_links WHERE token_sha256 = %s",
                                         (hashed,))
                if await cur.fetchone() is None:
                    raise errors.NotFound("no such share link")
                raise errors.LinkExpired("this share link has expired, was revoked, or has been "
                                         "used its maximum number of times; ask its owner for "
                                         "a new one")
        return self._download(row)
