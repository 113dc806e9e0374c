"""Every documented error: the code, the HTTP status, a message that says what to fix, and no
render created."""

from __future__ import annotations

import json
import socket
import time
import uuid

from pathlib import Path

import httpx
import pytest

from craftkit.devstack import free_port
from tests.integration.conftest import invoice
from tests.integration.scraped import Scrape


def error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_invalid_json(api):
    response = api.http.post("/v1/templates/invoice/render", content=b'{"data": {',
                             headers={"content-type": "application/json"})
    assert "not valid JSON" in error(response, 400, "invalid_json")["message"]


@pytest.mark.parametrize("body", ["NaN", '{"data": {"total": Infinity}}'])
def test_non_standard_json_numbers_are_invalid_json(api, body):
    error(api.http.post("/v1/templates/invoice/render", content=body.encode()), 400, "invalid_json")


@pytest.mark.parametrize("body, field", [
    ([], None),
    ({}, "data"),
    ({"data": []}, "data"),
    ({"data": {}, "extra": 1}, "extra"),
    ({"data": {}, "options": {"sync": "yes"}}, "options.sync"),
    ({"data": {}, "options": {"versionNumber": "3"}}, "options.versionNumber"),
    ({"data": {}, "options": {"versionNumber": 0}}, "options.versionNumber"),
    ({"data": {}, "options": {"versionNumber": True}}, "options.versionNumber"),
    ({"data": {}, "options": {"colour": "red"}}, "options.colour"),
    ({"data": {}, "options": []}, "options"),
])
def test_invalid_request_shapes(api, body, field):
    details = error(api.http.post("/v1/templates/invoice/render", json=body), 400, "invalid_request")
    if field:
        assert field in details["issues"]["fieldErrors"]


@pytest.mark.parametrize("filename", ["../etc/passwd", "a/b.pdf", "x\n.pdf", "", "z" * 300])
def test_unsafe_filenames_are_invalid_request(api, filename):
    response = api.render(invoice(), filename=filename)
    assert "filename" in error(response, 400, "invalid_request")["message"]


def test_invalid_input_data_lists_every_offending_path(api):
    response = api.render({"customer": {"name": 7},
                           "items": [{"name": "ok", "qty": 1, "price": 1},
                                     {"name": "bad", "qty": 1.5, "price": "9"},
                                     {"qty": 2, "price": 1}],
                           "surprise": True})
    issues = error(response, 400, "invalid_input_data")["issues"]
    assert issues["fieldErrors"] == {
        "customer.name": ["Expected string, received number"],
        "items.1.qty": ["Expected integer, received float"],
        "items.1.price": ["Expected number, received string"],
        "items.2.name": ["Required"],
        "total": ["Required"],
    }
    assert issues["formErrors"] == ["Unrecognized key(s) in object: 'surprise'"]


def test_template_not_found(api):
    error(api.render(invoice(), slug="no-such-template"), 404, "template_not_found")


def test_version_not_found(api):
    details = error(api.render(invoice(), versionNumber=99), 404, "version_not_found")
    assert "99" in details["message"]


def test_no_published_version(api):
    created = api.http.post("/v1/templates", json={"slug": "draft-only"})
    assert created.status_code == 201
    error(api.render({}, slug="draft-only"), 409, "no_published_version")


def test_unpublished_version_cannot_be_pinned(api):
    template = api.http.get("/v1/templates/invoice").json()
    v1 = template["versions"][0]
    api.http.post("/v1/templates/invoice/versions", json={"manifest": v1["manifest"],
                                                          "layout": v1["layout"]})
    error(api.render(invoice(), versionNumber=2), 404, "version_not_found")


@pytest.mark.parametrize("render_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_render_is_not_found(api, render_id):
    error(api.http.get(f"/v1/renders/{render_id}"), 404, "not_found")


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer ck_live_nope"},
                                     {"authorization": "Basic abc"}, {"authorization": "Bearer"}])
def test_missing_or_unknown_key_is_401(stack, headers):
    response = httpx.post(f"{stack.base_url}/v1/templates/invoice/render", headers=headers,
                          json={"data": invoice()})
    error(response, 401, "unauthorized")
    error(httpx.get(f"{stack.base_url}/v1/renders/{uuid.uuid4()}", headers=headers), 401,
          "unauthorized")


