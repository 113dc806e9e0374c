"""Liveness and readiness for Kubernetes (no API key)."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.gateway import views
from services.gateway.routes import public
from services.gateway.state import State, state


async def serving(stub: health_pb2_grpc.HealthStub, service: str = "") -> str:
    """A backend's health status for `service` ("SERVING", "NOT_SERVING", ...), or the gRPC
    error's name when it cannot be asked ("UNAVAILABLE", "DEADLINE_EXCEEDED")."""
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    except grpc.aio.AioRpcError as exc:
        return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readiness(gateway: State) -> tuple[bool, dict[str, str]]:
    """Ready when the status service is: every route authenticates through it. Enqueue,
    webhooks and Kafka serve only some routes (and a POST stays safe while Kafka is away),
    so they are reported (by name: their health status) but never take the gateway out of
    service. Also read every few seconds for the readiness metrics (services.gateway.metrics)."""
    health = gateway.backends.health
    names = {"status": ("status", ""), "enqueue": ("enqueue", ""),
             "webhooks": ("webhooks", ""), "kafka": ("enqueue", "kafka")}
    states = dict(zip(names, await asyncio.gather(
        *(serving(health[backend], service) for backend, service in names.values()))))
    return states["status"] == "SERVING", states


async def readyz(request: Request) -> JSONResponse:
    ready, states = await readiness(state(request))
    return JSONResponse({"ready": ready, "requires": ["status"], "backends": states},
                        status_code=200 if ready else 503)


PUBLIC_ROUTES = [
    public("GET", "/healthz", healthz, summary="Liveness", answers={200: views.HEALTH}),
    public("GET", "/readyz", readyz, summary="Readiness",
           description="200 while the status service serves (every route authenticates "
                       "through it), else 503; the other backends are reported only.",
           answers={200: views.READY, 503: views.READY}),
]
