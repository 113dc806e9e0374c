"""The delivery schedule, kept in PostgreSQL.

`record` turns completion events into one delivery per subscribed endpoint (unique per endpoint,
render and event: a redelivered event adds nothing). `Deliverer.run` claims due deliveries
(FOR UPDATE SKIP LOCKED, pushing their next attempt one lease ahead, so a crash mid-attempt means
a retry after the lease, never a lost delivery; receivers dedupe on x-craftkit-delivery-id should
the crash come after they answered), sends each, and records the attempt:

    2xx                       delivered
    anything else: a status,  retried after base x 2^(attempt-1) seconds (capped, +-20 % jitter)
    a timeout, a connection   until give_up_at (26 h after the event by default), then failed
    error, a refused target,
    any exception at all

Each attempt checks its target and connects to the address it checked (`targets.post`).

Sends run concurrently, at most `per_endpoint` at once per endpoint (a claimed batch skips
endpoints that are full), so a slow or dead receiver never holds up another's deliveries. Outcomes
are written in batches (`OUTCOMES`), a few milliseconds' worth at a time. An
endpoint failing without a success for `breaker_after` is paused for `breaker_pause` (the circuit
breaker), then tried again: one success closes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter

import httpx
from opentelemetry.trace import SpanKind, StatusCode
from psycopg_pool import AsyncConnectionPool

from craftkit import db, logs, tracing
from craftkit.downloads import DownloadUrls
from craftkit.retry import RetryPolicy
from services.webhooks import metrics, signing, targets
from services.webhooks.settings import Settings
from services.webhooks.targets import TargetRefused

log = logging.getLogger(__name__)


RECORD = """
WITH events AS (
    SELECT (e->>'renderId')::uuid AS render_id, (e->>'projectId')::uuid AS project_id,
           e->>'event' AS event, e AS body
    FROM jsonb_array_elements(%(events)s::jsonb) AS e
), logged AS (
    INSERT INTO webhook_events (render_id, event, payload)
    SELECT render_id, event, body FROM events
    ON CONFLICT (render_id) DO NOTHING
)
INSERT INTO webhook_deliveries (id, endpoint_id, render_id, event, payload, give_up_at,
                                trace_context)
SELECT gen_random_uuid(), w.id, e.render_id, e.event, convert_to(%(bodies)s::jsonb->>(e.render_id::text), 'UTF8'),
       clock_timestamp() + %(give_up)s * interval '1 second',
       %(traces)s::jsonb -> (e.render_id::text)
FROM events e JOIN webhook_endpoints w
  ON w.project_id = e.project_id AND e.event = ANY(w.events) AND w.deleted_at IS NULL
ON CONFLICT (endpoint_id, render_id, event) DO NOTHING
RETURNING id
"""

CLAIM = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
      AND w.enabled AND w.deleted_at IS NULL
      AND (w.paused_until IS NULL OR w.paused_until <= clock_timestamp())
      AND NOT (d.endpoint_id = ANY(%(full)s))
    ORDER BY d.next_attempt_at LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_attempt_at = clock_timestamp() + %(lease)s * interval '1 second'
FROM due, webhook_endpoints w
WHERE d.id = due.id AND w.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, d.render_id, w.project_id, d.event, d.payload, d.attempts,
          d.give_up_at, d.trace_context, w.url, w.secret,
          CASE WHEN w.previous_until > clock_timestamp() THEN w.previous_secret END AS previous,
          (SELECT r.object_key FROM renders r WHERE r.id = d.render_id
           AND r.expired_at IS NULL) AS object_key
"""

