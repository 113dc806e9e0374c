"""From the PostgreSQL outbox to Kafka.

An outbox row is written in the same transaction as the change it announces (a new render's job,
a terminal transition's completion event), so nothing is announced that did not happen and
nothing that happened goes unannounced. Two paths then carry it to Kafka:

- the fast path: right after the commit, the service that wrote the row sends it (`publish`), and
  deletes it once the broker acked (deletes are batched);
- the relay: every `interval` seconds it takes rows older than `after` seconds (FOR UPDATE SKIP
  LOCKED, so any number of relays may run), sends them, waits for every ack, and deletes them in
  the same transaction. It covers a crash between commit and ack, and a broker that was down.

Delivery is at least once (a row can go both ways); consumers dedupe by render id. Either way the
message carries the row's trace context as its traceparent/tracestate headers (craftkit.tracing).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from psycopg_pool import AsyncConnectionPool

from craftkit import metrics, tracing
from craftkit.kafka import Sends
from craftkit.retry import RetryPolicy, drain_forever

log = logging.getLogger(__name__)

SENT = Counter("craftkit_outbox_sent_total", "Outbox rows sent to Kafka and acked, by topic and "
               "path: fast (right after the commit) or relay (rows the fast path left).",
               ["topic", "path"])
BACKLOG_ROWS = Gauge("craftkit_outbox_backlog_rows", "Outbox rows not yet sent to Kafka, by "
                     "topic (refreshed every few seconds).", ["topic"])
OLDEST_AGE = Gauge("craftkit_outbox_oldest_age_seconds", "Age of the oldest outbox row not yet "
                   "sent, by topic (0 when there is none).", ["topic"])


class Outbox:
    def __init__(self, pool: AsyncConnectionPool, producer: AIOKafkaProducer, topics: list[str],
                 *, after: float = 5.0, interval: float = 1.0, batch: int = 500) -> None:
        self.pool = pool
        self.producer = producer
        self.topics = topics
        self.after = after
        self.interval = interval
        self.batch = batch
        self.connected = False  # set once the producer has started
        self.sends = Sends()  # how the latest send went, for health
        self._acked: list[int] = []
        self._tasks: set[asyncio.Task] = set()
        for topic in topics:  # listed at 0 from the first scrape
            SENT.labels(topic, "fast"), SENT.labels(topic, "relay")

    def publish(self, outbox_id: int, topic: str, key: bytes, payload: bytes,
                trace_context: dict | None = None) -> None:
        """Sends a just-committed row now; the relay sends it later if this does not work out."""
        if self.connected:
            self._spawn(self._publish(outbox_id, topic, key, payload, trace_context))

    async def _publish(self, outbox_id: int, topic: str, key: bytes, payload: bytes,
                       trace_context: dict | None) -> None:
        try:
            await (await self.producer.send(topic, payload, key=key,
                                            headers=tracing.as_headers(trace_context) or None))
        except Exception as exc:  # noqa: BLE001 - any failure leaves the row to the relay
            log.debug("fast path failed for outbox row %d: %s", outbox_id, exc)
            self.sends.failed(topic, exc)
            return
        self.sends.succeeded(topic)
        SENT.labels(topic, "fast").inc()
        self._acked.append(outbox_id)
        if len(self._acked) == 1:
            self._spawn(self._delete_acked())

    async def _delete_acked(self) -> None:
        await asyncio.sleep(0.002)  # gather the acks of concurrent renders into one DELETE
        ids, self._acked = self._acked, []
        try:
            async with self.pool.connection() as conn:
                await conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))
        except Exception as exc:  # noqa: BLE001 - the relay will send these again; harmless
            log.warning("could not delete %d sent outbox row(s): %s", len(ids), exc)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """The relay loop, forever."""
        await drain_forever(self.relay, self.interval,
                            RetryPolicy(initial=self.interval, maximum=10.0), "outbox relay")

    async def relay(self) -> int:
        """Sends one batch of rows the fast path left behind; returns how many."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT id, topic, key, payload, trace_context FROM outbox WHERE topic = ANY(%s) "
                "AND created_at < clock_timestamp() - %s * interval '1 second' "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (self.topics, self.after, self.batch))
            rows = await cur.fetchall()
            if not rows:
                return 0
            await self._send(rows)
            await conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([r["id"] for r in rows],))
        for row in rows:
            SENT.labels(row["topic"], "relay").inc()
        log.info("relayed %d outbox row(s)", len(rows))
        return len(rows)

    async def _send(self, rows: list[dict]) -> None:
        """Sends the rows in order and waits for every ack; records per topic how it went (for
        health) and raises the first failure, so none of the rows is deleted."""
        acks = []
        for row in rows:
            try:
                acks.append(await self.producer.send(
                    row["topic"], row["payload"], key=row["key"],
                    headers=tracing.as_headers(row["trace_context"]) or None))
            except Exception as exc:  # noqa: BLE001 - recorded, then raised to the relay loop
                self.sends.failed(row["topic"], exc)
                raise
        results = await asyncio.gather(*acks, return_exceptions=True)
        failures: dict[str, BaseException] = {}
        for row, result in zip(rows, results):
            if isinstance(result, BaseException):
                failures.setdefault(row["topic"], result)
        for topic in dict.fromkeys(row["topic"] for row in rows):
            if topic in failures:
                self.sends.failed(topic, failures[topic])
            else:
                self.sends.succeeded(topic)
        if failures:
            raise next(iter(failures.values()))

    async def stop(self) -> None:
        """Lets sends in flight finish (their rows stay for the relay if they do not)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)


# Two index scans per topic on outbox_topic (topic, id): the count reads only the rows waiting
# (a handful while Kafka is up), the oldest row is the topic's first id.
BACKLOG = """
SELECT t.topic,
       (SELECT count(*) FROM outbox o WHERE o.topic = t.topic) AS rows,
       coalesce(extract(epoch FROM clock_timestamp() - (
           SELECT created_at FROM outbox o WHERE o.topic = t.topic ORDER BY id LIMIT 1)), 0)
           AS age
FROM unnest(%s::text[]) AS t(topic)
"""


async def measure_backlog(pool: AsyncConnectionPool, topics: list[str]) -> None:
    """Sets craftkit_outbox_backlog_rows and craftkit_outbox_oldest_age_seconds for `topics`."""
    async with pool.connection() as conn:
        cur = await conn.execute(BACKLOG, (topics,))
        for row in await cur.fetchall():
            BACKLOG_ROWS.labels(row["topic"]).set(row["rows"])
            OLDEST_AGE.labels(row["topic"]).set(max(0.0, float(row["age"])))


async def watch_backlog(pool: AsyncConnectionPool, topics: list[str],
                        interval: float = 5.0) -> None:
    """Measures the backlog every `interval` seconds, forever (a background task of each service
    that relays: one cheap query, never one per request)."""
    for topic in topics:
        BACKLOG_ROWS.labels(topic)
        OLDEST_AGE.labels(topic)
    await metrics.refresh_every(interval, lambda: measure_backlog(pool, topics),
                                "outbox backlog not measured")
