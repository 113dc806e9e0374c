"""StatusService: reads renders, waits for them, and records the worker's transitions."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import psycopg
from psycopg_pool import AsyncConnectionPool

from craftkit import db, errors, messages
from craftkit.layout import image_assets
from craftkit.outbox import Outbox
from craftkit.renders import COLUMNS, TERMINAL, to_proto
from craftkit.v1 import status_pb2, status_pb2_grpc

log = logging.getLogger(__name__)


def parse_id(value: str, error=errors.NotFound) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise error(f"no render with id {value!r}") from None


class TerminalWaiters:
    """Wakes WaitRender calls when a render becomes terminal: at once, with the row, when this
    replica recorded it (`finished`); through PostgreSQL's NOTIFY render_terminal (sent by the
    renders trigger on commit) when another replica did."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.waiting: dict[str, set[asyncio.Future]] = {}
        self.listening = asyncio.Event()

    def register(self, render_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(render_id, set()).add(future)
        return future

    def finished(self, render_id: str, row: dict | None = None) -> None:
        for future in self.waiting.get(render_id, ()):
            if not future.done():
                future.set_result(row)

    def unregister(self, render_id: str, future: asyncio.Future) -> None:
        futures = self.waiting.get(render_id)
        if futures is not None:
            futures.discard(future)
            if not futures:
                del self.waiting[render_id]

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.database_url, autocommit=True) as conn:
                    await conn.execute("LISTEN render_terminal")
                    self.listening.set()
                    failures = 0
                    async for notify in conn.notifies():
                        self.finished(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect after any failure
                self.listening.clear()
                log.warning("render_terminal listener: %s", exc)
                # Waiters re-read their row on a short cadence meanwhile (see StatusService.wait).
                failures += 1
                await asyncio.sleep(db.RETRY.delay(failures))


class StatusService(status_pb2_grpc.StatusServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, waiters: TerminalWaiters, outbox: Outbox, *,
                 lease_seconds: int, events_topic: str) -> None:
        self.pool = pool
        self.outbox = outbox
        self.waiters = waiters
        self.lease_seconds = lease_seconds
        self.events_topic = events_topic

    async def _fetch(self, project_id: str, render_id: str, transitions: bool = False):
        rid = parse_id(render_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM renders WHERE id = %s AND (%s::uuid IS NULL OR project_id = %s::uuid)",
                (rid, project_id or None, project_id or None))
            row = await cur.fetchone()
            if row is None:
                raise errors.NotFound(f"no render with id {render_id!r} in this project")
            history = []
            if transitions:
                cur = await conn.execute("SELECT status::text AS status, attempt, at FROM "
                                         "render_transitions WHERE render_id = %s ORDER BY id", (rid,))
                history = await cur.fetchall()
        return row, history

    async def GetRender(self, request, context):
        row, history = await self._fetch(request.project_id, request.render_id,
                                         request.include_transitions)
        return to_proto(row, history)

    async def WaitRender(self, request, context):
        deadline = asyncio.get_running_loop().time() + max(request.timeout_ms, 0) / 1000
        future = self.waiters.register(request.render_id)
        try:
            while True:
                row, _ = await self._fetch(request.project_id, request.render_id)
                remaining = deadline - asyncio.get_running_loop().time()
                if row["status"] in TERMINAL or remaining <= 0:
                    return to_proto(row)
                # While the listener is down, fall back to re-reading every 200 ms.
                step = remaining if self.waiters.listening.is_set() else min(remaining, 0.2)
                try:
                    finished = await asyncio.wait_for(asyncio.shield(future), step)
                except asyncio.TimeoutError:
                    continue
                if finished is not None:  # recorded here: the row came with the wake-up
                    return to_proto(finished)
        finally:
            self.waiters.unregister(request.render_id, future)

    async def StartRender(self, request, context):
        rid = parse_id(request.render_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"""UPDATE renders r SET status = 'rendering', attempt = r.attempt + 1,
                           started_at = clock_timestamp()
                    FROM template_versions v, templates t
                    WHERE r.id = %s AND v.template_id = r.template_id
                      AND v.number = r.version_number AND t.id = r.template_id
                      AND (r.status = 'queued' OR (r.status = 'rendering'
                           AND r.started_at < clock_timestamp() - %s * interval '1 second'))
                    RETURNING {', '.join('r.' + c.strip() for c in COLUMNS.split(','))},
                              r.attempt, r.data::text AS data, v.layout::text AS layout,
                              t.name AS template_name""",
                (rid, self.lease_seconds))
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute("SELECT status::text AS status FROM renders WHERE id = %s",
                                         (rid,))
                current = await cur.fetchone()
                if current is None:
                    raise errors.NotFound(f"no render with id {request.render_id!r}")
                if current["status"] in TERMINAL:
                    raise errors.Conflict(f"render {request.render_id} is already {current['status']}")
                raise errors.Busy(f"render {request.render_id} is being rendered by another worker")
            assets = []
            if '"image"' in row["layout"]:  # cheap test first: most layouts show no images
                names = sorted(image_assets(json.loads(row["layout"])))
                cur = await conn.execute(
                    "SELECT name, sha256 FROM template_assets WHERE template_id = %s "
                    "AND name = ANY(%s)", (row["template_id"], names))
                assets = [status_pb2.AssetRef(name=a["name"], sha256=a["sha256"])
                          for a in await cur.fetchall()]
        log.info("render %s claimed by %s (attempt %d)", request.render_id, request.worker_id,
                 row["attempt"])
        return status_pb2.StartRenderResponse(render=to_proto(row), attempt=row["attempt"],
                                              data_json=row["data"], layout_json=row["layout"],
                                              assets=assets)

    async def FinishRender(self, request, context):
        rid = parse_id(request.render_id)
        outcome = "succeeded" if request.succeeded else "failed"
        error_message = None if request.succeeded else (request.error_message or "render failed")
        async with self.pool.connection() as conn:
            cur = await conn.execute(FINISH, {
                "status": outcome, "key": request.object_key or None,
                "url": request.download_url or None, "error": error_message, "id": rid,
                "attempt": request.attempt, "topic": self.events_topic})
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    "SELECT status::text AS status, attempt FROM renders WHERE id = %s", (rid,))
                current = await cur.fetchone()
                if current is None:
                    raise errors.NotFound(f"no render with id {request.render_id!r}")
                raise errors.Conflict(
                    f"render {request.render_id} is {current['status']} at attempt "
                    f"{current['attempt']}; attempt {request.attempt} may not finish it")
        self.outbox.publish(row["outbox_id"], self.events_topic, row["event_key"],
                            row["event_payload"])
        self.waiters.finished(request.render_id, row)
        return to_proto(row)


# The terminal transition and its completion event in one statement, so one never exists without
# the other.
FINISH = f"""
WITH now AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS t),
done AS (
    UPDATE renders SET status = %(status)s, object_key = %(key)s, download_url = %(url)s,
           error_message = %(error)s, completed_at = now.t,
           duration_ms = round(extract(epoch FROM now.t - created_at) * 1000)
    FROM now
    WHERE id = %(id)s AND status = 'rendering' AND attempt = %(attempt)s
    RETURNING {COLUMNS}
), event AS (
    {messages.outbox_insert("topic", messages.EVENT_PAYLOAD, "done")}
)
SELECT done.*, event.id AS outbox_id, event.key AS event_key, event.payload AS event_payload
FROM done, event
"""
