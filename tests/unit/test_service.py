"""gRPC servers and channels over TLS (certificates from trustme): the API only over TLS and with
a token, health on its own plaintext port for probes. Health reporting: a dependency under its own
name; optional ones do not take a server out of service. Client channels: round_robin over every
address, retries of reads only."""

from __future__ import annotations

import asyncio
import logging

import grpc
import psycopg_pool
import pytest
import trustme
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from craftkit import internal_auth, service
from craftkit.internal_auth import ADMIN, ClientSecurity, ServerSecurity
from craftkit.v1 import render_pb2, status_pb2, status_pb2_grpc

TOKEN = "t" * 32


class Renders(status_pb2_grpc.StatusServiceServicer):
    async def GetRender(self, request, context):
        return render_pb2.Render(id=request.render_id, project_id=request.project_id)


@pytest.fixture
def tls(tmp_path, monkeypatch):
    monkeypatch.setattr(internal_auth, "RECHECK_SECONDS", 0.0)  # a renewal seen at once
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {name: tmp_path / name for name in ("ca.crt", "tls.crt", "tls.key", "token")}
    ca.cert_pem.write_to_path(str(paths["ca.crt"]))
    cert.private_key_pem.write_to_path(str(paths["tls.key"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["tls.crt"]))
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / ADMIN).write_text(TOKEN + "\n")
    paths["token"].write_text(TOKEN + "\n")
    return paths, tokens


async def test_tls_serves_the_api_to_a_caller_with_the_ca_and_health_on_a_plaintext_port(tls):
    paths, tokens = tls
    server, port, health = service.create_server("127.0.0.1:0", ServerSecurity(
        str(tokens), str(paths["tls.crt"]), str(paths["tls.key"]), "127.0.0.1:0"))
    status_pb2_grpc.add_StatusServiceServicer_to_server(Renders(), server)
    await server.start()
    try:
        caller = ClientSecurity(str(paths["token"]), str(paths["ca.crt"]))
        request = status_pb2.GetRenderRequest(project_id="00000000-0000-0000-0000-000000000001",
                                              render_id="r1")
        async with service.channel(f"localhost:{port}", caller) as channel:
            render = await status_pb2_grpc.StatusServiceStub(channel).GetRender(request, timeout=5)
        assert render.id == "r1"
        plaintext = ClientSecurity(str(paths["token"]), "")
        async with service.channel(f"127.0.0.1:{port}", plaintext) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await status_pb2_grpc.StatusServiceStub(channel).GetRender(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.probe_port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:  # the probe port serves health only
                await status_pb2_grpc.StatusServiceStub(channel).GetRender(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(None)


async def test_a_renewed_certificate_is_served_without_a_restart(tls):
    """cert-manager rewrites tls.crt and tls.key in place: the next connection gets the new
    certificate (here from another CA, so the old CA no longer verifies it)."""
    paths, tokens = tls
    server, port, _ = service.create_server("127.0.0.1:0", ServerSecurity(
        str(tokens), str(paths["tls.crt"]), str(paths["tls.key"]), ""))
    status_pb2_grpc.add_StatusServiceServicer_to_server(Renders(), server)
    await server.start()
    request = status_pb2.GetRenderRequest(project_id="00000000-0000-0000-0000-000000000001",
                                          render_id="r1")

    async def code_with(ca_file) -> grpc.StatusCode:
        caller = ClientSecurity(str(paths["token"]), str(ca_file))
        async with service.channel(f"localhost:{port}", caller) as channel:
            try:
                await status_pb2_grpc.StatusServiceStub(channel).GetRender(request, timeout=5)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
        return grpc.StatusCode.OK

    try:
        assert await code_with(paths["ca.crt"]) == grpc.StatusCode.OK
        renewed = trustme.CA()
        cert = renewed.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(paths["tls.key"]))
        cert.cert_chain_pems[0].write_to_path(str(paths["tls.crt"]))
        renewed.cert_pem.write_to_path(str(paths["ca.crt"].with_name("renewed-ca.crt")))
        assert await code_with(paths["ca.crt"].with_name("renewed-ca.crt")) == grpc.StatusCode.OK
        assert await code_with(paths["ca.crt"]) == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def status_of(servicer: health.aio.HealthServicer, name: str) -> int:
    request = health_pb2.HealthCheckRequest(service=name)
    return (await servicer.Check(request, None)).status


async def until(predicate, timeout: float = 5.0) -> None:
    """Polls an async predicate until it holds (fails the test after `timeout` seconds)."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.01)


async def test_an_optional_dependency_down_shows_by_name_and_the_server_stays_ready(caplog):
    kafka_up = asyncio.Event()

    async def kafka() -> bool:
        if not kafka_up.is_set():
            raise RuntimeError("NotEnoughReplicasError: too few in-sync replicas")
        return True

    async def postgresql() -> bool:
        return True

    servicer = health.aio.HealthServicer()
    caplog.set_level(logging.INFO, logger="craftkit.service")
    watching = asyncio.create_task(service.watch_dependencies(
        servicer, ["craftkit.v1.EnqueueService"], {"postgresql": postgresql, "kafka": kafka},
        interval=0.01, optional=("kafka",)))
    try:
        await until(lambda: _is(servicer, "kafka", NOT_SERVING))
        for name in ("", "craftkit.v1.EnqueueService", "postgresql", "liveness"):
            assert await status_of(servicer, name) == SERVING, name
        assert "kafka NOT_SERVING: NotEnoughReplicasError: too few in-sync replicas" in caplog.text

        kafka_up.set()
        await until(lambda: _is(servicer, "kafka", SERVING))
        assert "kafka SERVING" in caplog.text
    finally:
        await service.cancel([watching])


async def test_a_required_dependency_down_takes_the_server_out_of_service():
    async def postgresql() -> bool:
        return False

    servicer = health.aio.HealthServicer()
    watching = asyncio.create_task(service.watch_dependencies(
        servicer, ["craftkit.v1.StatusService"], {"postgresql": postgresql}, interval=0.01))
    try:
        await until(lambda: _is(servicer, "", NOT_SERVING))
        assert await status_of(servicer, "craftkit.v1.StatusService") == NOT_SERVING
        assert await status_of(servicer, "postgresql") == NOT_SERVING
        assert await status_of(servicer, "liveness") == SERVING
    finally:
        await service.cancel([watching])


async def _is(servicer, name: str, status: int) -> bool:
    try:
        return await status_of(servicer, name) == status
    except Exception:  # noqa: BLE001 - not reported yet (NOT_FOUND)
        return False


class Flaky(status_pb2_grpc.StatusServiceServicer):
    """Answers UNAVAILABLE to the first `failures` calls of each method, as a pod that is
    stopping would; counts the calls it saw."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name, self.failures = name, failures
        self.calls: dict[str, int] = {}

    async def _answer(self, method: str, context) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.calls[method] <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} is stopping")

    async def GetRender(self, request, context):
        await self._answer("GetRender", context)
        return render_pb2.Render(id=self.name)

    async def StartRender(self, request, context):
        await self._answer("StartRender", context)
        return status_pb2.StartRenderResponse()


