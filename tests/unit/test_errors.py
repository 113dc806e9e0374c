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
    (errors.PayloadTooLarge, 413), (errors.RateLimited, 429), (errors.Unavailable, 503),
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
