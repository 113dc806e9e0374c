"""Outgoing webhooks to a real receiver on loopback, and inbound hooks, over REST."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import uuid

import grpc
import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from craftkit import service
from craftkit.devstack import health
from craftkit.v1 import webhooks_pb2, webhooks_pb2_grpc
from tests.integration.conftest import eventually, invoice, new_api, unrenderable_invoice

SEED_FIELDS = ["event", "renderId", "templateId", "status", "downloadUrl", "errorMessage",
               "createdAt", "completedAt"]


def seed_check(secret: str, raw_body: bytes, headers: dict) -> None:
    """The seeds' own Python verification snippet, as a receiver would run it."""
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers["x-craftkit-signature"]):
        raise ValueError("bad signature")


def endpoint(api, url: str, **extra) -> dict:
    response = api.http.post("/v1/webhooks", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(api, endpoint_id: str) -> list[dict]:
    return api.http.get(f"/v1/webhooks/{endpoint_id}/deliveries").json()["deliveries"]


def statuses(api, endpoint_id: str) -> list[str]:
    return sorted(d["status"] for d in deliveries(api, endpoint_id))


def failing_render(api) -> dict:
    return api.render(unrenderable_invoice(), sync=True).json()


def test_succeeded_and_failed_renders_each_deliver_once_signed(api, receiver):
    hook = endpoint(api, f"{receiver.base}/ok")
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["render.failed",
                                                                      "render.succeeded"]
    ok = api.render(invoice(), sync=True).json()
    bad = failing_render(api)
    eventually(lambda: len(receiver.at("/ok")) >= 2, what="two deliveries")

    by_render = {json.loads(r.body)["renderId"]: r for r in receiver.at("/ok")}
    assert set(by_render) == {ok["id"], bad["id"]}
    for render, event in ((ok, "render.succeeded"), (bad, "render.failed")):
        got = by_render[render["id"]]
        seed_check(hook["secret"], got.body, got.headers)
        body = json.loads(got.body)
        assert list(body) == SEED_FIELDS
        assert body["event"] == got.headers["x-craftkit-event"] == event
        assert (body["status"], body["downloadUrl"], body["errorMessage"], body["createdAt"],
                body["completedAt"]) == (render["status"], render["downloadUrl"],
                                         render["errorMessage"], render["createdAt"],
                                         render["completedAt"])
        stamped = f"{got.headers['x-craftkit-timestamp']}.".encode() + got.body
        assert got.headers["x-craftkit-signature-v2"] == hmac.new(
            hook["secret"].encode(), stamped, hashlib.sha256).hexdigest()
    # The receiver answers before the service records the delivery: wait for the record.
    eventually(lambda: statuses(api, hook["id"]) == ["delivered", "delivered"],
               what="both deliveries recorded")
    log = deliveries(api, hook["id"])
    assert all(len(d["attempts"]) == 1 and d["attempts"][0]["statusCode"] == 200 for d in log)


def test_a_receiver_that_fails_twice_gets_three_attempts_of_one_delivery(api, receiver):
    receiver.plan["/flaky"] = [500, 503, 200]
    hook = endpoint(api, f"{receiver.base}/flaky", events=["render.succeeded"])
    api.render(invoice(), sync=True)
    eventually(lambda: statuses(api, hook["id"]) == ["delivered"], timeout=60,
               what="delivered after retries")
    got = receiver.at("/flaky")
    assert [r.answered for r in got] == [500, 503, 200]
    assert len({r.headers["x-craftkit-delivery-id"] for r in got}) == 1
    [delivery] = deliveries(api, hook["id"])
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["attempts"][0]["error"] == "HTTP 500"
    assert delivery["id"] == got[0].headers["x-craftkit-delivery-id"]


def test_a_hanging_receiver_does_not_hold_up_another_endpoint(api, receiver):
    receiver.plan["/hang"] = [-4]  # past the 2 s webhook timeout of the test stack
    hanging = endpoint(api, f"{receiver.base}/hang")
    endpoint(api, f"{receiver.base}/fast")
    for _ in range(3):
        api.render(invoice())
    eventually(lambda: len(receiver.at("/fast")) == 3, what="the fast endpoint's deliveries")
    hung = receiver.at("/hang")
    assert hung and all(r.finished is None for r in hung)  # still hanging meanwhile
    eventually(lambda: len(deliveries(api, hanging["id"])) == 3 and all(
        d["attempts"] for d in deliveries(api, hanging["id"])), timeout=30,
        what="the hanging endpoint's attempts recorded")
    first = deliveries(api, hanging["id"])[0]["attempts"][0]
    assert first["statusCode"] is None and "no answer within 2 s" in first["error"]


def test_the_service_killed_mid_schedule_resumes_without_loss_or_duplicates(api, receiver):
    receiver.plan["/later"] = [500]  # every attempt fails until the service has been killed
    hook = endpoint(api, f"{receiver.base}/later")
    renders = [api.render(invoice()).json()["id"] for _ in range(3)]
    eventually(lambda: len(deliveries(api, hook["id"])) == 3 and all(
        d["attempts"] and d["status"] == "pending" for d in deliveries(api, hook["id"])),
        what="three deliveries waiting for their retries")
    api.stack.kill_service("webhooks", signal.SIGKILL)
    receiver.plan["/later"] = [200]
    api.stack.start_service("webhooks")
    api.stack.wait_ready(names=["webhooks"])
    eventually(lambda: statuses(api, hook["id"]) == ["delivered"] * 3, timeout=120,
               what="every delivery made after the restart")
    successes = [json.loads(r.body)["renderId"] for r in receiver.at("/later") if r.answered == 200]
    assert sorted(successes) == sorted(renders)  # each exactly once
    for delivery in deliveries(api, hook["id"]):
        assert [a["statusCode"] for a in delivery["attempts"]][-1] == 200
        assert sum(a["statusCode"] == 200 for a in delivery["attempts"]) == 1


def test_redeliver_sends_the_same_delivery_again(api, receiver):
    hook = endpoint(api, f"{receiver.base}/again")
    api.render(invoice(), sync=True)
    eventually(lambda: statuses(api, hook["id"]) == ["delivered"], what="first delivery")
    [delivery] = deliveries(api, hook["id"])
    response = api.http.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    assert response.status_code == 202
    eventually(lambda: len(receiver.at("/again")) == 2, what="the redelivery")
    assert {r.headers["x-craftkit-delivery-id"] for r in receiver.at("/again")} == {delivery["id"]}
    eventually(lambda: len(deliveries(api, hook["id"])[0]["attempts"]) == 2, what="logged")
    missing = api.http.post(f"/v1/webhooks/{hook['id']}/deliveries/nope/redeliver")
    assert missing.status_code == 404


def test_endpoints_crud_and_secret_rotation_with_overlap(api, receiver):
    hook = endpoint(api, f"{receiver.base}/rotate", events=["render.succeeded"])
    listed = api.http.get("/v1/webhooks").json()["webhooks"]
    assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]

    rotated = api.http.post(f"/v1/webhooks/{hook['id']}/rotate-secret",
                            json={"overlapSeconds": 3600}).json()
    assert rotated["secret"] != hook["secret"]
    api.render(invoice(), sync=True)
    eventually(lambda: receiver.at("/rotate"), what="a delivery after rotation")
    [got] = receiver.at("/rotate")
    seed_check(rotated["secret"], got.body, got.headers)
    seed_check(hook["secret"], got.body, {"x-craftkit-signature":
                                          got.headers["x-craftkit-signature-previous"]})

    patched = api.http.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False,
                                                                  "events": ["render.failed"]})
    assert patched.status_code == 200
    assert (patched.json()["enabled"], patched.json()["events"]) == (False, ["render.failed"])
    assert api.http.delete(f"/v1/webhooks/{hook['id']}").status_code == 200
    assert api.http.get("/v1/webhooks").json()["webhooks"] == []
    assert api.http.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True}).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/hook"}, "url"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "http://user:pw@example.com/"}, "url"),
    ({"url": "https://example.com/", "events": ["render.started"]}, "events"),
    ({}, "url"),
])
def test_bad_endpoints_are_refused(api, body, field):
    response = api.http.post("/v1/webhooks", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["issues"]["fieldErrors"]


HOSTILE_URLS = {
    "http://example.com/\u0001": "control or invalid character (U+0001)",
    "http://example.com/\u007f": "(U+007F)",
    "http://exa mple.com/": "a space (U+0020)",
    "http://example.com/\u2028": "a space (U+2028)",
    "http://\u2603.example/": "not a valid internationalised (IDNA) name",
    "http://xn--a.example/": "is not valid IDNA",
    "http://" + "a" * 64 + ".example/": "a label of 64 octets",
    "http://" + ".".join(["b" * 63] * 4) + "/": "octets long; at most 253",
    "https://example.com/#x": "fragment",
    "https://example.com/" + "p" * 2048: "2048 characters",  # the gateway checks the length
}


@pytest.mark.parametrize("url", list(HOSTILE_URLS))
def test_urls_are_checked_on_create_and_update_saying_what_is_wrong(api, url):
    created = api.http.post("/v1/webhooks", json={"url": url})
    assert created.status_code == 400
    error = created.json()["error"]
    assert error["code"] == "invalid_request" and HOSTILE_URLS[url] in error["message"]
    assert HOSTILE_URLS[url] in " ".join(error["issues"]["fieldErrors"]["url"])
    assert len(error["message"]) < 300  # echoes at most ~100 characters of the URL

    hook = endpoint(api, "https://example.com/hook")
    updated = api.http.patch(f"/v1/webhooks/{hook['id']}", json={"url": url})
    assert updated.status_code == 400 and HOSTILE_URLS[url] in updated.json()["error"]["message"]
    assert api.http.get("/v1/webhooks").json()["webhooks"][0]["url"] == "https://example.com/hook"


def test_endpoints_saved_before_urls_were_checked_do_not_stop_other_projects_webhooks(
        stack, api, receiver):
    """20 endpoints with hostile URLs, as rows saved before URLs were checked at save (the API
    refuses them now, so they are inserted with SQL). Each of their deliveries fails, is logged
    and retried, and gives its slot back: with 64 slots, 4 renders x 20 endpoints x 2 attempts
    would have wedged every project's deliveries when failures leaked slots."""
    hostile = new_api(stack)
    urls = [url + (f"?{n}" if "#" not in url else "") for n, url in
            enumerate((list(HOSTILE_URLS) + ["http://example.com:99999/", "http://[zz]/",
                                              "http://0x7f.1/", "http://bad_\u00e9.example/"]) * 2)][:20]
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        for url in urls:
            conn.execute("INSERT INTO webhook_endpoints (id, project_id, url, events, secret) "
                         "VALUES (%s, %s, %s, %s, 'whsec_old')",
                         (uuid.uuid4(), hostile.project_id, url, ["render.succeeded"]))
    try:
        for _ in range(4):
            hostile.render(invoice())
        hooks = hostile.http.get("/v1/webhooks").json()["webhooks"]
        assert len(hooks) == 20
        eventually(lambda: all(len(d["attempts"]) >= 2 for h in hooks
                               for d in deliveries(hostile, h["id"])) and
                   sum(len(deliveries(hostile, h["id"])) for h in hooks) == 80,
                   timeout=90, what="every hostile delivery attempted twice")
        for hook in hooks:
            for delivery in deliveries(hostile, hook["id"]):
                assert delivery["status"] == "pending"  # failed attempts, retried on schedule
                assert all(a["error"] and a["statusCode"] is None for a in delivery["attempts"])
                assert all(len(a["error"]) < 400 for a in delivery["attempts"])
        errors = {a["error"] for h in hooks for d in deliveries(hostile, h["id"])
                  for a in d["attempts"]}
        assert any("control or invalid character (U+0001)" in e for e in errors)

        victim_hook = endpoint(api, f"{receiver.base}/victim")
        rendered = [api.render(invoice()).json()["id"] for _ in range(3)]
        eventually(lambda: sorted(json.loads(r.body)["renderId"] for r in receiver.at("/victim"))
                   == sorted(rendered), timeout=60, what="the other project's deliveries")
        eventually(lambda: statuses(api, victim_hook["id"]) == ["delivered"] * 3,
                   what="the other project's deliveries logged as delivered")
    finally:
        hostile.close()


def test_inbound_hook_end_to_end(api):
    created = api.http.post("/v1/templates/invoice/inbound-hooks", json={})
    assert created.status_code == 201
    url = created.json()["url"]
    assert url.startswith(f"{api.stack.base_url}/v1/hooks/{created.json()['id']}/")

    data = invoice()
    forged = httpx.post(url[:-4] + "abcd", json=data)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "unauthorized"
    accepted = httpx.post(url, json=data)  # no API key
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["status"] == "queued"  # fresh: the forged call enqueued nothing
    assert set(body) == {"id", "status", "pollUrl", "downloadUrl", "errorMessage", "createdAt"}
    assert api.wait(body["id"]).error_message == ""
    assert api.http.get(body["pollUrl"]).json()["status"] == "succeeded"

    invalid = httpx.post(url, json={"customer": {}})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_input_data"

    revoked = api.http.delete(f"/v1/templates/invoice/inbound-hooks/{created.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    assert httpx.post(url, json=invoice()).status_code == 401
    [listed] = api.http.get("/v1/templates/invoice/inbound-hooks").json()["hooks"]
    assert listed["revokedAt"] and "url" not in listed


def test_the_circuit_breaker_pauses_a_failing_endpoint_and_resumes_it(api, receiver):
    """The test stack pauses an endpoint failing for 4 s (6 h in production) for 3 s (1 h)."""
    receiver.plan["/down"] = [500]
    hook = endpoint(api, f"{receiver.base}/down")
    api.render(invoice())
    paused = eventually(lambda: api.http.get("/v1/webhooks").json()["webhooks"][0]["pausedUntil"],
                        timeout=60, what="the endpoint paused")
    assert paused
    attempts_when_paused = len(receiver.at("/down"))
    receiver.plan["/down"] = [200]
    eventually(lambda: statuses(api, hook["id"]) == ["delivered"], timeout=60,
               what="delivered once the pause ended")
    assert len(receiver.at("/down")) == attempts_when_paused + 1  # nothing sent while paused
    assert api.http.get("/v1/webhooks").json()["webhooks"][0]["pausedUntil"] is None


@pytest.fixture(scope="module")
def strict_webhooks(stack):
    """A webhooks service as production runs it: private targets not allowed."""
    settings = {"WEBHOOKS_GROUP": "webhooks-strict", "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "0"}
    with stack.extra("webhooks", settings) as address, \
            service.blocking_channel(address, stack.admin) as channel:
        yield webhooks_pb2_grpc.WebhookServiceStub(channel)


@pytest.mark.parametrize("url, network", [
    ("http://127.0.0.1:8080/hook", "127.0.0.0/8"), ("http://localhost/hook", "loopback"),
    ("http://10.0.0.7/hook", "10.0.0.0/8"), ("http://169.254.169.254/latest/", "169.254.0.0/16"),
    ("http://[::1]/hook", "::1/128"), ("http://192.0.0.170/", "192.0.0.0/24"),
    ("http://198.18.0.1/", "198.18.0.0/15"), ("http://100.64.1.1/", "100.64.0.0/10"),
    ("http://[64:ff9b::7f00:1]/", "NAT64"), ("http://[64:ff9b:1::a00:1]/", "64:ff9b:1::/48"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4"), ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[::ffff:10.1.2.3]/", "IPv4-mapped"), ("http://[2001:0:7f00:1::1]/", "Teredo"),
    ("http://[fd00::1]/", "fc00::/7"),
])
def test_ssrf_targets_are_refused_where_private_targets_are_not_allowed(strict_webhooks, api, url,
                                                                         network):
    with pytest.raises(grpc.RpcError) as caught:
        strict_webhooks.CreateEndpoint(webhooks_pb2.CreateEndpointRequest(
            project_id=api.project_id, url=url), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "webhooks go to public hosts" in caught.value.details()
    assert network in caught.value.details()


def test_a_webhooks_consumer_that_cannot_move_reports_not_serving_until_it_moves(stack, api):
    """Recording events blocks (the table is locked; PostgreSQL and Kafka both answer) while more
    events arrive: the consumer stalls with work pending, so its "kafka-progress" health says
    NOT_SERVING until it moves again, while the server stays ready for endpoint management."""
    settings = {"WEBHOOKS_GROUP": "webhooks-stall", "WEBHOOKS_STALL_AFTER_SECONDS": "2"}
    with stack.extra("webhooks", settings) as address:
        api.render(invoice(), sync=True)
        eventually(lambda: asyncio.run(caught_up(stack.infra.kafka_bootstrap, "webhooks-stall")),
                   timeout=60, what="the new consumer group caught up with render.events")
        with psycopg.connect(stack.infra.database_url) as conn:
            conn.execute("LOCK TABLE webhook_events IN EXCLUSIVE MODE")  # reads pass, writes wait
            for _ in range(4):  # the first event blocks in recording; the next ones wait in Kafka
                api.render(invoice(), sync=True)
            eventually(lambda: health(address, service="kafka-progress") == "NOT_SERVING",
                       timeout=30, what="NOT_SERVING while stalled")
            assert health(address) == "SERVING"
            conn.rollback()  # the lock goes
        eventually(lambda: health(address, service="kafka-progress") == "SERVING", timeout=30,
                   what="SERVING once it moves")


async def caught_up(bootstrap: str, group: str) -> bool:
    """Whether `group` has committed the end of every partition of render.events."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                              enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [TopicPartition("render.events", p)
                      for p in reader.partitions_for_topic("render.events") or ()]
        ends = await reader.end_offsets(partitions)
        committed = {tp: await reader.committed(tp) or 0 for tp in partitions}
        return bool(partitions) and all(committed[tp] >= ends[tp] for tp in partitions)
    finally:
        await reader.stop()
