"""Prometheus metrics (prometheus-client): the HTTP endpoint every process serves on
METRICS_LISTEN, and what every service shares: gRPC server and client metrics (the
grpc-ecosystem/go-grpc-prometheus names), the PostgreSQL pool, and health (craftkit_serving,
craftkit_dependency_up). Metric names and label values: docs/metrics.md.

Everything is registered at import (or when a pool is watched), so /metrics lists each metric's
HELP and TYPE from the first scrape. Label values are bounded sets: gRPC methods are only the
ones the server has (an unknown method never reaches an interceptor's counters), and values a
client controls go through `Capped`.

A process whose requests are served by several worker processes (the gateway with
GATEWAY_WORKERS > 1) uses prometheus_client's multiprocess mode: `use_multiprocess_dir` before
the workers start, and /metrics then sums what every worker wrote."""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import logging
import os
import shutil
import tempfile
import time

import grpc
import prometheus_client
from google.protobuf import descriptor_pool
from prometheus_client import Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve_from_env() -> int | None:
    """Serves /metrics on METRICS_LISTEN (host:port, [ipv6]:port) when it is set; returns its
    port. With PROMETHEUS_MULTIPROC_DIR set (see use_multiprocess_dir), serves the sum of the
    workers'."""
    listen = os.environ.get("METRICS_LISTEN", "")
    if not listen:
        return None
    host, _, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # an IPv6 address as a URL writes it
        host = host[1:-1]
    try:
        number = int(port)
        if not 0 <= number <= 65535:
            raise ValueError(f"port {number} is not in 0-65535")
        server, _ = prometheus_client.start_http_server(number, addr=host or "0.0.0.0",
                                                        registry=_registry())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"METRICS_LISTEN {listen}: cannot listen ({exc}); give a free "
                         "host:port, or leave it empty for no metrics endpoint") from None
    return server.server_port