@pytest.fixture
def caller(tmp_path) -> ClientSecurity:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    return ClientSecurity(str(token), "")


@pytest.fixture
async def servers():
    started = []

    async def start(servicer: Flaky, interceptors=()) -> int:
        server = grpc.aio.server(interceptors=interceptors)
        status_pb2_grpc.add_StatusServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        started.append(server)
        return port

    yield start
    for server in started:
        await server.stop(None)


async def test_a_read_is_retried_on_unavailable_and_a_write_is_not(servers, caller):
    flaky = Flaky("pod-a", failures=1)
    port = await servers(flaky)
    async with service.channel(f"127.0.0.1:{port}", caller) as channel:
        stub = status_pb2_grpc.StatusServiceStub(channel)
        assert (await stub.GetRender(status_pb2.GetRenderRequest(), timeout=10)).id == "pod-a"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.StartRender(status_pb2.StartRenderRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert flaky.calls == {"GetRender": 2, "StartRender": 1}


class DatabaseDown(Flaky):
    """Every call waits for a pool connection in vain, as when PostgreSQL is away."""

    async def GetRender(self, request, context):
        self.calls["GetRender"] = self.calls.get("GetRender", 0) + 1
        raise psycopg_pool.PoolTimeout("couldn't get a connection after 3.00 sec")


async def test_a_read_is_not_retried_when_the_database_is_down(servers, caller):
    """Each replica shares the one database: retrying the read would only multiply the pool's
    wait until the caller's deadline passes (a 504 instead of a quick 503)."""
    down = DatabaseDown("pod-a")
    port = await servers(down, [service.ApiErrorInterceptor()])
    async with service.channel(f"127.0.0.1:{port}", caller) as channel:
        stub = status_pb2_grpc.StatusServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetRender(status_pb2.GetRenderRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "database is unavailable" in refused.value.details()
    assert down.calls == {"GetRender": 1}


async def test_calls_are_spread_over_every_address_of_the_name(servers, caller):
    a, b = Flaky("pod-a"), Flaky("pod-b")
    addresses = [f"127.0.0.1:{await servers(a)}", f"127.0.0.1:{await servers(b)}"]
    async with service.channel("ipv4:" + ",".join(addresses), caller) as channel:
        stub = status_pb2_grpc.StatusServiceStub(channel)
        answered = {(await stub.GetRender(status_pb2.GetRenderRequest(), timeout=10)).id
                    for _ in range(10)}
    assert answered == {"pod-a", "pod-b"}  # pick_first would send all ten to one
    assert a.calls["GetRender"] + b.calls["GetRender"] == 10


async def test_a_dns_address_is_resolved_and_used(servers, caller):
    flaky = Flaky("pod-a")
    port = await servers(flaky)
    async with service.channel(f"dns:///localhost:{port}", caller) as channel:
        stub = status_pb2_grpc.StatusServiceStub(channel)
        assert (await stub.GetRender(status_pb2.GetRenderRequest(), timeout=10)).id == "pod-a"
