"""WebhookService: a project's endpoints, secret rotation, and the delivery log."""

from __future__ import annotations

import secrets
import uuid

import psycopg
from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import cursor, errors
from craftkit.timefmt import ms
from craftkit.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.webhooks.targets import TargetRefused, check_target, check_url

EVENTS = ("render.succeeded", "render.failed", "render.cancelled")
# What an endpoint created without `events` gets: the seeds' two events, which receivers written
# against the seeds branch on. render.cancelled is only sent to endpoints that list it.
DEFAULT_EVENTS = ("render.succeeded", "render.failed")
ENDPOINT_COLUMNS = "id, url, events, enabled, created_at, paused_until"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def endpoint_proto(row: dict, secret: str = "") -> webhooks_pb2.Endpoint:
    return webhooks_pb2.Endpoint(
        id=str(row["id"]), url=row["url"], events=row["events"], secret=secret,
        enabled=row["enabled"], created_at_ms=ms(row["created_at"]),
        paused_until_ms=ms(row["paused_until"]))


def delivery_proto(row: dict, attempts: list[dict]) -> webhooks_pb2.Delivery:
    return webhooks_pb2.Delivery(
        id=str(row["id"]), endpoint_id=str(row["endpoint_id"]), event=row["event"],
        render_id=str(row["render_id"]), status=row["status"],
        next_attempt_at_ms=ms(row["next_attempt_at"]) if row["status"] == "pending" else 0,
        created_at_ms=ms(row["created_at"]),
        attempts=[webhooks_pb2.Attempt(number=a["number"], status_code=a["status_code"] or 0,
                                       error=a["error"] or "", duration_ms=a["duration_ms"],
                                       at_ms=ms(a["at"])) for a in attempts])


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise errors.NotFound(f"no {what} with id {value!r}") from None


def _events(events) -> list[str]:
    events = list(events) or list(DEFAULT_EVENTS)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise errors.InvalidRequest(f"unknown event(s) {', '.join(unknown)}; events: "
                                    f"{', '.join(EVENTS)}", field_errors={"events": ["Invalid"]})
    return sorted(set(events))


def _next(rows: list[dict], limit: int) -> str:
    """The cursor after a page of `limit` rows, when the query found one more (limit + 1)."""
    if len(rows) <= limit:
        return ""
    return cursor.encode(ms(rows[limit - 1]["created_at"]), rows[limit - 1]["id"])


