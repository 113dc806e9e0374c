"""The webhooks service: consumes render.events and records every completion once in PostgreSQL
(webhook_events). Delivery to project endpoints builds on this record."""

import asyncio
import json
import logging
from dataclasses import dataclass

import uvloop
from aiokafka.errors import CommitFailedError, KafkaError

from craftkit import db, kafka
from craftkit.config import Database, Kafka, env_str
from craftkit.service import create_server, run_until_terminated, setup_logging, watch_dependencies

log = logging.getLogger("webhooks")

RECORD = """
INSERT INTO webhook_events (render_id, event, payload)
SELECT (e->>'renderId')::uuid, e->>'event', e FROM jsonb_array_elements(%s::jsonb) AS e
ON CONFLICT (render_id) DO NOTHING
"""


@dataclass(frozen=True)
class Settings:
    database: Database
    kafka: Kafka
    health_listen: str
    """WEBHOOKS_HEALTH_LISTEN: host:port of this service's gRPC health endpoint."""
    group: str
    """WEBHOOKS_GROUP: the consumer group on render.events."""

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(database=Database.from_env(), kafka=Kafka.from_env(),
                   health_listen=env_str("WEBHOOKS_HEALTH_LISTEN", "127.0.0.1:7054"),
                   group=env_str("WEBHOOKS_GROUP", "webhooks"))


async def consume(settings: Settings, consumer, pool) -> None:
    topics = settings.kafka.jobs_topic, settings.kafka.events_topic
    await kafka.retrying(lambda: kafka.ensure_topics(settings.kafka, *topics), "topics")
    await kafka.retrying(consumer.start, "kafka consumer")
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            events = []
            for message in (m for batch in batches.values() for m in batch):
                try:
                    event = json.loads(message.value)
                    if isinstance(event, dict) and "renderId" in event:
                        events.append(event)
                        continue
                except ValueError:
                    pass
                log.error("skipping a malformed event: %r", message.value[:200])
            if not batches:
                continue
            while True:
                try:
                    async with pool.connection() as conn:
                        await conn.execute(RECORD, (json.dumps(events),))
                    break
                except Exception as exc:  # noqa: BLE001 - the database may be down: wait for it
                    log.warning("recording %d event(s) failed: %s", len(events), exc)
                    await asyncio.sleep(1)
            try:
                await consumer.commit()
            except (CommitFailedError, KafkaError) as exc:
                log.warning("offset commit failed: %s", exc)
    finally:
        await consumer.stop()


async def main(settings: Settings) -> None:
    pool = db.pool(settings.database)
    await pool.open(wait=False)
    # Deliveries are not that urgent: wait up to 50 ms in the broker rather than poll it hard.
    consumer = kafka.consumer(settings.kafka, settings.kafka.events_topic, settings.group,
                              fetch_max_wait_ms=50)
    server, _, health = create_server(settings.health_listen)
    await server.start()
    tasks = [asyncio.create_task(consume(settings, consumer, pool)),
             asyncio.create_task(watch_dependencies(health, ["craftkit.v1.Webhooks"], {
                 "postgresql": lambda: db.ping(pool),
                 "kafka": lambda: kafka.reachable(consumer)}))]
    try:
        await run_until_terminated(server, health)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()


setup_logging("webhooks")
uvloop.run(main(Settings.from_env()))
