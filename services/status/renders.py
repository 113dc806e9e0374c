"""StatusService: reads renders, waits for them, and records the worker's transitions."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import psycopg
from psycopg_pool import AsyncConnectionPool

from craftkit import cursor, db, errors, messages
from craftkit.downloads import DownloadUrls
from craftkit.layout import image_assets
from craftkit.outbox import Outbox
from craftkit.renders import COLUMNS, STATUS_NAME, TEMPLATE_SLUG, TERMINAL, download_url, to_proto
from craftkit.timefmt import ms
from craftkit.v1 import render_pb2, status_pb2, status_pb2_grpc
from services.status import metrics
from services.status.templates import known_template, not_found

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
                 lease_seconds: int, events_topic: str, max_attempts: int = 3,
                 public_base_url: str = "", urls: DownloadUrls) -> None:
        self.pool = pool
        self.public_base_url = public_base_url
        self.urls = urls
        self.outbox = outbox
        self.waiters = waiters
        self.lease_seconds = lease_seconds
        self.events_topic = events_topic
        self.max_attempts = max_attempts

    async def CancelRender(self, request, context):
        """One conditional UPDATE (status = 'queued') with its event: PostgreSQL serialises it
        with StartRender's claim on the row, and the one that comes second finds the status
        changed and changes nothing."""
        rid = parse_id(request.render_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(CANCEL, {"id": rid, "project": request.project_id,
                                              "topic": self.events_topic,
                                              "trace": messages.trace_context()})
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute("SELECT status::text AS status FROM renders "
                                         "WHERE id = %s AND project_id = %s",
                                         (rid, request.project_id))
                current = await cur.fetchone()
                if current is None:
                    raise errors.NotFound(f"no render with id {request.render_id!r} in this project")
                raise errors.NotCancellable(
                    f"render {request.render_id} is {current['status']}; only a queued render "
                    "can be cancelled")
        self.outbox.publish(row["outbox_id"], self.events_topic, row["event_key"],
                            row["event_payload"], row["event_trace_context"])
        self.waiters.finished(str(rid), row)
        metrics.entered(row)
        log.info("render %s cancelled", request.render_id)
        return self._shown(row)

    async def ListRenders(self, request, context):
        limit = cursor.page_size(request.limit, 20, 100)
        params = {"project": request.project_id, "limit": limit + 1, **list_filters(request)}
        async with self.pool.connection() as conn:
            if request.template_slug:
                params["template"] = await self._template_id(conn, request.project_id,
                                                             request.template_slug)
            cur = await conn.execute(list_query(params), params)
            rows = await cur.fetchall()
        page, more = rows[:limit], len(rows) > limit
        next_cursor = cursor.encode(ms(page[-1]["created_at"]), page[-1]["id"]) if more else ""
        return status_pb2.ListRendersResponse(renders=[self._shown(r) for r in page],
                                              next_cursor=next_cursor)

    async def _template_id(self, conn, project_id: str, slug: str) -> uuid.UUID:
        if known_template(project_id, slug):
            cur = await conn.execute("SELECT id FROM templates WHERE project_id = %s AND slug = %s",
                                     (project_id, slug))
            row = await cur.fetchone()
            if row is not None:
                return row["id"]
        raise not_found(slug)

    async def _fetch(self, project_id: str, render_id: str, transitions: bool = False):
        rid = parse_id(render_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS}, {TEMPLATE_SLUG} FROM renders WHERE id = %s AND project_id = %s",
                (rid, project_id))
            row = await cur.fetchone()
            if row is None:
                raise errors.NotFound(f"no render with id {render_id!r} in this project")
            history = []
            if transitions:
                cur = await conn.execute("SELECT status::text AS status, attempt, at FROM "
                                         "render_transitions WHERE render_id = %s ORDER BY id", (rid,))
                history = await cur.fetchall()
        return row, history

    def _shown(self, row: dict, history: list[dict] = ()):
        """The render as callers see it: downloadUrl as DOWNLOAD_URL_MODE makes it, at this read
        (a presigned one is fresh each time)."""
        render = to_proto(row, history)
        pdf = "" if render.expired_at_ms else render.object_key  # retention deleted it
        render.download_url, render.download_url_expires_at_ms = self.urls.of(
            pdf, render.download_url)
        return render

    async def GetRender(self, request, context):
        row, history = await self._fetch(request.project_id, request.render_id,
                                         request.include_transitions)
        return self._shown(row, history)

    async def WaitRender(self, request, context):
        deadline = asyncio.get_running_loop().time() + max(request.timeout_ms, 0) / 1000
        # Wake-ups name the render in canonical form; a caller may spell it in capitals.
        render_id = str(parse_id(request.render_id))
        future = self.waiters.register(render_id)
        try:
            while True:
                row, _ = await self._fetch(request.project_id, request.render_id)
                remaining = deadline - asyncio.get_running_loop().time()
                if row["status"] in TERMINAL or remaining <= 0:
                    return self._shown(row)
                # While the listener is down, fall back to re-reading every 200 ms.
                step = remaining if self.waiters.listening.is_set() else min(remaining, 0.2)
                try:
                    finished = await asyncio.wait_for(asyncio.shield(future), step)
                except asyncio.TimeoutError:
                    continue
                if finished is not None:  # recorded here: the row came with the wake-up
                    return self._shown(finished)
        finally:
            self.waiters.unregister(render_id, future)

    async def StartRender(self, request, context):
        rid = parse_id(request.render_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"""UPDATE renders r SET status = 'rendering', attempt = r.attempt + 1,
                           started_at = clock_timestamp()
                    FROM template_versions v, templates t
                    WHERE r.id = %(id)s AND r.project_id = %(project)s
                      AND v.template_id = r.template_id
                      AND v.number = r.version_number AND t.id = r.template_id
                      AND (r.status = 'queued' OR (r.status = 'rendering'
                           AND r.started_at < clock_timestamp() - %(lease)s * interval '1 second'
                           AND r.attempt < %(max)s))
                    RETURNING {', '.join('r.' + c.strip() for c in COLUMNS.split(','))},
                              r.attempt, r.data::text AS data, v.layout::text AS layout,
                              t.name AS template_name, t.slug AS template_slug""",
                {"id": rid, "project": request.project_id, "lease": self.lease_seconds,
                 "max": self.max_attempts})
            row = await cur.fetchone()
            if row is None:
                await self._refuse_start(conn, request.project_id, request.render_id, rid)
            metrics.entered(row)
            assets = []
            # Cheap test first: most layouts show no images and upload no fonts.
            if '"image"' in row["layout"] or '"fonts"' in row["layout"]:
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
                                              assets=assets, lease_ms=self.lease_seconds * 1000)

    async def _refuse_start(self, conn, project_id: str, render_id: str, rid: uuid.UUID) -> None:
        """Raises why a render cannot be started; records it failed first when its lease ran out
        at the last allowed attempt (so a job that kills its worker is not handed out forever)."""
        cur = await conn.execute(
            "SELECT status::text AS status, attempt, last_error, started_at < clock_timestamp() "
            "- %s * interval '1 second' AS expired FROM renders WHERE id = %s AND project_id = %s",
            (self.lease_seconds, rid, project_id))
        current = await cur.fetchone()
        if current is None:
            raise errors.NotFound(f"no render with id {render_id!r} in this project")
        if current["status"] in TERMINAL:
            raise errors.Conflict(f"render {render_id} is already {current['status']}")
        if current["status"] == "rendering" and current["expired"]:
            reason = current["last_error"] or (
                "each attempt stopped without an outcome (its worker died or lost contact for "
                "longer than the lease)")
            row = await self._finish(conn, GIVE_UP, rid, project_id, current["attempt"],
                                     succeeded=False, error=gave_up(current["attempt"], reason))
            if row is not None:
                log.warning("render %s failed: %s", render_id, row["error_message"])
                raise errors.Conflict(f"render {render_id} is already failed")
        raise errors.Busy(f"render {render_id} is being rendered by another worker")

    async def RenewLease(self, request, context):
        rid = parse_id(request.render_id)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE renders SET started_at = clock_timestamp() WHERE id = %s "
                "AND project_id = %s AND status = 'rendering' AND attempt = %s RETURNING id",
                (rid, request.project_id, request.attempt))
            if await cur.fetchone() is None:
                await self._superseded(conn, request, rid)
        return status_pb2.RenewLeaseResponse(lease_ms=self.lease_seconds * 1000)

    async def ReleaseRender(self, request, context):
        rid = parse_id(request.render_id)
        reason = storable(request.reason) or "the attempt stopped without an outcome"
        async with self.pool.connection() as conn:
            if request.attempt >= self.max_attempts:
                row = await self._finish(conn, FINISH, rid, request.project_id, request.attempt,
                                         succeeded=False, error=gave_up(request.attempt, reason))
            else:
                # The lease ends now and the job looks long published: the enqueue sweeper hands
                # it out again at its next sweep, and the next claim is the next attempt.
                cur = await conn.execute(
                    f"""UPDATE renders SET started_at = '-infinity', published_at = '-infinity',
                               last_error = %s
                        WHERE id = %s AND project_id = %s AND status = 'rendering' AND attempt = %s
                        RETURNING {COLUMNS}""",
                    (reason, rid, request.project_id, request.attempt))
                row = await cur.fetchone()
            if row is None:
                await self._superseded(conn, request, rid)
        log.warning("render %s attempt %d released: %s", request.render_id, request.attempt, reason)
        return to_proto(row)

    async def _superseded(self, conn, request, rid: uuid.UUID) -> None:
        """Raises why `request` (RenewLease, ReleaseRender, FinishRender) changed nothing."""
        cur = await conn.execute("SELECT status::text AS status, attempt FROM renders "
                                 "WHERE id = %s AND project_id = %s", (rid, request.project_id))
        current = await cur.fetchone()
        if current is None:
            raise errors.NotFound(f"no render with id {request.render_id!r} in this project")
        raise errors.Conflict(f"render {request.render_id} is {current['status']} at attempt "
                              f"{current['attempt']}; attempt {request.attempt} is no longer "
                              "current")

    async def FinishRender(self, request, context):
        rid = parse_id(request.render_id)
        for name in ("object_key", "download_url"):
            if "\x00" in getattr(request, name):
                raise errors.InvalidRequest(f"{name} contains NUL, which no object key or URL "
                                            "holds", field_errors={name: ["Contains NUL"]})
        if request.succeeded:
            self._check_location(rid, request.object_key, request.download_url)
        error_message = None if request.succeeded else (
            storable(request.error_message) or "render failed")
        async with self.pool.connection() as conn:
            row = await self._finish(conn, FINISH, rid, request.project_id, request.attempt,
                                     request.succeeded, error=error_message,
                                     key=request.object_key,
                                     url=self.urls.stored(request.download_url))
            if row is None:
                await self._superseded(conn, request, rid)
        return to_proto(row)

    def _check_location(self, rid: uuid.UUID, key: str, url: str) -> None:
        """A succeeded render's PDF is in its own folder under the public prefix, and its
        download URL is the one S3_PUBLIC_BASE_URL gives that key: a caller holding the worker's
        token cannot point a tenant's webhook at a file of its choosing."""
        folder = f"renders/{rid}/"
        if not key.startswith(folder) or "/" in key[len(folder):] or key == folder:
            raise errors.InvalidRequest(f"object_key must be {folder}<filename>",
                                        field_errors={"object_key": [f"Not under {folder}"]})
        expected = download_url(self.public_base_url, key)
        if url != expected:
            raise errors.InvalidRequest(
                f"download_url must be {expected!r}, the public address of object_key",
                field_errors={"download_url": ["Not the public address of object_key"]})

    async def _finish(self, conn, statement: str, rid: uuid.UUID, project_id: str, attempt: int,
                      succeeded: bool, *, error: str | None, key: str = "",
                      url: str | None = None) -> dict | None:
        """Runs FINISH (or GIVE_UP) and announces the event; None when the attempt is not current."""
        cur = await conn.execute(statement, {
            "status": "succeeded" if succeeded else "failed", "key": key or None,
            "url": url, "error": error, "id": rid, "project": project_id,
            "attempt": attempt,
            "topic": self.events_topic, "lease": self.lease_seconds,
            "trace": messages.trace_context()})
        row = await cur.fetchone()
        if row is not None:
            self.outbox.publish(row["outbox_id"], self.events_topic, row["event_key"],
                                row["event_payload"], row["event_trace_context"])
            self.waiters.finished(str(rid), row)
            metrics.entered(row)
        return row


