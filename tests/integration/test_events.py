"""Failed renders, and the completion events the webhooks service records once per render, even
when the broker loses its log."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import Counter

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from craftkit import kafka
from craftkit.config import Kafka
from craftkit.devstack import Infra, Stack
from craftkit.v1 import render_pb2 as S
from tests.integration.conftest import (FAST_RECOVERY, eventually, invoice, new_api, objects,
                                        unrenderable_invoice)


def recorded_event(stack, render_id: str) -> dict | None:
    with psycopg.connect(stack.infra.database_url) as conn:
        row = conn.execute("SELECT payload FROM webhook_events WHERE render_id = %s",
                           (render_id,)).fetchone()
    return row[0] if row else None


def test_a_render_that_cannot_be_laid_out_fails_with_a_useful_message(api):
    created = api.render(unrenderable_invoice()).json()
    assert api.wait(created["id"]).status == S.RENDER_STATUS_FAILED
    body = api.http.get(created["pollUrl"]).json()
    assert body["status"] == "failed" and body["downloadUrl"] is None
    assert "more than 10000 rows" in body["errorMessage"]
    assert body["completedAt"] and body["durationMs"] is not None
    assert objects(api.stack, created["id"]) == []


def test_each_completion_reaches_the_webhooks_service_with_the_seed_payload(api):
    ok = api.render(invoice(), sync=True).json()
    bad = api.render(unrenderable_invoice(), sync=True).json()

    event = eventually(lambda: recorded_event(api.stack, ok["id"]), what="succeeded event")
    template_id = api.http.get("/v1/templates/invoice").json()["id"]
    assert event == {
        "event": "render.succeeded", "renderId": ok["id"], "projectId": api.project_id,
        "templateId": template_id, "status": "succeeded", "downloadUrl": ok["downloadUrl"],
        "errorMessage": None, "createdAt": ok["createdAt"], "completedAt": ok["completedAt"],
        "durationMs": ok["durationMs"]}
    failed = eventually(lambda: recorded_event(api.stack, bad["id"]), what="failed event")
    assert failed["event"] == "render.failed" and failed["status"] == "failed"
    assert failed["errorMessage"] == bad["errorMessage"] and failed["downloadUrl"] is None


def test_a_render_over_a_limit_fails_saying_which_and_the_worker_moves_on(api):
    too_long = api.render(invoice(rows=12000)).json()  # the test stack allows 10,000 rows
    next_one = api.render(invoice()).json()
    failed = api.wait(too_long["id"])
    assert failed.status == S.RENDER_STATUS_FAILED
    assert "more than 10000 rows" in failed.error_message and "row limit" in failed.error_message
    assert api.wait(next_one["id"]).status == S.RENDER_STATUS_SUCCEEDED


# --- a broker that loses its log: the event sweep and the webhooks consumer ---------------------

@pytest.fixture(scope="module")
def lost_log(tmp_path_factory):
    """A stack of its own (these tests restart its broker), whose enqueue service re-publishes a
    completion event the webhooks service has not recorded 2 s after the render completed."""
    infra = Infra(tmp_path_factory.mktemp("lost-log")).start()
    stack = Stack(infra, env_overrides={**FAST_RECOVERY, "EVENT_REDELIVER_AFTER_SECONDS": "2"})
    api = None
    try:
        stack.start()
        api = new_api(stack)
        yield api
    finally:
        if api is not None:
            api.close()
        stack.stop()
        infra.stop()


def delivered_once_each(api, receiver, path: str, hook_id: str, render_ids: list[str]) -> None:
    """Every render delivered, exactly once each, and the delivery log agrees."""
    eventually(lambda: {json.loads(r.body)["renderId"] for r in receiver.at(path)}
               >= set(render_ids), timeout=90, what=f"{len(render_ids)} deliveries")
    eventually(lambda: all(d["status"] == "delivered" for d in deliveries(api, hook_id)),
               what="the delivery log saying delivered")
    got = Counter(json.loads(r.body)["renderId"] for r in receiver.at(path))
    assert {render_id: got[render_id] for render_id in render_ids} == dict.fromkeys(render_ids, 1)
    log = deliveries(api, hook_id)
    assert all(len(d["attempts"]) == 1 for d in log)


def deliveries(api, hook_id: str) -> list[dict]:
    return api.http.get(f"/v1/webhooks/{hook_id}/deliveries", params={"limit": 200}).json()[
        "deliveries"]


def test_completion_events_lost_with_the_brokers_log_are_still_delivered_once(lost_log, receiver):
    api, stack = lost_log, lost_log.stack
    hooks = {path: api.http.post("/v1/webhooks", json={"url": f"{receiver.base}{path}"}).json()
             for path in ("/lost", "/lost-too")}
    before = [api.render(invoice(), sync=True).json()["id"] for _ in range(2)]
    for path, hook in hooks.items():
        delivered_once_each(api, receiver, path, hook["id"], before)

    stack.kill_service("webhooks", signal.SIGTERM)  # completion events now wait in Kafka...
    pending = [api.render(invoice(), sync=True).json()["id"] for _ in range(5)]
    assert all(api.wait(r).status == S.RENDER_STATUS_SUCCEEDED for r in pending)
    stack.infra.stop_broker()  # ...and are lost with the memory-only broker's log
    stack.infra.start_broker()
    stack.start_service("webhooks")
    stack.wait_ready(names=["webhooks", "enqueue", "status"], timeout=60)

    for path, hook in hooks.items():  # every subscribed endpoint, once each
        delivered_once_each(api, receiver, path, hook["id"], before + pending)
    with psycopg.connect(stack.infra.database_url) as conn:  # the sweep is what sent them again
        swept = {str(r[0]) for r in conn.execute(
            "SELECT render_id FROM event_sweeps WHERE render_id = ANY(%s::uuid[])",
            (pending,)).fetchall()}
    assert swept == set(pending)


def test_the_webhooks_consumer_resumes_when_its_offsets_lie_past_the_new_logs_end(
        lost_log, receiver):
    """The broker restarted empty, and the group's committed offsets point past the new log's end
    (as a consumer that commits its old positions into the new broker leaves them). An event that
    only Kafka carries (no render row, so no sweep can send it) must still be delivered, as must
    the completions after the restart."""
    api, stack = lost_log, lost_log.stack
    hook = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}/resume"}).json()
    before = [api.render(invoice(), sync=True).json()["id"] for _ in range(3)]
    delivered_once_each(api, receiver, "/resume", hook["id"], before)

    stack.kill_service("webhooks", signal.SIGTERM)
    stack.infra.stop_broker()
    stack.infra.start_broker()
    asyncio.run(commit_past_the_end(stack.infra.kafka_bootstrap, "webhooks", offset=1000))
    stack.start_service("webhooks")
    stack.wait_ready(names=["webhooks"], timeout=60)
    only_in_kafka = str(uuid.uuid4())
    asyncio.run(publish_event(stack.infra.kafka_bootstrap, {
        "event": "render.succeeded", "renderId": only_in_kafka, "projectId": api.project_id,
        "templateId": str(uuid.uuid4()), "status": "succeeded",
        "downloadUrl": "https://example.com/x.pdf", "errorMessage": None,
        "createdAt": "2026-11-23T20:00:00.000Z", "completedAt": "2026-11-23T20:00:00.100Z",
        "durationMs": 100}))
    after = [api.render(invoice(), sync=True).json()["id"] for _ in range(3)]
    delivered_once_each(api, receiver, "/resume", hook["id"], before + [only_in_kafka] + after)


async def commit_past_the_end(bootstrap: str, group: str, offset: int) -> None:
    """Commits `offset` on every partition of render.events for `group` (a member that never
    joins), after creating the topic as the services would."""
    await kafka.ensure_topics(Kafka(bootstrap, "render.jobs", "render.events", 4, 1.0),
                              "render.jobs", "render.events")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition("render.events", p)
                      for p in sorted(consumer.partitions_for_topic("render.events") or range(4))]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, offset))
    finally:
        await consumer.stop()


async def publish_event(bootstrap: str, event: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("render.events", json.dumps(event).encode(),
                                     key=event["renderId"].encode())
    finally:
        await producer.stop()
