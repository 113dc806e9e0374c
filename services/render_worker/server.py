"""The render worker server: the Kafka consumer with its jobs, the render processes, the channel
to the status service, the health endpoint and the background checks, started and stopped
together."""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health_pb2, health_pb2_grpc

from craftkit import kafka, service
from craftkit.service import cancel, create_health_server, run_until_terminated, watch_dependencies
from craftkit.v1 import status_pb2_grpc, templates_pb2_grpc
from craftkit.render_pool import PoolSettings, RenderPool
from services.render_worker import metrics
from services.render_worker.settings import Settings
from services.render_worker.storage import PdfStore
from services.render_worker.worker import Worker

log = logging.getLogger(__name__)

SERVICES = ["craftkit.v1.RenderWorker"]


async def watch_progress(health, progress: kafka.Progress, interval: float = 5.0) -> None:
    """Jobs waiting and none taken or finished for long: the worker is wedged. Besides readiness
    ("progress" among the checks), liveness then fails too, so Kubernetes restarts it. A broker
    that cannot be asked is no reason to restart (readiness reports it)."""
    SERVING, NOT_SERVING = (health_pb2.HealthCheckResponse.SERVING,
                            health_pb2.HealthCheckResponse.NOT_SERVING)
    while True:
        await asyncio.sleep(interval)
        try:
            moving = await asyncio.wait_for(progress.check(), 10)
        except Exception:  # noqa: BLE001 - Kafka unreachable: not a stall of ours
            continue
        await health.set("liveness", SERVING if moving else NOT_SERVING)
        if not moving:
            log.error("jobs are waiting and none moved for %.0f s: reporting not live",
                      progress.stall_after)


async def serve(settings: Settings) -> None:
    # Bound first: a port in use ends the process at once, before any render process starts.
    server, port, health = create_health_server(settings.health_listen)
    store = PdfStore(settings.storage, timed=metrics.s3_put)
    pool = RenderPool(PoolSettings(processes=settings.concurrency,
                                   recycle_after=settings.recycle_after, limits=settings.limits,
                                   memory_limit_mb=settings.memory_limit_mb),
                      on_restart=metrics.POOL_RESTARTS.inc)
    channel = service.channel(settings.status_address, settings.security)
    worker = Worker(settings, status_pb2_grpc.StatusServiceStub(channel),
                    templates_pb2_grpc.TemplateServiceStub(channel), store, pool)
    health_stub = health_pb2_grpc.HealthStub(channel)

    async def status_serving() -> bool:
        reply = await health_stub.Check(health_pb2.HealthCheckRequest(), timeout=3)
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    tasks: list[asyncio.Task] = []
    try:
        await server.start()
        log.info("render worker health on port %d, %d render processes", port,
                 settings.concurrency)
        work = asyncio.create_task(worker.run())
        tasks = [work, asyncio.create_task(worker.watch_log()),
                 asyncio.create_task(kafka.export_lag(worker.consumer, settings.group)),
                 asyncio.create_task(watch_dependencies(health, SERVICES, {
                     "kafka": lambda: kafka.reachable(worker.consumer),
                     "s3": lambda: asyncio.to_thread(store.reachable),
                     "status": status_serving,
                     "progress": worker.progress.check})),
                 asyncio.create_task(watch_progress(health, worker.progress))]
        await run_until_terminated(server, health)
        worker.stop()
        try:
            await asyncio.wait_for(asyncio.shield(work), settings.shutdown_grace_seconds)
        except asyncio.TimeoutError:
            log.warning("jobs still running after the grace period; their leases will expire")
    finally:
        await cancel(tasks)
        await cancel(list(worker.jobs | worker.background))  # their leases will run out
        pool.close()
        await channel.close()
