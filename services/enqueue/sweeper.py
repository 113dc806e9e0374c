"""Hands unfinished renders to Kafka again when their job may be gone: a broker that lost its log,
or a worker that died holding the job past its lease. Runs at start, then every interval.
Re-publishing is always safe: a worker that finds the render claimed or terminal skips it. A render
whose job is still in the outbox (Kafka away) is left to the relay, not written there again.

The event sweep does the same for completion events: a render that completed more than `after`
seconds ago (and within the last `window` seconds) whose event the webhooks service has not
recorded gets its event published again, through the outbox like the first one. Recording is
idempotent (one delivery per endpoint, render and event), so a copy does nothing more. Each
render's event is re-published at most once per `after` seconds; the wait doubles after each
sweep, up to 32 x `after`, so a webhooks service that is down for long does not see its topic
flooded meanwhile (it reads the events still in Kafka when it is back).
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from craftkit import messages
from craftkit.outbox import Outbox

log = logging.getLogger(__name__)

REPUBLISHED = Counter("craftkit_sweeper_republished_total", "Messages the sweeper published "
                      "again: render jobs whose job may be gone (job), completion events not "
                      "recorded in time (event).", ["kind"])
for _kind in ("job", "event"):
    REPUBLISHED.labels(_kind)

SWEEP = f"""
WITH stale AS (
    SELECT id FROM renders
    WHERE status IN ('queued', 'rendering')
      AND published_at < clock_timestamp() - %(after)s * interval '1 second'
      AND (status = 'queued' OR started_at < clock_timestamp() - %(lease)s * interval '1 second')
      -- A job still in the outbox is not lost, only not sent yet (Kafka away): the relay sends
      -- it. Another copy per sweep would swell the outbox and its backlog metric for nothing.
      AND NOT EXISTS (SELECT 1 FROM outbox o
                      WHERE o.topic = %(topic)s AND o.key = convert_to(renders.id::text, 'UTF8'))
    ORDER BY published_at LIMIT 500
    FOR UPDATE SKIP LOCKED
), touched AS (
    UPDATE renders r SET published_at = clock_timestamp() FROM stale
    WHERE r.id = stale.id RETURNING r.id, r.project_id
)
{messages.outbox_insert("topic", messages.JOB_PAYLOAD, "touched")}
"""


EVENT_SWEEP = f"""
WITH candidates AS (
    SELECT r.id FROM renders r
    WHERE r.completed_at > clock_timestamp() - %(window)s * interval '1 second'
      AND r.completed_at < clock_timestamp() - %(after)s * interval '1 second'
      AND r.status IN ('succeeded', 'failed', 'cancelled')
      AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.render_id = r.id)
      AND NOT EXISTS (SELECT 1 FROM event_sweeps s
                      WHERE s.render_id = r.id AND s.next_sweep_at > clock_timestamp())
    ORDER BY r.completed_at LIMIT %(limit)s
), swept AS (
    -- The upsert's WHERE makes "at most once per bound" hold with several sweepers at once.
    INSERT INTO event_sweeps AS s (render_id, sweeps, last_swept_at, next_sweep_at)
    SELECT id, 1, clock_timestamp(), clock_timestamp() + %(after)s * interval '1 second'
    FROM candidates
    ON CONFLICT (render_id) DO UPDATE SET
        sweeps = s.sweeps + 1, last_swept_at = clock_timestamp(),
        next_sweep_at = clock_timestamp()
            + %(after)s * least(power(2, s.sweeps), 32) * interval '1 second'
    WHERE s.next_sweep_at <= clock_timestamp()
    RETURNING render_id
), forgotten AS (
    -- Bookkeeping for renders that left the window: the sweep never looks at them again.
    DELETE FROM event_sweeps WHERE last_swept_at < clock_timestamp() - 2 * %(window)s * interval '1 second'
), due AS (
    SELECT r.* FROM renders r JOIN swept ON swept.render_id = r.id
)
{messages.outbox_insert("topic", messages.EVENT_PAYLOAD, "due")}
"""


async def _republish(pool: AsyncConnectionPool, outbox: Outbox, statement: str, topic: str,
                     params: dict) -> int:
    """Runs a sweep statement (it writes outbox rows) and hands its rows to the outbox now."""
    async with pool.connection() as conn:
        cur = await conn.execute(statement, {"topic": topic, "trace": messages.trace_context(),
                                             **params})
        rows = await cur.fetchall()
    for row in rows:
        outbox.publish(row["id"], topic, row["key"], row["payload"], row["trace_context"])
    return len(rows)


async def sweep(pool: AsyncConnectionPool, outbox: Outbox, *, topic: str, after: float,
                lease: float) -> int:
    """Re-publishes the jobs of unfinished renders whose job may be gone; returns how many."""
    count = await _republish(pool, outbox, SWEEP, topic, {"after": after, "lease": lease})
    REPUBLISHED.labels("job").inc(count)
    return count


async def sweep_events(pool: AsyncConnectionPool, outbox: Outbox, *, topic: str, after: float,
                       window: float, limit: int = 500) -> int:
    """Re-publishes the completion events not recorded in time; returns how many."""
    count = await _republish(pool, outbox, EVENT_SWEEP, topic,
                             {"after": after, "window": window, "limit": limit})
    REPUBLISHED.labels("event").inc(count)
    return count


async def every(interval: float, sweep_once, what: str) -> None:
    """Runs `sweep_once()` every `interval` seconds, forever, saying when it re-published `what`.
    A failure (the database away) waits for the next round."""
    while True:
        try:
            count = await sweep_once()
            if count:
                log.warning("re-published %d %s", count, what)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database may be down; try next time
            log.warning("sweep of %s failed: %s", what, exc)
        await asyncio.sleep(interval)
