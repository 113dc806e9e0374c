"""Nothing accepted is lost or rendered twice: worker crashes, a broker that restarts empty,
redelivered jobs, superseded attempts, an S3 that goes away or restarts empty, and a database that
refuses to change a finished render."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import uuid

import httpx
import psutil
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from craftkit.devstack import BUCKET, health, public_bucket
from craftkit.v1 import render_pb2 as S
from craftkit.v1 import status_pb2
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


def test_while_the_broker_is_down_renders_are_accepted_and_none_is_lost(chaos):
    """Readiness means "can do its job": with Kafka down, enqueue and status stay ready (the
    outbox holds the jobs), only their "kafka" health service says so, /readyz stays 200 and
    POST answers 202; the memory-only broker comes back empty and every render still finishes."""
    stack, infra = chaos.stack, chaos.stack.infra
    stack.kill_service("render_worker", signal.SIGTERM)  # jobs now wait in Kafka
    published = [chaos.render(invoice()).json()["id"] for _ in range(5)]

    infra.stop_broker()  # memory-only broker: the 5 published jobs are gone
    eventually(lambda: health(stack.address("enqueue"), service="kafka") == "NOT_SERVING",
               what="enqueue reporting kafka NOT_SERVING")
    eventually(lambda: health(stack.address("status"), service="kafka") == "NOT_SERVING",
               what="status reporting kafka NOT_SERVING")
    accepted = []
    for _ in range(5):  # PostgreSQL holds the jobs while the broker is away
        assert health(stack.address("enqueue")) == "SERVING"
        assert health(stack.address("status")) == "SERVING"
        ready = chaos.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["backends"]["kafka"] == "NOT_SERVING"
        response = chaos.render(invoice())
        assert response.status_code == 202
        accepted.append(response.json()["id"])

    infra.start_broker()
    eventually(lambda: health(stack.address("enqueue"), service="kafka") == "SERVING",
               timeout=60, what="enqueue's kafka SERVING again")
    stack.start_service("render_worker")
    for render_id in published + accepted:
        render = chaos.wait(render_id, timeout=120)
        assert render.status == S.RENDER_STATUS_SUCCEEDED, render_id
        assert statuses(render).count(S.RENDER_STATUS_SUCCEEDED) == 1
        assert len(objects(stack, render_id)) == 1
    assert chaos.http.get("/readyz").json()["backends"]["kafka"] == "SERVING"


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


def test_after_the_broker_loses_its_log_running_workers_take_new_jobs_at_once(chaos):
    """The committed offsets now lie past the new, empty log's end. The workers must read the new
    log from its start, not wait for it to grow past their old offsets."""
    stack, infra = chaos.stack, chaos.stack.infra
    stack.wait_ready(names=["render_worker"])
    before = [chaos.render(invoice()).json()["id"] for _ in range(120)]
    for render_id in before:
        assert chaos.wait(render_id).status == S.RENDER_STATUS_SUCCEEDED
    partitions = [TopicPartition("render.jobs", p) for p in range(4)]
    eventually(lambda: sum(asyncio.run(_committed(infra.kafka_bootstrap, tp))
                           for tp in partitions) >= 120, what="the workers committing")

    infra.stop_broker()
    infra.start_broker()
    eventually(lambda: health(stack.address("enqueue"), service="kafka") == "SERVING",
               timeout=60, what="enqueue's kafka SERVING again")
    after = [chaos.render(invoice()).json()["id"] for _ in range(5)]
    for render_id in after:
        # Without the rewind these waited until the sweeper's re-publications filled each
        # partition past its old offset (about a minute here).
        assert chaos.wait(render_id, timeout=30).status == S.RENDER_STATUS_SUCCEEDED


def slow_template(api) -> str:
    """A template whose renders take minutes in little memory: a QR code of each of the data's
    texts (ReportLab encodes a QR code of 2,000 characters in about 1.5 s; a paragraph of
    100,000 words, which took minutes, now takes 3 s)."""
    slug = f"slow-{uuid.uuid4().hex[:6]}"
    spec = {"manifest": {"fields": {"texts": {"type": "array"}, "texts[].text": {"type": "string"}}},
            "layout": {"body": [{"type": "each", "source": "texts", "as": "t", "blocks": [
                {"type": "qr", "value": "{{t.text}}", "size": 72}]}]}}
    assert api.http.post("/v1/templates", json={"slug": slug, "name": slug}).status_code == 201
    assert api.http.post(f"/v1/templates/{slug}/versions", json=spec).status_code == 201
    assert api.http.post(f"/v1/templates/{slug}/versions/1/publish").status_code == 200
    return slug


SLOW_DATA = {"texts": [{"text": f"{i:04d}" + "x" * 2000} for i in range(100)]}  # minutes


def busy_render_process(stack) -> int | None:
    """The worker's render process that is using the CPU, if one is."""
    worker = psutil.Process(stack.processes["render_worker"].pid)
    for child in worker.children():
        try:
            if child.cpu_percent(0.2) > 30:
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def test_a_superseded_attempt_is_killed(chaos):
    stack = chaos.stack
    stack.wait_ready(names=["render_worker"])
    render_id = chaos.render(SLOW_DATA, slug=slow_template(chaos)).json()["id"]
    eventually(lambda: chaos.grpc_render(render_id).status == S.RENDER_STATUS_RENDERING,
               what="the worker claiming the job")
    child = eventually(lambda: busy_render_process(stack), what="a render process at work")

    # Another claim takes over (as after a lease that ran out): attempt 2 is now the current one.
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        conn.execute("UPDATE renders SET started_at = '-infinity' WHERE id = %s", (render_id,))
    claim = chaos.status.StartRender(status_pb2.StartRenderRequest(
        project_id=chaos.project_id, render_id=render_id, worker_id="test"), timeout=10)
    assert claim.attempt == 2

    # Told at its next lease renewal, the worker kills the render (the time limit is 60 s).
    eventually(lambda: not psutil.pid_exists(child) or
               psutil.Process(child).status() == psutil.STATUS_ZOMBIE, timeout=20,
               what="the superseded render process ending")
    chaos.status.FinishRender(status_pb2.FinishRenderRequest(
        project_id=chaos.project_id, render_id=render_id, attempt=2, succeeded=False,
        error_message="taken over"), timeout=10)
    assert chaos.wait(render_id).error_message == "taken over"
    assert chaos.render(invoice(), sync=True).json()["status"] == "succeeded"


