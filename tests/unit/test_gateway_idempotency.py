"""What the gateway keeps for an Idempotency-Key: the request's fingerprint and which answers are
stored (the flow itself runs against real servers in tests/integration/test_idempotency.py)."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from craftkit.v1 import idempotency_pb2
from services.gateway.idempotency import (fingerprint, lease_ms, replay, seal, storage_key,
                                          stored, unseal)


def request(method: str = "POST", path: str = "/v1/templates", query: str = "") -> Request:
    return Request({"type": "http", "method": method, "path": path,
                    "query_string": query.encode(), "headers": [], "scheme": "http",
                    "server": ("api", 80)})


def test_the_fingerprint_covers_method_path_query_and_body_bytes():
    base = fingerprint(request(), b'{"slug":"a"}')
    assert base == fingerprint(request(), b'{"slug":"a"}')
    assert len({base, fingerprint(request("PUT"), b'{"slug":"a"}'),
                fingerprint(request(path="/v1/webhooks"), b'{"slug":"a"}'),
                fingerprint(request(query="x=1"), b'{"slug":"a"}'),
                fingerprint(request(), b'{"slug": "a"}')}) == 5


@pytest.mark.parametrize("status, kept", [(200, True), (201, True), (202, True), (400, True),
                                          (404, True), (409, True), (422, True), (408, False),
                                          (429, False), (500, False), (503, False)])
def test_answers_to_the_request_are_stored_and_passing_ones_are_not(status, kept):
    assert stored(JSONResponse({}, status_code=status)) is kept


def test_a_streamed_answer_is_not_stored():
    assert not stored(StreamingResponse(iter([b"x"])))


def test_a_replay_repeats_status_body_and_kept_headers_and_says_so():
    answer = replay(idempotency_pb2.StoredResponse(
        status=202, body=seal("k1", b'{"id":"r"}'),
        headers={"content-type": "application/json", "location": "/v1/renders/r"}), "k1")
    assert isinstance(answer, Response)
    assert (answer.status_code, answer.body) == (202, b'{"id":"r"}')
    assert answer.headers["location"] == "/v1/renders/r"
    assert answer.headers["idempotent-replayed"] == "true"


def test_a_reservation_outlasts_the_longest_request():
    assert lease_ms(30) > (30 + 2 * 10) * 1000


def test_a_stored_body_opens_only_with_its_key_and_the_key_is_stored_hashed():
    sealed = seal("key-1", b'{"key":"ck_secret"}')
    assert b"ck_secret" not in sealed and sealed != seal("key-1", b'{"key":"ck_secret"}')
    assert unseal("key-1", sealed) == b'{"key":"ck_secret"}'
    with pytest.raises(ValueError, match="MAC check failed"):
        unseal("key-2", sealed)
    assert storage_key("key-1") == storage_key("key-1") != storage_key("Key-1")
    assert "key-1" not in storage_key("key-1") and len(storage_key("key-1")) == 64
