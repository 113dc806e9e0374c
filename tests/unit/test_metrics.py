"""craftkit.metrics: Capped, and the gRPC interceptors as an operator reads them on a real
server and channel (loopback, in process): codes set by the interceptors inside (a refused
token, an ApiError) are counted, the method's labels are the declared ones."""

from __future__ import annotations

import asyncio
import os
import subprocess
import re
import sys

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY, CollectorRegistry

from craftkit import errors, metrics, service
from craftkit.internal_auth import ADMIN, ClientSecurity, ServerSecurity
from craftkit.v1 import render_pb2, status_pb2, status_pb2_grpc

TOKEN = "m" * 32
PROJECT = "00000000-0000-0000-0000-000000000001"
GET = ("unary", "craftkit.v1.StatusService", "GetRender")


def test_capped_keeps_the_first_values_and_counts_the_rest_as_other():
    capped = metrics.Capped(2)
    assert [capped(v) for v in ("a", "b", "c", "a", "d", "b")] == ["a", "b", "other", "a",
                                                                   "other", "b"]


class Renders(status_pb2_grpc.StatusServiceServicer):
    async def GetRender(self, request, context):
        if request.render_id == "missing":
            raise errors.NotFound("no render with id 'missing' in this project")
        if request.render_id == "broken":
            raise RuntimeError("a bug")
        if request.render_id == "slow":
            await asyncio.Event().wait()
        return render_pb2.Render(id=request.render_id, project_id=request.project_id)


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def handled(family: str, code: str, labels=GET) -> float:
    return value(family, grpc_type=labels[0], grpc_service=labels[1], grpc_method=labels[2],
                 grpc_code=code)


@pytest.fixture
async def server(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / ADMIN).write_text(TOKEN + "\n")
    server, port, _ = service.create_server("127.0.0.1:0", ServerSecurity(str(tokens), "", "", ""))
    status_pb2_grpc.add_StatusServiceServicer_to_server(Renders(), server)
    await server.start()
    yield port
    await server.stop(None)


async def eventually(predicate, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def caller(tmp_path, token: str) -> ClientSecurity:
    path = tmp_path / f"token-{token[:4]}"
    path.write_text(token + "\n")
    return ClientSecurity(str(path), "")


async def call(port: int, security: ClientSecurity, render_id: str) -> grpc.StatusCode:
    async with service.channel(f"127.0.0.1:{port}", security) as channel:
        try:
            await status_pb2_grpc.StatusServiceStub(channel).GetRender(
                status_pb2.GetRenderRequest(project_id=PROJECT, render_id=render_id), timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("token", "render_id", "code"), [
    (TOKEN, "r1", "OK"),
    (TOKEN, "missing", "NOT_FOUND"),  # an ApiError, mapped by ApiErrorInterceptor
    (TOKEN, "broken", "UNKNOWN"),  # an exception nobody maps
    ("x" * 32, "r1", "UNAUTHENTICATED"),  # refused by internal_auth before any handler
])
async def test_each_call_is_counted_once_on_both_sides_with_its_code(server, tmp_path, token,
                                                                     render_id, code):
    before = {side: handled(f"grpc_{side}_handled_total", code) for side in ("server", "client")}
    started = value("grpc_server_started_total", grpc_type="unary",
                    grpc_service=GET[1], grpc_method=GET[2])
    assert (await call(server, caller(tmp_path, token), render_id)).name == code
    assert handled("grpc_client_handled_total", code) == before["client"] + 1
    # An abort sends the status before it raises: the server counts a moment after the client
    # has its answer.
    await eventually(lambda: handled("grpc_server_handled_total", code) == before["server"] + 1)
    assert value("grpc_server_started_total", grpc_type="unary", grpc_service=GET[1],
                 grpc_method=GET[2]) == started + 1
    assert value("grpc_server_handling_seconds_count", grpc_type="unary", grpc_service=GET[1],
                 grpc_method=GET[2]) > 0


async def test_a_caller_giving_up_cancels_the_call_and_both_sides_count_it(server, tmp_path):
    before = {side: handled(f"grpc_{side}_handled_total", "CANCELLED")
              for side in ("server", "client")}
    async with service.channel(f"127.0.0.1:{server}", caller(tmp_path, TOKEN)) as channel:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(status_pb2_grpc.StatusServiceStub(channel).GetRender(
                status_pb2.GetRenderRequest(project_id=PROJECT, render_id="slow"), timeout=30),
                0.2)
        assert handled("grpc_client_handled_total", "CANCELLED") == before["client"] + 1
        await eventually(lambda: handled("grpc_server_handled_total", "CANCELLED")
                         == before["server"] + 1)


async def test_health_checks_are_counted_and_unknown_methods_make_no_series(server):
    check = ("unary", "grpc.health.v1.Health", "Check")
    before = handled("grpc_server_handled_total", "OK", check)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server}") as channel:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        unknown = channel.unary_unary("/craftkit.v1.Nope/Random")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unknown(b"", timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert handled("grpc_server_handled_total", "OK", check) == before + 1
    exported = {s.labels.get("grpc_service") for m in REGISTRY.collect()
                if m.name.startswith("grpc_server") for s in m.samples}
    assert "craftkit.v1.Nope" not in exported