def restart_s3_empty(infra) -> None:
    """S3 back with none of its data (a new volume): the bucket is gone too."""
    shutil.rmtree(infra.workdir / "s3", ignore_errors=True)
    infra.start_s3()


def test_a_render_that_cannot_be_stored_gives_up_after_max_attempts(chaos):
    """S3 is down: each attempt retries the store briefly, gives the attempt back, and the third
    attempt records the render failed with the reason. Then S3 comes back empty: the worker makes
    the bucket again and stores the next PDFs."""
    stack, infra = chaos.stack, chaos.stack.infra
    stack.wait_ready(names=["render_worker"])
    infra.stop_s3()  # stopped for good: the supervisor does not bring it back
    try:
        render_id = chaos.render(invoice()).json()["id"]
        render = chaos.wait(render_id, timeout=90)
        assert render.status == S.RENDER_STATUS_FAILED
        assert render.error_message.startswith(
            "gave up after 3 attempts: storing the PDF failed: S3 unreachable")
        assert [t.attempt for t in render.transitions
                if t.status == S.RENDER_STATUS_RENDERING] == [1, 2, 3]
    finally:
        restart_s3_empty(infra)

    created = chaos.render(invoice()).json()
    assert chaos.wait(created["id"], timeout=60).status == S.RENDER_STATUS_SUCCEEDED
    assert len(objects(stack, created["id"])) == 1
    public_bucket(infra.s3_endpoint, BUCKET)  # the dev stack's anonymous read, for other tests


def test_while_status_is_down_keys_verified_just_before_still_enqueue(chaos):
    """KEY_STALE_SECONDS: a status restart is not a 503 for every request (KEY_CACHE_SECONDS 0
    here, so every request asks status and only the stale-if-error rule can answer)."""
    stack = chaos.stack
    body = {"data": invoice()}
    with stack.extra("gateway", {"KEY_CACHE_SECONDS": "0", "KEY_STALE_SECONDS": "60"}) as address, \
            httpx.Client(base_url=f"http://{address}", timeout=30) as http:
        known = {"authorization": f"Bearer {chaos.key}"}
        assert http.post("/v1/templates/invoice/render", json=body, headers=known).status_code \
            == 202
        stack.kill_service("status")
        try:
            accepted = http.post("/v1/templates/invoice/render", json={"data": invoice()},
                                 headers=known)
            assert accepted.status_code == 202, accepted.text
            never_seen = http.post("/v1/templates/invoice/render", json=body,
                                   headers={"authorization": "Bearer ck_live_never_verified"})
            assert never_seen.status_code == 503, never_seen.text
        finally:
            stack.start_service("status")
    assert chaos.wait(accepted.json()["id"]).status == S.RENDER_STATUS_SUCCEEDED
