"""The webhooks server: consumes render.events into the delivery schedule, runs the deliveries, and
serves WebhookService (endpoints, delivery log) and health over gRPC.

A broker that lost its log (a memory-only broker restarted) leaves the consumer's positions past the
new log's end: `kafka.rewind_lost` runs on every assignment and every few seconds and reads such
partitions from the start again (recording an event twice adds nothing). Events the lost log held
are re-published by the enqueue service's event sweep. Health is NOT_SERVING while events wait and
the consumer has not moved for `stall_after_seconds`.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from psycopg_pool import AsyncConnectionPool

from craftkit import db, kafka, messages, tracing
from craftkit import metrics as craftkit_metrics
from craftkit.service import cancel, create_server, run_until_terminated, watch_dependencies
from craftkit.v1 import webhooks_pb2_grpc
from services.webhooks import deliveries
from services.webhooks.endpoints import WebhookService
from services.webhooks.metrics import watch_backlog
from services.webhooks.settings import Settings

log = logging.getLogger(__name__)

REWIND_EVERY_SECONDS = 5.0  # also while partitions stay assigned: the broker may restart under us


class RewindOnAssignment(ConsumerRebalanceListener):
    """Newly assigned partitions start where the group committed; if that lies past the log's end,
    the log was lost: start from its beginning instead (before the first fetch)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked) -> None:
        pass  # offsets are committed after every recorded batch; nothing is held

    async def on_partitions_assigned(self, assigned) -> None:
        await rewind(self.consumer)


async def rewind(consumer: AIOKafkaConsumer) -> None:
    try:
        await kafka.rewind_lost(consumer)
    except KafkaError as exc:
        log.warning("checking positions against the log's end failed: %s", exc)


async def consume(settings: Settings, consumer: AIOKafkaConsumer, pool: AsyncConnectionPool,
                  deliverer: deliveries.Deliverer, progress: kafka.Progress) -> None:
    """Completion events -> deliveries. Offsets are committed once the deliveries are recorded."""
    await kafka.prepare_topics(settings.kafka)
    consumer.subscribe([settings.kafka.events_topic], listener=RewindOnAssignment(consumer))
    await kafka.BROKER.call(consumer.start, "kafka consumer")
    try:
        rewound_at = asyncio.get_running_loop().time()
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            if batches:
                progress.moved()
                await record(settings, consumer, pool, deliverer, batches)
                progress.moved()
            if asyncio.get_running_loop().time() - rewound_at > REWIND_EVERY_SECONDS:
                rewound_at = asyncio.get_running_loop().time()
                await rewind(consumer)  # the log may be lost while partitions stay assigned
    finally:
        await consumer.stop()


async def record(settings: Settings, consumer: AIOKafkaConsumer, pool: AsyncConnectionPool,
                 deliverer: deliveries.Deliverer, batches: dict) -> None:
    events = []
    traces = {}  # render id -> the event's trace context, kept with its deliveries
    for message in (m for batch in batches.values() for m in batch):
        try:
            event = messages.CompletionEvent.parse(message.value)
        except messages.MalformedMessage as exc:
            log.error("skipping a malformed event: %s", exc)
            continue
        events.append(event.body)
        if trace := tracing.header_fields(message.headers):
            traces[event.render_id] = trace
    if events and await db.RETRY.call(
            lambda: deliveries.record(pool, events, settings.give_up_seconds, traces),
            f"recording {len(events)} event(s)"):
        deliverer.wake()
    try:
        await consumer.commit()
    except (CommitFailedError, KafkaError) as exc:
        log.warning("offset commit failed: %s", exc)


async def serve(settings: Settings) -> None:
    """Runs until SIGTERM: the gRPC server, the consumer, the deliveries and the health checks,
    stopped together."""
    # Bound first: a port in use ends the process at once, before any pool or client runs
    # (so its supervisor or Kubernetes starts it again).
    server, port, health = create_server(settings.listen, settings.security)
    pool = db.pool(settings.database)
    craftkit_metrics.watch_pool(pool)
    await pool.open(wait=False)
    # Deliveries are not that urgent: wait up to 50 ms in the broker rather than poll it hard.
    # The topic is subscribed in consume(), with the rebalance listener.
    consumer = kafka.consumer(settings.kafka, settings.kafka.events_topic, settings.group,
                              fetch_max_wait_ms=50)
    progress = kafka.Progress(consumer, settings.stall_after_seconds)
    deliverer = deliveries.Deliverer(pool, settings)
    webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(
        WebhookService(pool, allow_private=settings.allow_private_targets, wake=deliverer.wake),
        server)
    tasks = []
    try:
        await server.start()
        log.info("webhooks server listening on port %d", port)
        tasks = [asyncio.create_task(consume(settings, consumer, pool, deliverer, progress)),
                 asyncio.create_task(deliverer.run()),
                 asyncio.create_task(watch_backlog(pool)),
                 asyncio.create_task(kafka.export_lag(consumer, settings.group)),
                 asyncio.create_task(watch_dependencies(health, ["craftkit.v1.WebhookService"], {
                     "postgresql": lambda: db.ping(pool),
                     "kafka": lambda: kafka.reachable(consumer),
                     "kafka-progress": progress.check},
                     # Endpoint management (its gRPC traffic) needs only PostgreSQL; events wait
                     # in Kafka while deliveries stall, seen by name.
                     optional=("kafka", "kafka-progress")))]
        await run_until_terminated(server, health)
    finally:
        await cancel(tasks)
        await deliverer.stop()
        await pool.close()