def test_body_over_the_limit_is_413(api):
    big = {"data": {"blob": "x" * (1024 * 1024 + 1)}}
    error(api.http.post("/v1/templates/invoice/render", json=big), 413, "payload_too_large")


def test_unknown_route_and_method_use_the_envelope(api):
    error(api.http.get("/v1/nothing-here"), 404, "not_found")
    error(api.http.delete("/v1/templates/invoice/render"), 405, "method_not_allowed")


def test_rejected_requests_create_no_render(api):
    """A request with a bad body changes nothing: the same body made valid gets a fresh render,
    not one left over from a failed attempt (the dedupe key would have found it)."""
    data = invoice()
    bad = {**data, "total": "free"}
    error(api.render(bad), 400, "invalid_input_data")
    ok = api.render(data)
    assert ok.status_code == 202 and ok.json()["status"] == "queued"


NO_ID = "00000000-0000-0000-0000-000000000000"
BIG = 2**31


@pytest.mark.parametrize("method, path, body, status, code, field", [
    # integers past int32, and negatives, before protobuf sees them
    ("POST", "/v1/templates/invoice/render", {"data": {}, "options": {"versionNumber": BIG}},
     400, "invalid_request", "options.versionNumber"),
    ("POST", "/v1/templates/invoice/inbound-hooks", {"versionNumber": BIG}, 400,
     "invalid_request", "versionNumber"),
    ("POST", "/v1/templates/invoice/inbound-hooks", {"versionNumber": -5}, 400,
     "invalid_request", "versionNumber"),
    ("POST", f"/v1/templates/invoice/versions/{BIG}/publish", None, 400, "invalid_request",
     "number"),
    ("GET", f"/v1/templates/invoice/versions/{'9' * 5000}/schema", None, 400, "invalid_request",
     "number"),
    ("GET", "/v1/templates/invoice/versions/-1/schema", None, 400, "invalid_request", "number"),
    ("GET", "/v1/templates/invoice/versions/abc/schema", None, 404, "not_found", None),
    ("GET", f"/v1/webhooks/{NO_ID}/deliveries?limit={BIG}", None, 400, "invalid_request",
     "limit"),
    ("GET", f"/v1/webhooks/{NO_ID}/deliveries?limit=%EF%BC%91%EF%BC%92", None, 400,
     "invalid_request", "limit"),  # "１２"
    ("GET", f"/v1/webhooks/{NO_ID}/deliveries?limit=%D9%A3", None, 400, "invalid_request",
     "limit"),  # "٣"
    ("POST", f"/v1/webhooks/{NO_ID}/rotate-secret", {"overlapSeconds": 2**63}, 400,
     "invalid_request", "overlapSeconds"),
    # what JSON carries but nothing downstream can store
    ("POST", "/v1/templates/invoice/render", b'{"data": {"total": 1e400}}', 400, "invalid_json",
     "data.total"),
    ("POST", "/v1/templates/invoice/render", b'{"data": {"a": "\\ud800"}}', 400, "invalid_json",
     "data.a"),
    ("POST", "/v1/templates", b'{"slug": "s", "name": "\\udc00"}', 400, "invalid_json", "name"),
    ("POST", "/v1/templates/invoice/render", b'{"data": {"a": ["x\\u0000"]}}', 400,
     "invalid_request", "data.a.0"),
    ("POST", "/v1/templates", {"slug": "nul-name", "name": "a\x00b"}, 400, "invalid_request",
     "name"),
    ("POST", "/v1/webhooks", {"url": "http://example.com/\x00"}, 400, "invalid_request", "url"),
    ("POST", "/v1/templates/invoice/render",
     b'{"data": {"a": ' + b"[" * 500 + b"]" * 500 + b"}}", 400, "invalid_request", None),
    ("POST", "/v1/templates/invoice/render", b"[" * 100_000, 400, "invalid_json", None),
    ("POST", "/v1/templates/invoice/render", b'{"data": {"a": "\xed\xa0\x80"}}', 400,
     "invalid_json", None),  # not UTF-8 (an encoded surrogate)
    ("POST", "/v1/templates/invoice/render", b'"just a string"', 400, "invalid_request", None),
    # lengths
    ("POST", "/v1/templates", {"slug": "big-name", "name": "n" * 1_000_000}, 400,
     "invalid_request", "name"),
    ("POST", "/v1/templates", {"slug": "s" * 5000}, 400, "invalid_request", "slug"),
    ("POST", "/v1/webhooks", {"url": "https://example.com/" + "p" * 5000}, 400,
     "invalid_request", "url"),
    ("GET", "/v1/templates/" + "s" * 5000, None, 400, "invalid_request", "slug"),
    ("GET", "/v1/templates/a%00b", None, 400, "invalid_request", "slug"),
    ("GET", "/v1/renders/" + "r" * 5000, None, 404, "not_found", None),
    ("DELETE", "/v1/webhooks/" + "w" * 5000, None, 404, "not_found", None),
    ("POST", f"/v1/webhooks/{NO_ID}/deliveries/{'d' * 5000}/redeliver", None, 404, "not_found",
     None),
    ("POST", f"/v1/hooks/{'h' * 5000}/token", {}, 401, "unauthorized", None),
    ("PUT", "/v1/templates/invoice/assets/" + "a" * 5000, b"png", 400, "invalid_request", "name"),
])
def test_hostile_input_gets_its_documented_error(api, method, path, body, status, code, field):
    """Each of these answered 500 (or was accepted) before: int32 overflow in protobuf, Infinity
    into jsonb, RecursionError, UnicodeEncodeError, PostgreSQL refusing NUL, 5 KB ids echoed into
    gRPC metadata."""
    content = body if isinstance(body, bytes) else None
    response = api.http.request(method, path, content=content,
                                json=None if content is not None or body is None else body)
    details = error(response, status, code)
    if field:
        assert field in details["issues"]["fieldErrors"]
        assert field in details["message"] or field.split(".")[-1] in details["message"]
    assert len(details["message"]) < 300  # never echoes the 5 KB input