MAX_ERROR_CHARS = 2000


def storable(text: str) -> str:
    """A worker's free-text reason as a render keeps it: NUL (which PostgreSQL's text refuses;
    a renderer's exception may quote one) shown as U+FFFD, cut to MAX_ERROR_CHARS. The render
    still gets its outcome (an UNKNOWN error left it rendering until its lease ran out)."""
    return errors.cut(text.replace("\x00", "\ufffd"), MAX_ERROR_CHARS)


def gave_up(attempts: int, reason: str) -> str:
    return f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}: {reason}"


# The terminal transition and its completion event in one statement, so one never exists without
# the other. `condition` narrows which rows may finish.
def _finish_statement(condition: str = "") -> str:
    return f"""
WITH now AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS t),
done AS (
    UPDATE renders SET status = %(status)s, object_key = %(key)s, download_url = %(url)s,
           error_message = %(error)s, completed_at = now.t,
           duration_ms = round(extract(epoch FROM now.t - created_at) * 1000)
    FROM now
    WHERE id = %(id)s AND project_id = %(project)s AND status = 'rendering'
      AND attempt = %(attempt)s {condition}
    RETURNING {COLUMNS}
), event AS (
    {messages.outbox_insert("topic", messages.EVENT_PAYLOAD, "done")}
)
SELECT done.*, event.id AS outbox_id, event.key AS event_key, event.payload AS event_payload,
       event.trace_context AS event_trace_context
FROM done, event
"""


