"""Retention (RENDER_RETENTION_DAYS): renders that completed longer ago lose their PDF and their
request data; the row stays readable forever (the seeds promise it), with expired_at set and
downloadUrl null.

Each pass takes a bounded batch of the oldest terminal renders not expired yet, FOR UPDATE SKIP
LOCKED (so any number of status replicas run it at once, each on other rows), deletes their PDFs
from S3 (an object already gone is fine), and only then marks them expired and deletes their
dedupe rows (a hash of the data), in the same transaction: a crash or an S3 failure in between leaves the rows as they were, to be taken again.
The database guard allows exactly this change on a terminal row (migration 0008).
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from craftkit.retry import RetryPolicy, drain_forever
from services.render_worker.storage import PdfStore

log = logging.getLogger(__name__)

DUE = """
SELECT id, object_key FROM renders
WHERE expired_at IS NULL AND completed_at IS NOT NULL
  AND completed_at < clock_timestamp() - %(seconds)s * interval '1 second'
ORDER BY completed_at LIMIT %(batch)s
FOR UPDATE SKIP LOCKED
"""

EXPIRE = """
UPDATE renders SET expired_at = date_trunc('milliseconds', clock_timestamp()), data = '{}',
       download_url = NULL
WHERE id = ANY(%s)
"""

# The dedupe row holds a hash of the data (with template, version and filename): it goes too.
FORGET = "DELETE FROM render_dedupe WHERE render_id = ANY(%s)"


class Retention:
    def __init__(self, pool: AsyncConnectionPool, store: PdfStore, days: float,
                 batch: int = 100) -> None:
        self.pool = pool
        self.store = store
        self.seconds = days * 86400
        self.batch = batch
        # Look a few times per retention period, at least every minute.
        self.interval = min(60.0, max(0.2, self.seconds / 4))

    async def run(self) -> None:
        """Forever: batches back to back while there are full ones, then a pause."""
        async def full_batch() -> bool:
            return await self.expire() == self.batch
        await drain_forever(full_batch, self.interval,
                            RetryPolicy(initial=self.interval, maximum=60.0), "retention")

    async def expire(self) -> int:
        """One batch; returns how many renders expired."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(DUE, {"seconds": self.seconds, "batch": self.batch})
            rows = await cur.fetchall()
            if not rows:
                return 0
            keys = [r["object_key"] for r in rows if r["object_key"]]
            if keys:
                await asyncio.to_thread(self.store.remove, keys)
            ids = [r["id"] for r in rows]
            await conn.execute(EXPIRE, (ids,))
            await conn.execute(FORGET, (ids,))
        log.info("retention: %d render(s) expired (%d PDF(s) deleted)", len(rows), len(keys))
        return len(rows)