# Outcomes are written in batches: one statement records every attempt of the batch, moves each
# delivery on (delivered, retry later, or failed past give_up_at) and updates each endpoint's
# circuit breaker (a success in the batch closes it).
OUTCOMES = """
WITH o AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(numbers)s::int[], %(codes)s::int[], %(errors)s::text[],
                         %(ms)s::int[], %(endpoints)s::uuid[], %(delays)s::float8[])
        AS o(id, number, code, error, ms, endpoint, delay)
), attempts AS (
    INSERT INTO webhook_attempts (delivery_id, number, status_code, error, duration_ms)
    SELECT id, number, code, error, ms FROM o
), endpoints AS (
    UPDATE webhook_endpoints w SET
        failing_since = CASE WHEN e.succeeded THEN NULL
                             ELSE coalesce(w.failing_since, clock_timestamp()) END,
        paused_until = CASE
            WHEN e.succeeded THEN NULL
            WHEN coalesce(w.failing_since, clock_timestamp())
                 < clock_timestamp() - %(breaker_after)s * interval '1 second'
            THEN clock_timestamp() + %(pause)s * interval '1 second'
            ELSE w.paused_until END
    FROM (SELECT endpoint, bool_or(error IS NULL) AS succeeded FROM o GROUP BY endpoint) e
    WHERE w.id = e.endpoint
)
UPDATE webhook_deliveries d SET
    attempts = o.number,
    status = CASE WHEN o.error IS NULL THEN 'delivered'
                  WHEN clock_timestamp() + o.delay * interval '1 second' > d.give_up_at THEN 'failed'
                  ELSE 'pending' END,
    next_attempt_at = CASE WHEN o.error IS NULL THEN d.next_attempt_at
                           ELSE clock_timestamp() + o.delay * interval '1 second' END
FROM o WHERE d.id = o.id
"""


async def record(pool: AsyncConnectionPool, events: list[dict], give_up: float,
                 traces: dict[str, dict] | None = None) -> int:
    """One delivery per subscribed endpoint for each event; returns how many are new. `traces`:
    each event's trace context by render id, kept with its deliveries (every attempt joins it)."""
    bodies = {e["renderId"]: signing.payload(e).decode() for e in events}
    async with pool.connection() as conn:
        cur = await conn.execute(RECORD, {"events": json.dumps(events), "bodies": json.dumps(bodies),
                                          "give_up": give_up, "traces": json.dumps(traces or {})})
        return len(await cur.fetchall())