FINISH = _finish_statement()

# Failing a render whose last allowed attempt's lease ran out (no worker renewed it meanwhile).
GIVE_UP = _finish_statement("AND started_at < clock_timestamp() - %(lease)s * interval '1 second'")

# ListRenders: each filter present in the parameters adds its condition. Every combination has
# an index of (project_id, [template_id,] [status,] created_at, id) (migration 0008), read
# backwards from the cursor: `limit` rows, no sort, whatever the project's size.
LIST_FILTERS = {
    "status": "status = %(status)s",
    "template": "template_id = %(template)s",
    "after": "created_at > %(after)s",
    "before": "created_at < %(before)s",
    "at": "(created_at, id) < (%(at)s, %(last)s)",
}


def list_filters(request: status_pb2.ListRendersRequest) -> dict:
    """The query parameters of the request's filters (the names of LIST_FILTERS), checked; the
    template's id is looked up separately."""
    params: dict = {}
    if request.status != render_pb2.RENDER_STATUS_UNSPECIFIED:
        if request.status not in STATUS_NAME:
            raise errors.InvalidRequest(f"status {request.status} is not a render status",
                                        field_errors={"status": ["Unknown status"]})
        params["status"] = STATUS_NAME[request.status]
    if request.created_after_ms:
        params["after"] = cursor.moment(request.created_after_ms, "created_after_ms")
    if request.created_before_ms:
        params["before"] = cursor.moment(request.created_before_ms, "created_before_ms")
    if request.cursor:
        params["at"], params["last"] = cursor.decode(request.cursor, cursor.millis,
                                                     cursor.uuid_part)
    return params


def list_query(params: dict) -> str:
    """The ListRenders query for `params` (project and limit, plus any of LIST_FILTERS)."""
    conditions = ["project_id = %(project)s"]
    conditions += [sql for name, sql in LIST_FILTERS.items() if name in params]
    return (f"SELECT {COLUMNS}, {TEMPLATE_SLUG} FROM renders WHERE {' AND '.join(conditions)} "
            "ORDER BY created_at DESC, id DESC LIMIT %(limit)s")


# queued -> cancelled and its render.cancelled event in one statement, as FINISH does.
CANCEL = f"""
WITH now AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS t),
done AS (
    UPDATE renders SET status = 'cancelled', completed_at = now.t,
           duration_ms = round(extract(epoch FROM now.t - created_at) * 1000)
    FROM now
    WHERE id = %(id)s AND project_id = %(project)s AND status = 'queued'
    RETURNING {COLUMNS}, {TEMPLATE_SLUG}
), event AS (
    {messages.outbox_insert("topic", messages.EVENT_PAYLOAD, "done")}
)
SELECT done.*, event.id AS outbox_id, event.key AS event_key, event.payload AS event_payload,
       event.trace_context AS event_trace_context
FROM done, event
"""
