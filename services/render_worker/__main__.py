"""Runs one render worker with its gRPC health endpoint until SIGTERM."""

import asyncio
import logging

import uvloop
from grpc_health.v1 import health_pb2, health_pb2_grpc

from craftkit import kafka
from craftkit.service import create_server, run_until_terminated, setup_logging, watch_dependencies
from craftkit import service
from craftkit.v1 import status_pb2_grpc, templates_pb2_grpc
from services.render_worker.settings import Settings
from services.render_worker.storage import PdfStore
from services.render_worker.worker import Worker

log = logging.getLogger("render_worker")


async def main(settings: Settings) -> None:
    store = PdfStore(settings.storage)
    channel = service.channel(settings.status_address)
    worker = Worker(settings, status_pb2_grpc.StatusServiceStub(channel),
                    templates_pb2_grpc.TemplateServiceStub(channel), store)
    health_stub = health_pb2_grpc.HealthStub(channel)

    async def status_serving() -> bool:
        reply = await health_stub.Check(health_pb2.HealthCheckRequest(), timeout=3)
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    server, _, health = create_server(settings.health_listen)
    await server.start()
    work = asyncio.create_task(worker.run())
    watch = asyncio.create_task(watch_dependencies(health, ["craftkit.v1.RenderWorker"], {
        "kafka": lambda: kafka.reachable(worker.consumer),
        "s3": lambda: asyncio.to_thread(store.reachable),
        "status": status_serving}))
    try:
        await run_until_terminated(server, health)
        worker.stop()
        await asyncio.wait_for(asyncio.shield(work), settings.shutdown_grace_seconds)
    except asyncio.TimeoutError:
        log.warning("jobs still running after the grace period; their leases will expire")
    finally:
        await service.cancel([work, watch])
        await channel.close()


setup_logging("render_worker")
uvloop.run(main(Settings.from_env()))
