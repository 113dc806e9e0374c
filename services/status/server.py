"""The status server: StatusService, TemplateService, ProjectService, InboundHookService and
DownloadService over one PostgreSQL pool, plus the outbox relay for the completion events
(render.events) it records."""

from __future__ import annotations

import asyncio
import logging

from craftkit import db, kafka, metrics
from craftkit.downloads import DownloadUrls, Presigner
from craftkit.outbox import Outbox, watch_backlog
from craftkit.service import cancel, create_server, run_until_terminated, watch_dependencies
from craftkit.v1 import (downloads_pb2_grpc, idempotency_pb2_grpc, inbound_pb2_grpc,
                         projects_pb2_grpc, status_pb2_grpc, templates_pb2_grpc)
from services.status import idempotency
from services.status.downloads import DownloadService
from services.status.inbound import InboundHookService
from services.status.projects import ProjectService
from services.render_worker.storage import PdfStore
from services.status.renders import StatusService, TerminalWaiters
from services.status.retention import Retention
from services.status.settings import Settings
from services.status.templates import TemplateService

log = logging.getLogger(__name__)

SERVICES = ["craftkit.v1.StatusService", "craftkit.v1.TemplateService",
            "craftkit.v1.ProjectService", "craftkit.v1.InboundHookService",
            "craftkit.v1.IdempotencyService", "craftkit.v1.DownloadService"]


async def serve(settings: Settings) -> None:
    # Bound first: a port in use ends the process at once, before any pool or client runs
    # (so its supervisor or Kubernetes starts it again).
    server, port, health = create_server(settings.listen, settings.security)
    pool = db.pool(settings.database)
    metrics.watch_pool(pool)
    await pool.open(wait=False)
    producer = kafka.producer(settings.kafka)
    waiters = TerminalWaiters(settings.database.url)
    outbox = Outbox(pool, producer, [settings.kafka.events_topic],
                    after=settings.kafka.relay_after_seconds)
    status_pb2_grpc.add_StatusServiceServicer_to_server(
        StatusService(pool, waiters, outbox, lease_seconds=settings.lease_seconds,
                      max_attempts=settings.max_attempts,
                      public_base_url=settings.storage.public_base_url,
                      urls=DownloadUrls(settings.downloads, settings.storage),
                      events_topic=settings.kafka.events_topic), server)
    templates = TemplateService(pool, max_asset_pixels=settings.max_asset_pixels)
    templates_pb2_grpc.add_TemplateServiceServicer_to_server(templates, server)
    projects_pb2_grpc.add_ProjectServiceServicer_to_server(ProjectService(pool), server)
    inbound_pb2_grpc.add_InboundHookServiceServicer_to_server(InboundHookService(pool), server)
    idempotency_pb2_grpc.add_IdempotencyServiceServicer_to_server(idempotency.IdempotencyService(
        pool, retention_seconds=settings.idempotency_retention_seconds), server)
    downloads_pb2_grpc.add_DownloadServiceServicer_to_server(
        DownloadService(pool, Presigner(settings.storage, settings.storage.endpoint)), server)
    tasks = []
    try:
        await server.start()
        log.info("status server listening on port %d", port)
        tasks = [asyncio.create_task(waiters.run()),
                 asyncio.create_task(idempotency.sweep(pool))]

        async def relay_when_connected() -> None:
            await kafka.BROKER.call(producer.start, "kafka producer")
            outbox.connected = True
            await outbox.run()

        tasks.append(asyncio.create_task(relay_when_connected()))
        tasks.append(asyncio.create_task(kafka.keep_topics(settings.kafka)))
        tasks.append(asyncio.create_task(watch_backlog(pool, outbox.topics)))
        if settings.retention_days > 0:
            store = PdfStore(settings.storage)
            tasks.append(asyncio.create_task(Retention(pool, store, settings.retention_days).run()))
        # Every answer comes from PostgreSQL; Kafka only carries completion events, which the
        # outbox holds while it is away. So Kafka down shows as "kafka", not as "" (not ready).
        tasks.append(asyncio.create_task(watch_dependencies(
            health, SERVICES, {"postgresql": lambda: db.ping(pool),
                               "kafka": lambda: kafka.sending(producer, outbox.sends)},
            optional=("kafka",))))
        await run_until_terminated(server, health)
    finally:
        await cancel(tasks)
        templates.close()
        await outbox.stop()
        await producer.stop()
        await pool.close()