def test_the_declared_type_of_a_method_is_its_label():
    assert metrics.method_labels("/grpc.health.v1.Health/Watch")[0] == "server_stream"
    assert metrics.method_labels("/craftkit.v1.StatusService/GetRender") == GET


class FakePool:
    def __init__(self, stats: dict) -> None:
        self.stats = stats

    def get_stats(self) -> dict:
        return self.stats


def test_pool_metrics_are_read_at_scrape_time():
    collector = metrics.PoolCollector()
    pool = FakePool({"pool_size": 3, "pool_max": 10, "pool_available": 1})
    collector.pools.append(pool)
    read = {m.name: m.samples[0].value for m in collector.collect()}
    assert read == {"craftkit_db_pool_connections": 3, "craftkit_db_pool_max_connections": 10,
                    "craftkit_db_pool_idle_connections": 1,
                    "craftkit_db_pool_waiting_requests": 0, "craftkit_db_pool_timeouts": 0}
    pool.stats = {**pool.stats, "requests_waiting": 4, "requests_errors": 2}
    read = {m.name: m.samples[0].value for m in collector.collect()}
    assert read["craftkit_db_pool_waiting_requests"] == 4
    assert read["craftkit_db_pool_timeouts"] == 2


async def test_health_reported_by_watch_dependencies_is_exported():
    metrics.report_health(True, {"postgresql": True, "kafka": False})
    assert value("craftkit_serving") == 1
    assert value("craftkit_dependency_up", dependency="kafka") == 0
    assert value("craftkit_dependency_up", dependency="postgresql") == 1


WORKER = """
import os, prometheus_client
done = prometheus_client.Counter("craftkit_test_done_total", "d")
busy = prometheus_client.Gauge("craftkit_test_busy", "b", multiprocess_mode="livesum")
done.inc(3)
busy.inc(2)
"""


def test_the_workers_sum_keeps_a_dead_workers_counts_but_not_its_live_gauges(tmp_path):
    """GATEWAY_WORKERS > 1: a worker that died (uvicorn replaces it) leaves its requests counted
    and its requests in flight forgotten."""
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    registry = CollectorRegistry()
    metrics.Workers(str(tmp_path), registry)
    assert registry.get_sample_value("craftkit_test_done_total") == 3
    assert registry.get_sample_value("craftkit_test_busy") in (None, 0)


@pytest.mark.parametrize("listen", [":99999", "127.0.0.1:-1", "127.0.0.1:", "[::1"])
def test_a_metrics_listen_address_that_cannot_be_served_stops_the_process_saying_so(
        monkeypatch, listen):
    monkeypatch.setenv("METRICS_LISTEN", listen)
    with pytest.raises(SystemExit, match=f"METRICS_LISTEN {re.escape(listen)}: cannot listen"):
        metrics.serve_from_env()


def test_metrics_listen_takes_an_ipv6_address_in_brackets(monkeypatch):
    """`[::1]:9090`, as a URL writes it (and as `::1:9090` already worked)."""
    monkeypatch.setenv("METRICS_LISTEN", "[::1]:0")
    port = metrics.serve_from_env()
    assert port and httpx.get(f"http://[::1]:{port}/metrics").status_code == 200