def test_refused_hostile_bodies_change_nothing(api):
    error(api.http.post("/v1/templates", json={"slug": "nul-name", "name": "a\x00b"}), 400,
          "invalid_request")
    error(api.http.get("/v1/templates/nul-name"), 404, "template_not_found")
    error(api.http.post("/v1/webhooks", json={"url": "http://example.com/\x00"}), 400,
          "invalid_request")
    assert api.http.get("/v1/webhooks").json()["webhooks"] == []


def test_content_type_is_not_required_and_duplicate_keys_keep_the_last(api):
    """Documented choices: the body is parsed as JSON whatever the Content-Type says, and a
    repeated key keeps its last value (so the render is of the last `data`)."""
    data = invoice()
    body = f'{{"data": {{"total": "bad"}}, "data": {json.dumps(data)}}}'.encode()
    response = api.http.post("/v1/templates/invoice/render", content=body,
                             headers={"content-type": "text/plain"})
    assert response.status_code == 202, response.text


def raw(address: str, request: bytes, timeout: float = 30) -> bytes:
    """Sends `request` as is and returns all the server sends until it closes the connection
    (a server that holds it fails the test at `timeout`)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def envelope(answer: bytes, status: int, code: str) -> dict:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == code
    return json.loads(body)["error"]


IMPATIENT_METRICS = f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def impatient_gateway(stack):
    with stack.extra("gateway", {"HEADER_TIMEOUT_SECONDS": "0.5", "BODY_TIMEOUT_SECONDS": "0.5",
                                 "METRICS_LISTEN": IMPATIENT_METRICS}) as address:
        yield address


def test_a_half_sent_header_is_dropped(impatient_gateway):
    assert raw(impatient_gateway, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ") == b""
    assert raw(impatient_gateway, b"") == b""  # a connection that never says anything


def test_an_idle_keep_alive_connection_is_not_taken_for_a_slow_header(impatient_gateway):
    """The header timeout runs from a request's first byte: a client idle between requests for
    longer than it (but within uvicorn's 5 s keep-alive) keeps its connection."""
    host, port = impatient_gateway.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        for _ in range(2):
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                chunk = conn.recv(65536)
                assert chunk, f"connection closed after {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")
            time.sleep(1)  # idle, twice the header timeout: the behaviour under test


