"""Nothing accepted is lost or rendered twice: worker crashes, a broker that restarts empty,
redelivered jobs, and a database that refuses to change a finished render."""

from __future__ import annotations

import asyncio
import json
import signal

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from craftkit.devstack import health
from craftkit.v1 import render_pb2 as S
from tests.integration.conftest import eventually, invoice, new_api, objects, start_stack


@pytest.fixture(scope="module")
def chaos(tmp_path_factory):
    """A stack of its own, since these tests kill its processes."""
    stack = start_stack(tmp_path_factory.mktemp("chaos"))
    api = new_api(stack)
    try:
        yield api
    finally:
        api.close()
        stack.stop()
        stack.infra.stop()


def statuses(render) -> list[int]:
    return [t.status for t in render.transitions]


def test_worker_killed_mid_job_still_finishes_exactly_once(chaos):
    stack = chaos.stack
    created = chaos.render(invoice(rows=8000)).json()  # several seconds of rendering
    eventually(lambda: chaos.grpc_render(created["id"]).status == S.RENDER_STATUS_RENDERING,
               what="the worker claiming the job")
    stack.kill_service("render_worker", signal.SIGKILL)
    stack.start_service("render_worker")

    render = chaos.wait(created["id"], timeout=120)
    assert render.status == S.RENDER_STATUS_SUCCEEDED
    assert statuses(render).count(S.RENDER_STATUS_SUCCEEDED) == 1
    assert statuses(render)[-1] == S.RENDER_STATUS_SUCCEEDED
    assert [t.attempt for t in render.transitions if t.status == S.RENDER_STATUS_RENDERING][:2] == [1, 2]
    assert len(objects(stack, created["id"])) == 1


def test_broker_restart_with_pending_jobs_loses_none(chaos):
    stack, infra = chaos.stack, chaos.stack.infra
    stack.kill_service("render_worker", signal.SIGTERM)  # jobs now wait in Kafka
    published = [chaos.render(invoice()).json()["id"] for _ in range(5)]

    infra.stop_broker()  # memory-only broker: the 5 published jobs are gone
    eventually(lambda: health(stack.address("enqueue")) == "NOT_SERVING",
               what="enqueue reporting NOT_SERVING")
    accepted = []
    for _ in range(5):  # PostgreSQL holds the jobs while the broker is away
        response = chaos.render(invoice())
        assert response.status_code == 202
        accepted.append(response.json()["id"])

    infra.start_broker()
    eventually(lambda: health(stack.address("enqueue")) == "SERVING", timeout=60,
               what="enqueue SERVING again")
    stack.start_service("render_worker")
    for render_id in published + accepted:
        render = chaos.wait(render_id, timeout=120)
        assert render.status == S.RENDER_STATUS_SUCCEEDED, render_id
        assert statuses(render).count(S.RENDER_STATUS_SUCCEEDED) == 1
        assert len(objects(stack, render_id)) == 1


def test_a_redelivered_job_makes_no_second_pdf(chaos):
    stack = chaos.stack
    created = chaos.render(invoice()).json()
    before = chaos.wait(created["id"])
    assert before.status == S.RENDER_STATUS_SUCCEEDED
    [stored] = objects(stack, created["id"])

    partition, offset = asyncio.run(_publish_job(stack.infra.kafka_bootstrap, created["id"]))
    # The worker commits an offset only after handling the job: past it means handled.
    eventually(lambda: asyncio.run(_committed(stack.infra.kafka_bootstrap, partition)) > offset,
               timeout=60, what="the worker handling the redelivered job")

    after = chaos.grpc_render(created["id"])
    assert statuses(after) == statuses(before)
    [again] = objects(stack, created["id"])
    assert (again.etag, again.last_modified) == (stored.etag, stored.last_modified)


def test_the_database_refuses_to_change_a_finished_render(chaos):
    created = chaos.render(invoice()).json()
    assert chaos.wait(created["id"]).status == S.RENDER_STATUS_SUCCEEDED
    changes = ["UPDATE renders SET status = 'failed' WHERE id = %s",
               "UPDATE renders SET download_url = 'https://evil.example/x.pdf' WHERE id = %s",
               "DELETE FROM renders WHERE id = %s"]
    with psycopg.connect(chaos.stack.infra.database_url, autocommit=True) as conn:
        for sql in changes:
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="can no longer"):
                conn.execute(sql, (created["id"],))
    assert chaos.grpc_render(created["id"]).download_url == \
        chaos.http.get(created["pollUrl"]).json()["downloadUrl"]


async def _publish_job(bootstrap: str, render_id: str) -> tuple[TopicPartition, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            "render.jobs", json.dumps({"renderId": render_id}).encode(), key=render_id.encode())
    finally:
        await producer.stop()
    return meta.topic_partition, meta.offset


async def _committed(bootstrap: str, partition: TopicPartition) -> int:
    """The workers' committed offset (asked as a group member that never joins)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="render-workers",
                              enable_auto_commit=False)
    await reader.start()
    try:
        return await reader.committed(partition) or -1
    finally:
        await reader.stop()


def test_losing_the_database_is_503_and_not_serving_until_it_returns(chaos):
    stack, infra = chaos.stack, chaos.stack.infra
    created = chaos.render(invoice()).json()
    assert chaos.wait(created["id"]).status == S.RENDER_STATUS_SUCCEEDED
    infra.stop_database()
    try:
        for name in ("status", "enqueue"):
            eventually(lambda n=name: health(stack.address(n)) == "NOT_SERVING",
                       what=f"{name} reporting NOT_SERVING")
        response = chaos.render(invoice())
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
        assert chaos.http.get(created["pollUrl"]).status_code == 503
    finally:
        infra.start_database()
    for name in ("status", "enqueue"):
        eventually(lambda n=name: health(stack.address(n)) == "SERVING", timeout=60,
                   what=f"{name} SERVING again")
    after = chaos.render(invoice(), sync=True)
    assert after.status_code == 200 and after.json()["status"] == "succeeded"