def describe(exc: BaseException) -> str:
    """A short error for the delivery log: the exception's type and the start of its message."""
    text = str(exc)
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before the attempt after `attempt` failed ones: doubling, capped, +-20 % jitter."""
    return RetryPolicy(initial=base, maximum=cap).delay(attempt)


class Deliverer:
    def __init__(self, pool: AsyncConnectionPool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.urls = DownloadUrls(settings.downloads, settings.storage)
        self.client = targets.pinned_client(timeout=settings.timeout_seconds,
                                            connections=settings.concurrency)
        self.in_flight: Counter = Counter()
        self.tasks: set[asyncio.Task] = set()
        self.outcomes: list[tuple] = []
        self.due = asyncio.Event()
        self.delivered = 0

    def wake(self) -> None:
        self.due.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                claimed = await self.claim()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again
                failures += 1
                log.warning("claiming deliveries failed: %s", exc)
                claimed = 0
                await asyncio.sleep(db.RETRY.delay(failures))
            if not claimed:
                self.due.clear()
                try:
                    await asyncio.wait_for(self.due.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass

    async def claim(self) -> int:
        room = self.settings.concurrency - sum(self.in_flight.values())
        if room <= 0:
            await asyncio.sleep(0.01)
            return 0
        full = [e for e, n in self.in_flight.items() if n >= self.settings.per_endpoint]
        async with self.pool.connection() as conn:
            # The lease outlasts any attempt (connect, write and read each have the timeout).
            lease = 3 * self.settings.timeout_seconds + 10
            cur = await conn.execute(CLAIM, {"full": full, "limit": room, "lease": lease})
            rows = await cur.fetchall()
        skipped = []
        for row in rows:
            if self.in_flight[row["endpoint_id"]] >= self.settings.per_endpoint:
                skipped.append(row["id"])  # more of this endpoint than its room: due again now
                continue
            self.in_flight[row["endpoint_id"]] += 1
            with logs.bound(render_id=str(row["render_id"]), project_id=str(row["project_id"]),
                            endpoint_id=str(row["endpoint_id"]), delivery_id=str(row["id"])):
                self._spawn(self.deliver(row))  # the attempt's task keeps these ids
        if skipped:
            async with self.pool.connection() as conn:
                await conn.execute("UPDATE webhook_deliveries SET next_attempt_at = "
                                   "clock_timestamp() WHERE id = ANY(%s)", (skipped,))
        return len(rows) - len(skipped)

    async def deliver(self, row: dict) -> None:
        """One attempt, as a span in the trace of the render the event announces: the delivery
        row keeps the event's context, so a retry a day later joins that trace too. No URL in
        the span (its query may hold the receiver's token), nor anything signed."""
        with tracing.tracer.start_as_current_span(
                "webhook.deliver", context=tracing.from_fields(row["trace_context"]),
                kind=SpanKind.CLIENT) as span:
            if span.is_recording():
                span.set_attributes({"craftkit.webhook.endpoint_id": str(row["endpoint_id"]),
                                     "craftkit.webhook.delivery_id": str(row["id"]),
                                     "craftkit.webhook.event": row["event"],
                                     "craftkit.webhook.attempt": row["attempts"] + 1})
            if not await self._deliver(row) and span.is_recording():
                span.set_status(StatusCode.ERROR)

    async def _deliver(self, row: dict) -> bool:
        """One attempt; whether it delivered. Whatever happens in it (a refused target, a
        timeout, an invalid URL saved before URLs were checked, a bug) is a failed attempt,
        recorded and retried on the schedule, and the endpoint's slot is always given back."""
        number = row["attempts"] + 1
        started = time.monotonic()
        code, error = None, None
        try:
            code = await self.send(row)
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except TargetRefused as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = f"no answer within {self.settings.timeout_seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - see the docstring
            if not isinstance(exc, httpx.HTTPError):
                log.exception("delivery %s to endpoint %s failed unexpectedly", row["id"],
                              row["endpoint_id"])
            error = describe(exc)
        finally:
            seconds = time.monotonic() - started
            elapsed = int(seconds * 1000)
            if error is None and code is None:
                error = "the attempt was cancelled"  # shutting down: retried after the lease
            log.info("%s attempt %d: %s in %d ms", row["event"], number, error or f"HTTP {code}",
                     elapsed)
            delay = 0.0 if error is None else backoff(number, self.settings.retry_base_seconds,
                                                      self.settings.retry_cap_seconds)
            self.outcomes.append((row["id"], number, code, error, elapsed, row["endpoint_id"],
                                  delay))
            if len(self.outcomes) == 1:
                self._spawn(self.flush())
            self.in_flight[row["endpoint_id"]] -= 1  # the row stays leased until its outcome is in
            if self.in_flight[row["endpoint_id"]] <= 0:
                del self.in_flight[row["endpoint_id"]]
            self.wake()
            metrics.attempted(code, error is None, row["give_up_at"], delay, seconds)
        return error is None

    def body(self, row: dict) -> bytes:
        """The payload as this attempt sends it: downloadUrl as DOWNLOAD_URL_MODE makes it now
        (a presigned URL signed for this attempt, so a retry a day later still carries a working
        one); in public mode, as recorded."""
        if self.urls.mode == "public" or not row["object_key"]:
            return bytes(row["payload"])
        event = json.loads(row["payload"])
        event["downloadUrl"] = self.urls.of(row["object_key"], "")[0] or None
        return signing.payload(event)

    async def send(self, row: dict) -> int:
        body = self.body(row)
        sent = signing.headers(
            event=row["event"], delivery_id=str(row["id"]), timestamp=int(time.time()),
            body=body, secret=row["secret"], previous_secret=row["previous"])
        response = await targets.post(self.client, row["url"], content=body,
                                      headers=sent, allow_private=self.settings.allow_private_targets)
        tracing.annotate("http.response.status_code", response.status_code)
        return response.status_code

    async def flush(self) -> None:
        """Writes the outcomes gathered in the last few milliseconds in one statement. If that
        fails, the deliveries' leases run out and they are attempted again: nothing is lost."""
        await asyncio.sleep(0.003)
        batch, self.outcomes = self.outcomes, []
        columns = list(zip(*batch, strict=True))
        try:
            async with self.pool.connection() as conn:
                await conn.execute(OUTCOMES, {
                    "ids": list(columns[0]), "numbers": list(columns[1]), "codes": list(columns[2]),
                    "errors": list(columns[3]), "ms": list(columns[4]),
                    "endpoints": list(columns[5]), "delays": list(columns[6]),
                    "breaker_after": self.settings.breaker_after_seconds,
                    "pause": self.settings.breaker_pause_seconds})
            self.delivered += sum(1 for outcome in batch if outcome[3] is None)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("recording %d attempt(s) failed: %s", len(batch), exc)
        self.wake()

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.settings.timeout_seconds + 1)
        if self.outcomes:
            await self.flush()
        await self.client.aclose()