def _registry() -> prometheus_client.CollectorRegistry:
    """The default registry; in multiprocess mode, one reading the workers' files, plus this
    supervising process's own process_* and python_info (prometheus_client has no python_gc_*
    in that mode)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return prometheus_client.REGISTRY
    registry = prometheus_client.CollectorRegistry()
    Workers(directory, registry)
    prometheus_client.ProcessCollector(registry=registry)
    prometheus_client.PlatformCollector(registry=registry)
    return registry


def use_multiprocess_dir(workers: int) -> None:
    """With more than one worker process, makes an empty PROMETHEUS_MULTIPROC_DIR for them (they
    inherit it, and write their samples there) and removes it when this process exits. Call
    before starting the workers; one worker stays single-process."""
    if workers <= 1:
        return
    directory = tempfile.mkdtemp(prefix="craftkit-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)


class Workers(Collector):
    """prometheus_client's MultiProcessCollector, first forgetting the live gauges (in-flight
    requests) of worker processes that died: uvicorn starts a new worker in a dead one's place
    and tells no one, so its in-flight count would otherwise stay in the sum for ever."""

    def __init__(self, directory: str, registry) -> None:
        self.directory = directory
        self.inner = multiprocess.MultiProcessCollector(None, path=directory)
        registry.register(self)

    def collect(self):
        for pid in self._dead_pids():
            multiprocess.mark_process_dead(pid, self.directory)
        return self.inner.collect()

    def _dead_pids(self) -> set[int]:
        pids = set()
        for name in os.listdir(self.directory):
            if name.startswith("gauge_live") and name.endswith(".db"):
                pid = int(name[:-3].rpartition("_")[2])
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    pids.add(pid)
                except PermissionError:
                    pass
        return pids


class Capped:
    """Label values from a set clients control (template slugs, project ids), kept to the first
    `limit` distinct values this process saw; every later one is counted as "other", so a tenant
    with a thousand templates cannot make a thousand series."""

    OTHER = "other"

    def __init__(self, limit: int = 100) -> None:
        self.limit, self.seen = limit, set()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        return self.OTHER


# --- Health ---------------------------------------------------------------------------------

SERVING = Gauge("craftkit_serving", "1 while this server reports itself ready (gRPC health "
                '"" SERVING; the gateway: /readyz answering 200), else 0.',
                multiprocess_mode="livemostrecent")
DEPENDENCY_UP = Gauge("craftkit_dependency_up", "1 while a dependency's health check passes, "
                      "else 0 (the names of the server's health checks).", ["dependency"],
                      multiprocess_mode="livemostrecent")


def report_health(serving: bool, dependencies: dict[str, bool]) -> None:
    """Sets craftkit_serving and craftkit_dependency_up (from service.watch_dependencies and the
    gateway's readiness)."""
    SERVING.set(1 if serving else 0)
    for name, up in dependencies.items():
        DEPENDENCY_UP.labels(name).set(1 if up else 0)


async def refresh_every(interval: float, refresh, what: str) -> None:
    """`await refresh()` every `interval` seconds, forever: gauges read from the database in the
    background, never per request. A failure (PostgreSQL away) leaves the last values and is
    logged at debug only: the postgresql health check already says why."""
    while True:
        try:
            await refresh()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - psycopg and pool timeouts alike
            log.debug("%s: %s", what, exc)
        await asyncio.sleep(interval)


# --- PostgreSQL pool ------------------------------------------------------------------------

class PoolCollector(Collector):
    """The psycopg_pool pools of this process, read at scrape time (pool.get_stats(): no work
    on the request path)."""

    def __init__(self) -> None:
        self.pools: list = []

    def describe(self):
        return self._families()

    def collect(self):
        families = self._families()
        stats = [pool.get_stats() for pool in self.pools]
        for family, key in zip(families, ("pool_size", "pool_max", "pool_available",
                                          "requests_waiting", "requests_errors")):
            family.add_metric([], sum(s.get(key, 0) for s in stats))
        return families

    @staticmethod
    def _families() -> list:
        return [
            GaugeMetricFamily("craftkit_db_pool_connections",
                              "PostgreSQL connections the pool holds (busy or idle)."),
            GaugeMetricFamily("craftkit_db_pool_max_connections",
                              "The most connections the pool may open (DATABASE_POOL_MAX)."),
            GaugeMetricFamily("craftkit_db_pool_idle_connections",
                              "Connections in the pool waiting for a request."),
            GaugeMetricFamily("craftkit_db_pool_waiting_requests",
                              "Requests waiting for a connection right now."),
            CounterMetricFamily("craftkit_db_pool_timeouts",
                                "Requests that got no connection in time (or were refused by a "
                                "full queue)."),
        ]


POOLS = PoolCollector()


def watch_pool(pool) -> None:
    """Exports `pool`'s craftkit_db_pool_* metrics (the collector is registered with the first
    pool, so processes without one do not list them)."""
    if not POOLS.pools:
        prometheus_client.REGISTRY.register(POOLS)
    POOLS.pools.append(pool)


# --- gRPC -----------------------------------------------------------------------------------

_LABELS = ["grpc_type", "grpc_service", "grpc_method"]
SERVER_STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", _LABELS)
SERVER_HANDLED = Counter("grpc_server_handled_total", "RPCs completed on the server, whatever "
                         "their outcome.", [*_LABELS, "grpc_code"])
SERVER_HANDLING = Histogram("grpc_server_handling_seconds", "Time from an RPC's start to its "
                            "end on the server.", _LABELS)
SERVER_RECEIVED = Counter("grpc_server_msg_received_total", "Messages received on the server.",
                          _LABELS)
SERVER_SENT = Counter("grpc_server_msg_sent_total", "Messages sent by the server.", _LABELS)
CLIENT_STARTED = Counter("grpc_client_started_total", "RPCs started by the client.", _LABELS)
CLIENT_HANDLED = Counter("grpc_client_handled_total", "RPCs completed by the client, whatever "
                         "their outcome.", [*_LABELS, "grpc_code"])
CLIENT_HANDLING = Histogram("grpc_client_handling_seconds", "Time from an RPC's start to its "
                            "answer, as the client sees it.", _LABELS)


@functools.lru_cache(maxsize=512)
def method_labels(full_method: str) -> tuple[str, str, str]:
    """(grpc_type, grpc_service, grpc_method) of "/package.Service/Method"; the type is the
    method's declared one (from the generated code's descriptors), not the handler's: a call
    refused before its handler (internal_auth) is still counted under its method's type."""
    service, _, method = full_method.lstrip("/").partition("/")
    try:
        declared = descriptor_pool.Default().FindMethodByName(f"{service}.{method}")
    except KeyError:
        return "unary", service, method
    kind = {(False, False): "unary", (True, False): "client_stream",
            (False, True): "server_stream", (True, True): "bidi_stream"}
    return kind[declared.client_streaming, declared.server_streaming], service, method


@functools.lru_cache(maxsize=8192)
def child(family, *values: str):
    """`family.labels(*values)`, remembered: what every call and every request counts under
    (label values of bounded sets only, so the cache holds them all)."""
    return family.labels(*values)


def _server_code(exc: BaseException | None, context) -> grpc.StatusCode:
    """The status an RPC ended with: what the handler (or an interceptor inside this one) set
    with abort / abort_with_status / set_code, else OK, or UNKNOWN / CANCELLED for an exception."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):  # set_code with a number
        return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    if exc is None:
        return grpc.StatusCode.OK
    if isinstance(exc, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


class _ServerCall:
    """Counts one server RPC: started at creation, handled with its code at `end`."""

    __slots__ = ("labels", "started")

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels, self.started = labels, time.perf_counter()
        child(SERVER_STARTED, *labels).inc()

    def end(self, exc: BaseException | None, context) -> None:
        child(SERVER_HANDLING, *self.labels).observe(time.perf_counter() - self.started)
        child(SERVER_HANDLED, *self.labels, _server_code(exc, context).name).inc()


class ServerMetrics(grpc.aio.ServerInterceptor):
    """grpc_server_* for every call the server has a handler for. It sits outside the
    interceptors that refuse (internal_auth) and map errors (service.ApiErrorInterceptor), so it
    reads the code they set from the context once the handler is done."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED; no series for it
            return handler
        labels = method_labels(details.method)
        if handler.unary_unary:
            return _replace(handler, unary_unary=self._unary(handler.unary_unary, labels, True))
        if handler.stream_unary:
            return _replace(handler, stream_unary=self._unary(handler.stream_unary, labels, False))
        if handler.unary_stream:
            return _replace(handler, unary_stream=self._streaming(handler.unary_stream, labels))
        return _replace(handler, stream_stream=self._streaming(handler.stream_stream, labels))

    @staticmethod
    def _unary(inner, labels, unary_request: bool):
        async def call(request, context):
            counted = _ServerCall(labels)
            if unary_request:
                child(SERVER_RECEIVED, *labels).inc()
            try:
                response = await inner(request, context)
            except BaseException as exc:
                counted.end(exc, context)
                raise
            counted.end(None, context)
            child(SERVER_SENT, *labels).inc()
            return response
        return call

    @staticmethod
    def _streaming(inner, labels):
        """A server-streaming handler: an async generator (each message counted) or a coroutine
        writing with context.write (its messages are not counted)."""
        if not inspect.isasyncgenfunction(inner):
            async def written(request, context):
                counted = _ServerCall(labels)
                try:
                    await inner(request, context)
                except BaseException as exc:
                    counted.end(exc, context)
                    raise
                counted.end(None, context)
            return written

        async def generated(request, context):
            counted = _ServerCall(labels)
            try:
                async for message in inner(request, context):
                    child(SERVER_SENT, *labels).inc()
                    yield message
            except BaseException as exc:
                counted.end(exc, context)
                raise
            counted.end(None, context)
        return generated


def _replace(handler: grpc.RpcMethodHandler, **behaviour) -> grpc.RpcMethodHandler:
    return handler._replace(**behaviour)


class ClientMetrics(grpc.aio.UnaryUnaryClientInterceptor):
    """grpc_client_* for every unary call on a channel (all of this project's calls are unary).
    Retries the channel makes (service.SERVICE_CONFIG) are one call here."""

    async def intercept_unary_unary(self, continuation, details, request):
        method = details.method
        labels = method_labels(method.decode() if isinstance(method, bytes) else method)
        child(CLIENT_STARTED, *labels).inc()
        started = time.perf_counter()
        call, code = None, grpc.StatusCode.UNKNOWN
        try:
            call = await continuation(details, request)
            code = await call.code()
        except asyncio.CancelledError:
            if call is not None:  # the caller gave up (its own timeout): so does the RPC
                call.cancel()
            code = grpc.StatusCode.CANCELLED
            raise
        finally:
            child(CLIENT_HANDLED, *labels, code.name).inc()
            child(CLIENT_HANDLING, *labels).observe(time.perf_counter() - started)
        return call


def server_interceptors() -> list:
    """gRPC server interceptors that count and time every call (grpc_server_*)."""
    return [ServerMetrics()]


def client_interceptors() -> list:
    """grpc.aio client interceptors that count and time every call (grpc_client_*)."""
    return [ClientMetrics()]