class WebhookService(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, *, allow_private: bool, wake) -> None:
        self.pool = pool
        self.allow_private = allow_private
        self.wake = wake  # tells the delivery loop that something is due now

    async def _check(self, url: str) -> None:
        """The URL's shape always; its addresses too unless private targets are allowed (a dev
        stack need not resolve a receiver's name when it is saved). Deliveries check again."""
        try:
            if self.allow_private:
                check_url(url)
            else:
                await check_target(url, allow_private=False)
        except TargetRefused as exc:
            raise errors.InvalidRequest(str(exc), field_errors={"url": [str(exc)]}) from None

    async def _endpoint(self, conn, project_id: str, endpoint_id: str, lock: bool = False) -> dict:
        cur = await conn.execute(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = %s AND project_id = %s "
            "AND deleted_at IS NULL" + (" FOR UPDATE" if lock else ""),
            (_uuid(endpoint_id, "webhook endpoint"), project_id))
        row = await cur.fetchone()
        if row is None:
            raise errors.NotFound(f"no webhook endpoint {endpoint_id!r} in this project")
        return row

    async def CreateEndpoint(self, request, context):
        await self._check(request.url)
        secret = new_secret()
        async with self.pool.connection() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO webhook_endpoints (id, project_id, url, events, secret) "
                    f"VALUES (%s, %s, %s, %s, %s) RETURNING {ENDPOINT_COLUMNS}",
                    (uuid7(), request.project_id, request.url, _events(request.events), secret))
            except psycopg.errors.ForeignKeyViolation:
                raise errors.InvalidRequest("project_id names no project") from None
            return endpoint_proto(await cur.fetchone(), secret)

    async def ListEndpoints(self, request, context):
        limit = cursor.page_size(request.limit, 100, 100)
        after = ""
        params = {"project": request.project_id, "limit": limit + 1}
        if request.cursor:
            params["at"], params["last"] = cursor.decode(request.cursor, cursor.millis,
                                                         cursor.uuid_part)
            after = "AND (created_at, id) > (%(at)s, %(last)s) "
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE project_id = %(project)s "
                f"AND deleted_at IS NULL {after}ORDER BY created_at, id LIMIT %(limit)s", params)
            rows = await cur.fetchall()
        page = rows[:limit]
        return webhooks_pb2.ListEndpointsResponse(
            endpoints=[endpoint_proto(r) for r in page], next_cursor=_next(rows, limit))

    async def UpdateEndpoint(self, request, context):
        if request.has_url:
            await self._check(request.url)
        events = _events(request.events) if request.has_events else None
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._endpoint(conn, request.project_id, request.endpoint_id, lock=True)
            cur = await conn.execute(
                "UPDATE webhook_endpoints SET url = %s, events = %s, enabled = %s, "
                "paused_until = CASE WHEN %s THEN NULL ELSE paused_until END, "
                "failing_since = CASE WHEN %s THEN NULL ELSE failing_since END "
                f"WHERE id = %s RETURNING {ENDPOINT_COLUMNS}",
                (request.url if request.has_url else row["url"],
                 events if events is not None else row["events"],
                 request.enabled if request.has_enabled else row["enabled"],
                 request.has_enabled and request.enabled, request.has_enabled and request.enabled,
                 row["id"]))
            updated = await cur.fetchone()
        self.wake()
        return endpoint_proto(updated)

    async def DeleteEndpoint(self, request, context):
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._endpoint(conn, request.project_id, request.endpoint_id, lock=True)
            await conn.execute("UPDATE webhook_endpoints SET deleted_at = now(), enabled = false "
                               "WHERE id = %s", (row["id"],))
            await conn.execute("UPDATE webhook_deliveries SET status = 'failed' "
                               "WHERE endpoint_id = %s AND status = 'pending'", (row["id"],))
        return endpoint_proto({**row, "enabled": False})

    async def RotateSecret(self, request, context):
        overlap = request.overlap_seconds if request.overlap_seconds > 0 else 86400
        if overlap > 7 * 86400:
            raise errors.InvalidRequest("overlapSeconds may be at most 604800 (7 days)")
        secret = new_secret()
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._endpoint(conn, request.project_id, request.endpoint_id, lock=True)
            cur = await conn.execute(
                "UPDATE webhook_endpoints SET previous_secret = secret, secret = %s, "
                "previous_until = now() + %s * interval '1 second' "
                f"WHERE id = %s RETURNING {ENDPOINT_COLUMNS}", (secret, overlap, row["id"]))
            return endpoint_proto(await cur.fetchone(), secret)

    async def ListDeliveries(self, request, context):
        limit = cursor.page_size(request.limit, 50, 200)
        before = ""
        params = {"limit": limit + 1}
        if request.cursor:
            params["at"], params["last"] = cursor.decode(request.cursor, cursor.millis,
                                                         cursor.uuid_part)
            before = "AND (created_at, id) < (%(at)s, %(last)s) "
        async with self.pool.connection() as conn:
            endpoint = await self._endpoint(conn, request.project_id, request.endpoint_id)
            params["endpoint"] = endpoint["id"]
            cur = await conn.execute(
                f"SELECT * FROM webhook_deliveries WHERE endpoint_id = %(endpoint)s {before}"
                "ORDER BY created_at DESC, id DESC LIMIT %(limit)s", params)
            rows = await cur.fetchall()
            next_cursor, rows = _next(rows, limit), rows[:limit]
            cur = await conn.execute(
                "SELECT * FROM webhook_attempts WHERE delivery_id = ANY(%s) "
                "ORDER BY delivery_id, number", ([r["id"] for r in rows],))
            attempts: dict = {}
            for attempt in await cur.fetchall():
                attempts.setdefault(attempt["delivery_id"], []).append(attempt)
        return webhooks_pb2.ListDeliveriesResponse(
            deliveries=[delivery_proto(r, attempts.get(r["id"], [])) for r in rows],
            next_cursor=next_cursor)

    async def Redeliver(self, request, context):
        async with self.pool.connection() as conn, conn.transaction():
            endpoint = await self._endpoint(conn, request.project_id, request.endpoint_id)
            try:
                cur = await conn.execute(
                    "UPDATE webhook_deliveries SET status = 'pending', "
                    "next_attempt_at = clock_timestamp(), "
                    "give_up_at = greatest(give_up_at, clock_timestamp() + interval '1 hour') "
                    "WHERE id = %s AND endpoint_id = %s RETURNING *",
                    (_uuid(request.delivery_id, "delivery"), endpoint["id"]))
            except psycopg.errors.DataError:
                row = None
            else:
                row = await cur.fetchone()
            if row is None:
                raise errors.NotFound(f"no delivery {request.delivery_id!r} for this endpoint")
            cur = await conn.execute("SELECT * FROM webhook_attempts WHERE delivery_id = %s "
                                     "ORDER BY number", (row["id"],))
            attempts = await cur.fetchall()
        self.wake()
        return delivery_proto(row, attempts)