def test_a_body_shorter_than_its_content_length_gets_408(api, impatient_gateway):
    request = (f"POST /v1/templates/invoice/render HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {api.key}\r\nContent-Length: 100\r\n\r\n"
               '{"data": ').encode()
    details = envelope(raw(impatient_gateway, request), 408, "request_timeout")
    assert "Content-Length" in details["message"]


def test_a_request_answered_before_its_late_body_gets_one_answer(impatient_gateway):
    """An unknown key is answered 401 without reading the body; when the rest of the body never
    comes the connection is closed, with no second (408) answer after the first."""
    request = (b"POST /v1/templates/invoice/render HTTP/1.1\r\nHost: x\r\n"
               b"Authorization: Basic nope\r\nContent-Length: 100\r\n\r\n{")
    answer = raw(impatient_gateway, request)
    envelope(answer, 401, "unauthorized")
    assert answer.count(b"HTTP/1.1 ") == 1


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n",
    b"GET /v1/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 70_000,
])
def test_protocol_garbage_gets_a_400_in_the_envelope(impatient_gateway, request_bytes):
    envelope(raw(impatient_gateway, request_bytes), 400, "invalid_request")


def test_a_whole_header_over_the_limit_in_one_read_gets_a_400_too(impatient_gateway):
    """Sent at once, a complete 100 kB header used to reach the application (the size was
    counted only while the header was still incomplete)."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 100_000 + b"\r\n\r\n"
    assert "over 65536 bytes" in envelope(raw(impatient_gateway, request), 400,
                                          "invalid_request")["message"]


def test_protocol_garbage_is_counted_and_logged_under_its_request_id(stack, impatient_gateway):
    """A request the protocol refuses (here an unknown method) never reaches the middleware; it
    is still a request the operator sees: in the request metrics and as an access line holding
    the requestId its client was given."""
    def count() -> float:
        return Scrape(f"http://{IMPATIENT_METRICS}/metrics").value(
            "craftkit_http_request_duration_seconds_count", route="unmatched", method="other",
            status="400")

    before = count()
    request_id = envelope(raw(impatient_gateway, b"BREW /v1/renders HTTP/1.1\r\nHost: x\r\n\r\n"),
                          400, "invalid_request")["requestId"]
    assert count() == before + 1
    lines = [json.loads(line) for line in
             Path(stack.infra.log("gateway-extra")).read_text(errors="replace").splitlines()
             if line.startswith("{") and request_id in line]
    assert [(line["logger"], line["status"], line["route"]) for line in lines] == [
        ("services.gateway.access", 400, "unmatched")]


@pytest.fixture(scope="module")
def strict_gateway(stack):
    with stack.extra("gateway", {"AUTH_FAILURE_RATE_PER_SECOND": "0.01",
                                 "AUTH_FAILURE_BURST": "3"}) as address:
        yield f"http://{address}"


def test_failed_authentications_are_limited_per_client_address(api, strict_gateway):
    """Unknown keys cost the database a lookup each: past the burst an address gets 429 with
    the real wait, without a lookup; another address and a known key are not affected."""
    hammer = {"authorization": "Bearer ck_live_guess", "x-forwarded-for": "203.0.113.5"}
    for _ in range(3):
        error(httpx.get(f"{strict_gateway}/v1/templates", headers=hammer), 401, "unauthorized")
    refused = httpx.get(f"{strict_gateway}/v1/templates", headers=hammer)
    error(refused, 429, "rate_limited")
    assert 90 < int(refused.headers["retry-after"]) <= 100  # 1 token / 0.01 per second, rounded up
    other = {**hammer, "x-forwarded-for": "203.0.113.6"}
    error(httpx.get(f"{strict_gateway}/v1/templates", headers=other), 401, "unauthorized")
    known = {"authorization": f"Bearer {api.key}", "x-forwarded-for": "203.0.113.6"}
    assert httpx.get(f"{strict_gateway}/v1/templates", headers=known).status_code == 200


def test_failed_inbound_hook_resolutions_are_limited_too(strict_gateway):
    url = f"{strict_gateway}/v1/hooks/{uuid.uuid4()}/not-the-token"
    headers = {"x-forwarded-for": "203.0.113.7"}
    for _ in range(3):
        error(httpx.post(url, headers=headers, json={}), 401, "unauthorized")
    error(httpx.post(url, headers=headers, json={}), 429, "rate_limited")
