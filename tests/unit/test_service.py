"""gRPC servers and channels over TLS (certificates from trustme): the API only over TLS and with
a token, health on its own plaintext port for probes."""

from __future__ import annotations

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc

from craftkit import service
from craftkit.internal_auth import ADMIN, ClientSecurity, ServerSecurity
from craftkit.v1 import render_pb2, status_pb2, status_pb2_grpc

TOKEN = "t" * 32


class Renders(status_pb2_grpc.StatusServiceServicer):
    async def GetRender(self, request, context):
        return render_pb2.Render(id=request.render_id, project_id=request.project_id)


@pytest.fixture
def tls(tmp_path):
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
