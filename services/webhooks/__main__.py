"""The webhooks service: consumes render.events, keeps the delivery schedule in PostgreSQL,
delivers signed webhooks, and serves WebhookService (endpoints, delivery log) over gRPC."""

import asyncio
import logging

import uvloop
from aiokafka.errors import CommitFailedError, KafkaError

from craftkit import db, kafka, messages
from craftkit.service import (cancel, create_server, run_until_terminated, setup_logging,
                              watch_dependencies)
from craftkit.v1 import webhooks_pb2_grpc
from services.webhooks import deliveries
from services.webhooks.endpoints import WebhookService
from services.webhooks.settings import Settings

log = logging.getLogger("webhooks")


async def consume(settings: Settings, consumer, pool, deliverer: deliveries.Deliverer) -> None:
    """Completion events -> deliveries. Offsets are committed once the deliveries are recorded."""
    await kafka.prepare_topics(settings.kafka)
    await kafka.BROKER.call(consumer.start, "kafka consumer")
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            if not batches:
                continue
            events = []
            for message in (m for batch in batches.values() for m in batch):
                try:
                    events.append(messages.CompletionEvent.parse(message.value).body)
                except messages.MalformedMessage as exc:
                    log.error("skipping a malformed event: %s", exc)
            if events and await db.RETRY.call(
                    lambda: deliveries.record(pool, events, settings.give_up_seconds),
                    f"recording {len(events)} event(s)"):
                deliverer.wake()
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
    deliverer = deliveries.Deliverer(pool, settings)
    server, _, health = create_server(settings.listen)
    webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(
        WebhookService(pool, allow_private=settings.allow_private_targets, wake=deliverer.wake),
        server)
    await server.start()
    tasks = [asyncio.create_task(consume(settings, consumer, pool, deliverer)),
             asyncio.create_task(deliverer.run()),
             asyncio.create_task(watch_dependencies(health, ["craftkit.v1.WebhookService"], {
                 "postgresql": lambda: db.ping(pool),
                 "kafka": lambda: kafka.reachable(consumer)}))]
    try:
        await run_until_terminated(server, health)
    finally:
        await cancel(tasks)
        await deliverer.stop()
        await pool.close()


setup_logging("webhooks")
uvloop.run(main(Settings.from_env()))
