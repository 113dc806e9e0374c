import grpc
import pytest

from craftkit import errors


class FakeCall(grpc.aio.AioRpcError):
    """An AioRpcError as a client sees it, built from a server-side status."""

    def __init__(self, status: grpc.Status) -> None:
        super().__init__(status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata),
                         details=status.details)


@pytest.mark.parametrize("cls, http", [
    (errors.InvalidJson, 400), (errors.InvalidRequest, 400), (errors.InvalidInputData, 400),
    (errors.Unauthorized, 401), (errors.NotFound, 404), (errors.TemplateNotFound, 404),
    (errors.VersionNotFound, 404), (errors.NoPublishedVersion, 409), (errors.TemplateExists, 409),
    (errors.PayloadTooLarge, 413), (errors.RequestTimeout, 408), (errors.RateLimited, 429),
    (errors.Unavailable, 503),
])
def test_every_error_survives_grpc_and_maps_to_its_http_status(cls, http):
    sent = cls("what to fix", field_errors={"items.0.qty": ["Required"]}, form_errors=["Bad"])
    received = errors.from_rpc_error(FakeCall(errors.to_status(sent)))
    assert type(received) is cls
    assert received.body() == sent.body()
    assert errors.http_status(received) == http


def test_a_bare_grpc_failure_becomes_a_generic_error():
    received = errors.from_rpc_error(grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="down"))
    assert received.code == "unavailable" and errors.http_status(received) == 503
    received = errors.from_rpc_error(grpc.aio.AioRpcError(
        grpc.StatusCode.UNKNOWN, grpc.aio.Metadata(), grpc.aio.Metadata(), details="boom"))
    assert errors.http_status(received) == 500 and "boom" not in received.message


def test_the_envelope():
    body = errors.InvalidInputData("bad", field_errors={"a": ["Required"]}).body()
    assert body == {"error": {"code": "invalid_input_data", "message": "bad",
                              "issues": {"formErrors": [], "fieldErrors": {"a": ["Required"]}}}}
    assert errors.NotFound("gone").body() == {"error": {"code": "not_found", "message": "gone"}}


def test_shorten_quotes_at_most_about_a_hundred_characters():
    assert errors.shorten("abc") == "'abc'"
    long = errors.shorten("x" * 5000)
    assert long.startswith("'xxx") and len(long) < 140 and "4902 more characters" in long


@pytest.mark.parametrize("error", [
    errors.TemplateNotFound(f"no template with slug {'s' * 5000!r} in this project"),
    errors.NotFound("🙂" * 5000),
    errors.InvalidInputData("bad", field_errors={f"items.{i}.{'k' * 300}": ["é" * 500]
                                                 for i in range(2000)}),
    errors.InvalidTemplate("bad", form_errors=["🙂" * 3000] * 50),
])
async def test_a_huge_error_still_crosses_grpc(error):
    """Clients refuse status metadata over 8 KiB: before the caps, a 5 KB slug echoed in a
    message turned a 404 into a 500. Through a real server and channel here."""
    async def fail(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort_with_status(errors.to_status(error))

    server = grpc.aio.server()
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Errors", {"Fail": grpc.unary_unary_rpc_method_handler(fail)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Errors/Fail")(b"", timeout=10)
    finally:
        await server.stop(grace=1)
    received = errors.from_rpc_error(caught.value)
    assert type(received) is type(error)
    assert errors.http_status(received) == errors.http_status(error)
    assert received.message[:50] == error.message[:50]
    problems = [m for ms in received.field_errors.values() for m in ms] + received.form_errors
    assert bool(problems) == bool(error.field_errors or error.form_errors)
    if len(problems) < len(error.form_errors) + sum(map(len, error.field_errors.values())):
        assert received.form_errors[-1].endswith("more problems")
