"""What every gRPC server process shares: health reporting from real dependency checks, and a
graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import grpc
import psycopg
import psycopg_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from craftkit import errors

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]


# Assets (images) travel over gRPC: allow messages well above the 5 MiB asset limit.
MESSAGE_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024),
                   ("grpc.max_send_message_length", 16 * 1024 * 1024)]


def channel(address: str) -> grpc.aio.Channel:
    """A client channel to one of our servers."""
    return grpc.aio.insecure_channel(address, options=MESSAGE_OPTIONS)


def create_server(address: str) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A gRPC server with the health service. Service "liveness" answers SERVING for as long as
    the process runs (for liveness probes); "" and each named service follow the dependencies."""
    server = grpc.aio.server(interceptors=[ApiErrorInterceptor()],
                             options=[("grpc.so_reuseport", 0), *MESSAGE_OPTIONS])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if not port:
        raise SystemExit(f"cannot listen on {address}: the address is in use or invalid")
    return server, port, health_servicer


async def watch_dependencies(servicer: health.aio.HealthServicer, services: list[str],
                             checks: dict[str, Check], interval: float = 1.0) -> None:
    """Reports SERVING while every check passes, NOT_SERVING (naming the failures) otherwise."""
    await servicer.set("liveness", health_pb2.HealthCheckResponse.SERVING)
    last = None
    while True:
        failing = []
        for name, check in checks.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=5)
            except Exception:  # noqa: BLE001 - a check that raises is a failing check
                ok = False
            if not ok:
                failing.append(name)
        status = (health_pb2.HealthCheckResponse.NOT_SERVING if failing
                  else health_pb2.HealthCheckResponse.SERVING)
        if status != last:
            for service in ["", *services]:
                await servicer.set(service, status)
            if failing:
                log.warning("NOT_SERVING: %s unreachable", ", ".join(failing))
            else:
                log.info("SERVING")
            last = status
        await asyncio.sleep(interval)


async def cancel(tasks) -> None:
    """Cancels background tasks and waits until each has finished."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_until_terminated(server: grpc.aio.Server, servicer: health.aio.HealthServicer,
                               grace: float = 5.0) -> None:
    """Waits for SIGTERM or SIGINT, then stops taking calls and lets running ones finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await servicer.enter_graceful_shutdown()
    await server.stop(grace)


def setup_logging(name: str) -> None:
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)


class ApiErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns an ApiError raised by any unary handler into its rich gRPC status, and a lost
    database connection into UNAVAILABLE, so servicers just raise."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def call(request, context):
            try:
                return await inner(request, context)
            except errors.ApiError as exc:
                await context.abort_with_status(errors.to_status(exc))
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                log.warning("%s: database unavailable: %s", details.method, exc)
                await context.abort_with_status(errors.to_status(
                    errors.Unavailable("the database is unavailable; retry with backoff")))

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
