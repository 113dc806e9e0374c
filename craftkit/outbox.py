"""The relay from the PostgreSQL outbox to Kafka.

Rows are written in the same transaction as the change they announce (a new render, a terminal
transition), so nothing is announced that did not happen and nothing that happened goes
unannounced. Each relay serves some topics (the enqueue service relays jobs, the status service
completion events) and wakes on their NOTIFY channels. It takes a batch with FOR UPDATE SKIP LOCKED (any number of relays may run),
sends it, waits for every ack, and only then deletes the rows in the same transaction. A crash
anywhere before the commit leaves the rows in place for the next pass: delivery is at least once,
and consumers dedupe by render id.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from psycopg import sql
from aiokafka import AIOKafkaProducer
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, pool: AsyncConnectionPool, producer: AIOKafkaProducer, database_url: str,
                 topics: list[str], *, batch: int = 500, idle_poll: float = 1.0) -> None:
        self.pool = pool
        self.topics = topics
        self.producer = producer
        self.database_url = database_url
        self.batch = batch
        self.idle_poll = idle_poll
        self.healthy = False

    async def run(self) -> None:
        """Drains on every NOTIFY from the outbox trigger, and every idle_poll seconds anyway."""
        backoff = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.database_url, autocommit=True) as listener:
                    for topic in self.topics:
                        await listener.execute(
                            sql.SQL("LISTEN {}").format(sql.Identifier(f"outbox:{topic}")))
                    while True:
                        await self.drain()
                        self.healthy, backoff = True, 0.1
                        async for _ in listener.notifies(timeout=self.idle_poll, stop_after=1):
                            pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: report, back off, try again
                self.healthy = False
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def drain(self) -> int:
        sent = 0
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "SELECT id, topic, key, payload FROM outbox WHERE topic = ANY(%s) "
                    "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (self.topics, self.batch))
                rows = await cur.fetchall()
                if not rows:
                    return sent
                acks = [await self.producer.send(r["topic"], r["payload"], key=r["key"])
                        for r in rows]
                await asyncio.gather(*acks)
                await conn.execute("DELETE FROM outbox WHERE id = ANY(%s)",
                                   ([r["id"] for r in rows],))
            sent += len(rows)
