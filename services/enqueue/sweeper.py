"""Hands unfinished renders to Kafka again when their job may be gone: a broker that lost its log,
or a worker that died holding the job past its lease. Runs at start, then every interval.
Re-publishing is always safe: a worker that finds the render claimed or terminal skips it."""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from craftkit import messages
from craftkit.outbox import Outbox

log = logging.getLogger(__name__)

SWEEP = f"""
WITH stale AS (
    SELECT id FROM renders
    WHERE status IN ('queued', 'rendering')
      AND published_at < clock_timestamp() - %(after)s * interval '1 second'
      AND (status = 'queued' OR started_at < clock_timestamp() - %(lease)s * interval '1 second')
    ORDER BY published_at LIMIT 500
    FOR UPDATE SKIP LOCKED
), touched AS (
    UPDATE renders r SET published_at = clock_timestamp() FROM stale
    WHERE r.id = stale.id RETURNING r.id, r.project_id
)
{messages.outbox_insert("topic", messages.JOB_PAYLOAD, "touched")}
"""


async def sweep(pool: AsyncConnectionPool, outbox: Outbox, *, topic: str, after: float,
                lease: float) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(SWEEP, {"topic": topic, "after": after, "lease": lease})
        rows = await cur.fetchall()
    for row in rows:
        outbox.publish(row["id"], topic, row["key"], row["payload"])
    return len(rows)


async def run(pool: AsyncConnectionPool, outbox: Outbox, *, topic: str, after: float,
              lease: float, interval: float) -> None:
    while True:
        try:
            count = await sweep(pool, outbox, topic=topic, after=after, lease=lease)
            if count:
                log.warning("re-published %d unfinished render job(s)", count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database may be down; try next time
            log.warning("sweep failed: %s", exc)
        await asyncio.sleep(interval)
