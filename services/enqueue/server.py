"""The enqueue server: EnqueueService, the outbox relay for render jobs, and the sweeper."""

from __future__ import annotations

import asyncio
import logging

from craftkit import db, kafka, metrics
from craftkit.outbox import Outbox, watch_backlog
from craftkit.service import cancel, create_server, run_until_terminated, watch_dependencies
from craftkit.v1 import enqueue_pb2_grpc
from services.enqueue import sweeper
from services.enqueue.service import EnqueueService
from services.enqueue.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    # Bound first: a port in use ends the process at once, before any pool or client runs
    # (so its supervisor or Kubernetes starts it again).
    server, port, health = create_server(settings.listen, settings.security)
    pool = db.pool(settings.database)
    metrics.watch_pool(pool)
    await pool.open(wait=False)
    producer = kafka.producer(settings.kafka)
    # The relay sends the jobs this service writes and the completion events its event sweep
    # re-publishes (the status service's relay covers events too: rows are locked, never sent twice
    # at once).
    outbox = Outbox(pool, producer, [settings.kafka.jobs_topic, settings.kafka.events_topic],
                    after=settings.kafka.relay_after_seconds)
    enqueue_pb2_grpc.add_EnqueueServiceServicer_to_server(
        EnqueueService(pool, outbox, jobs_topic=settings.kafka.jobs_topic,
                       dedupe_window=settings.dedupe_window_seconds), server)
    tasks = []
    try:
        await server.start()
        log.info("enqueue server listening on port %d", port)

        async def relay_when_connected() -> None:
            await kafka.BROKER.call(producer.start, "kafka producer")
            await kafka.prepare_topics(settings.kafka)
            outbox.connected = True
            await outbox.run()

        tasks = [
            asyncio.create_task(relay_when_connected()),
            asyncio.create_task(kafka.keep_topics(settings.kafka)),
            asyncio.create_task(watch_backlog(pool, outbox.topics)),
            asyncio.create_task(sweeper.every(
                settings.sweep_interval_seconds,
                lambda: sweeper.sweep(pool, outbox, topic=settings.kafka.jobs_topic,
                                      after=settings.redeliver_after_seconds,
                                      lease=settings.lease_seconds),
                "unfinished render job(s)")),
            asyncio.create_task(sweeper.every(
                settings.sweep_interval_seconds,
                lambda: sweeper.sweep_events(pool, outbox, topic=settings.kafka.events_topic,
                                             after=settings.event_redeliver_after_seconds,
                                             window=settings.event_sweep_window_seconds),
                "completion event(s) not recorded in time")),
            # Ready on PostgreSQL alone: while Kafka is away the outbox keeps each 202 safe.
            asyncio.create_task(watch_dependencies(
                health, ["craftkit.v1.EnqueueService"],
                {"postgresql": lambda: db.ping(pool),
                 "kafka": lambda: kafka.sending(producer, outbox.sends)}, optional=("kafka",))),
        ]
        await run_until_terminated(server, health)
    finally:
        await cancel(tasks)
        await outbox.stop()
        await producer.stop()
        await pool.close()
