"""Request ids on the real stack: every answer names its request (x-request-id, and requestId in
error bodies), a client's own id is kept when it is a sane one, and one id finds the request in
the gateway's access log and the enqueue service's log; the worker's lines name the render."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import eventually, invoice

NEW_ID = re.compile(r"[0-9a-f]{32}")


def request_id(response: httpx.Response) -> str:
    """The answer's x-request-id; an error body must name the same one."""
    rid = response.headers["x-request-id"]
    if response.status_code >= 400:
        assert response.json()["error"]["requestId"] == rid, response.text
    return rid


def json_lines(path: str) -> list[dict]:
    """The JSON lines of a service's log (the supervisor's start markers are not JSON)."""
    found = []
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


@pytest.fixture(scope="module")
def limited_gateway(stack):
    """A gateway whose API keys may make one request, then get 429."""
    with stack.extra("gateway", {"RATE_LIMIT_PER_SECOND": "0.01", "RATE_LIMIT_BURST": "1"}) as at:
        yield f"http://{at}"


def test_every_answer_carries_a_request_id(api, stack, limited_gateway):
    base = stack.base_url
    answers = {
        200: httpx.get(f"{base}/healthz"),
        202: api.render(invoice()),
        401: httpx.get(f"{base}/v1/templates"),
        404: api.http.get("/v1/no-such-route"),
        405: api.http.put("/v1/templates"),
        413: api.http.post("/v1/templates/invoice/render", content=b"x" * (1024 * 1024 + 1),
                           headers={"content-type": "application/json"}),
    }
    keyed = {"authorization": f"Bearer {api.key}"}
    assert httpx.get(f"{limited_gateway}/v1/templates", headers=keyed).status_code == 200
    answers[429] = httpx.get(f"{limited_gateway}/v1/templates", headers=keyed)
    ids = set()
    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.text)
        rid = request_id(answer)
        assert NEW_ID.fullmatch(rid), rid
        ids.add(rid)
    assert len(ids) == len(answers)  # one per request


def test_static_files_and_docs_carry_a_request_id(stack):
    for path in ("/docs/", "/dashboard/", "/v1/openapi.json"):
        answer = httpx.get(f"{stack.base_url}{path}")
        assert answer.status_code == 200 and NEW_ID.fullmatch(answer.headers["x-request-id"])


def test_a_clients_sane_id_is_kept_and_others_replaced(api):
    mine = f"client-{uuid.uuid4().hex[:12]}:1.2_3"
    assert request_id(api.http.get("/v1/templates", headers={"x-request-id": mine})) == mine
    error = api.http.get("/v1/renders/00000000-0000-7000-8000-000000000000",
                         headers={"x-request-id": mine})
    assert error.status_code == 404 and request_id(error) == mine
    for bad in ("x" * 65, "with space", "tab\there", "ünïcode".encode()):
        answer = api.http.get("/v1/templates", headers={"x-request-id": bad})
        assert answer.status_code == 200 and NEW_ID.fullmatch(request_id(answer)), bad


def test_a_line_break_in_the_id_gets_a_new_one(stack):
    """A header folded over two lines (the only way to send a line break in one) never comes
    back: the answer, whoever gives it, names a new id."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n def\r\n"
                     b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    ids = re.findall(r"^x-request-id: (.*)$", head, re.M)
    assert len(ids) == 1 and NEW_ID.fullmatch(ids[0].strip()), head


def test_one_id_finds_the_request_in_gateway_enqueue_and_worker_logs(api, stack):
    rid = f"trace-me-{uuid.uuid4().hex}"
    answer = api.http.post("/v1/templates/invoice/render", json={"data": invoice()},
                           headers={"x-request-id": rid})
    assert answer.status_code == 202 and request_id(answer) == rid
    render_id = answer.json()["id"]
    api.wait(render_id)

    def access_line():
        return [line for line in json_lines(stack.infra.log("gateway"))
                if line.get("request_id") == rid and line["logger"] == "services.gateway.access"]

    [access] = eventually(access_line, what="the gateway's access line")
    assert access["route"] == "/v1/templates/{slug}/render" and access["method"] == "POST"
    assert access["status"] == 202 and access["project_id"] == api.project_id
    assert access["duration_ms"] >= 0 and access["bytes"] > 0
    assert access["level"] == "info" and access["service"] == "gateway"

    enqueue = [line for line in json_lines(stack.infra.log("enqueue"))
               if line.get("render_id") == render_id]
    assert enqueue and all(line["request_id"] == rid for line in enqueue), enqueue
    assert enqueue[0]["project_id"] == api.project_id

    worker = eventually(lambda: [line for line in json_lines(stack.infra.log("render_worker"))
                                 if line.get("render_id") == render_id],
                        what="a worker line naming the render")
    assert all(line["project_id"] == api.project_id for line in worker)


def test_health_probes_are_not_in_the_access_log(stack):
    rid = f"probe-{uuid.uuid4().hex}"
    assert httpx.get(f"{stack.base_url}/readyz", headers={"x-request-id": rid}).status_code == 200
    marker = f"marker-{uuid.uuid4().hex}"
    httpx.get(f"{stack.base_url}/v1/templates", headers={"x-request-id": marker})
    eventually(lambda: any(line.get("request_id") == marker
                           for line in json_lines(stack.infra.log("gateway"))),
               what="the access line of the request after the probe")
    assert not [line for line in json_lines(stack.infra.log("gateway"))
                if line.get("request_id") == rid]


def test_each_webhook_attempt_is_logged_naming_render_and_endpoint_not_url(api, stack, receiver):
    """Two attempts (the receiver fails the first): two lines naming the render, the project,
    the endpoint and the delivery; neither the URL's query string nor the secret."""
    query = f"receiver-token-{uuid.uuid4().hex}"
    receiver.plan[f"/hook?t={query}"] = [500, 200]
    created = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}/hook?t={query}"})
    assert created.status_code == 201, created.text
    hook = created.json()
    render_id = api.render(invoice(), sync=True).json()["id"]

    def attempts():
        return [line for line in json_lines(stack.infra.log("webhooks"))
                if line.get("render_id") == render_id]

    lines = eventually(lambda: len(attempts()) >= 2 and attempts(), what="two attempt lines")
    assert [line["event"].split(":", 1)[1].split(" in ")[0].strip() for line in lines] == [
        "HTTP 500", "HTTP 200"]
    for line in lines:
        assert line["endpoint_id"] == hook["id"] and line["project_id"] == api.project_id
        assert line["delivery_id"] and line["event"].startswith("render.succeeded attempt ")
    log = Path(stack.infra.log("webhooks")).read_text()
    assert query not in log and hook["secret"] not in log
