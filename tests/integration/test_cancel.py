"""Cancelling a queued render, against a stack whose jobs wait (`idle`: no render worker runs), so
a render stays queued until a test claims it (StartRender, as a worker would) or cancels it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from pathlib import Path

import grpc
import pytest

from craftkit import errors, service
from craftkit.v1 import render_pb2 as S
from craftkit.v1 import status_pb2, status_pb2_grpc
from tests.integration.conftest import eventually, invoice, new_api, objects


@pytest.fixture
def api(idle):
    api = new_api(idle)
    yield api
    api.close()


def queued(api, **options) -> str:
    response = api.render(invoice(), **options)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def cancel(api, render_id: str) -> S.Render:
    return api.status.CancelRender(status_pb2.CancelRenderRequest(
        project_id=api.project_id, render_id=render_id), timeout=10)


def refusal(call) -> errors.ApiError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return errors.from_rpc_error(raised.value)


def claim(api, render_id: str) -> status_pb2.StartRenderResponse:
    return api.status.StartRender(status_pb2.StartRenderRequest(
        project_id=api.project_id, render_id=render_id, worker_id="test"), timeout=10)


def test_a_queued_render_is_cancelled_terminal_and_never_claimed(api):
    render_id = queued(api)
    render = cancel(api, render_id)
    assert render.status == S.RENDER_STATUS_CANCELLED
    assert render.completed_at_ms >= render.created_at_ms > 0
    assert render.duration_ms >= 0 and render.template_slug == "invoice"
    history = api.grpc_render(render_id)
    assert [t.status for t in history.transitions] == [S.RENDER_STATUS_QUEUED,
                                                       S.RENDER_STATUS_CANCELLED]
    # The worker that gets the job later is told the render is terminal: it skips it.
    refused = refusal(lambda: claim(api, render_id))
    assert refused.code == "conflict" and "cancelled" in refused.message
    # Terminal for waiters too: WaitRender answers at once.
    waited = api.status.WaitRender(status_pb2.WaitRenderRequest(
        project_id=api.project_id, render_id=render_id, timeout_ms=60_000), timeout=5)
    assert waited.status == S.RENDER_STATUS_CANCELLED


def test_rendering_and_terminal_renders_are_not_cancellable_naming_their_status(api):
    rendering = queued(api)
    claim(api, rendering)
    refused = refusal(lambda: cancel(api, rendering))
    assert refused.code == "not_cancellable" and errors.http_status(refused) == 409
    assert "is rendering" in refused.message

    done = queued(api)
    cancel(api, done)
    refused = refusal(lambda: cancel(api, done))
    assert refused.code == "not_cancellable" and "is cancelled" in refused.message
    assert api.grpc_render(rendering).status == S.RENDER_STATUS_RENDERING


def test_another_projects_render_is_not_found_and_stays_queued(idle, api):
    render_id = queued(api)
    other = new_api(idle)
    try:
        refused = refusal(lambda: cancel(other, render_id))
        assert refused.code == "not_found"
    finally:
        other.close()
    assert api.grpc_render(render_id).status == S.RENDER_STATUS_QUEUED
    assert refusal(lambda: cancel(api, str(uuid.uuid4()))).code == "not_found"


def test_the_same_post_after_a_cancel_is_a_new_render(api):
    """The content dedupe hands back the first render of identical requests; once that one is
    cancelled, the same request means "render it after all": a new render."""
    data = invoice()
    first = api.render(data).json()
    assert api.render(data).json()["id"] == first["id"]  # deduplicated while queued
    cancel(api, first["id"])
    again = api.render(data).json()
    assert again["id"] != first["id"] and again["status"] == "queued"
    assert api.render(data).json()["id"] == again["id"]  # and that one is deduplicated in turn


async def test_a_cancel_racing_a_claim_ends_in_exactly_one_of_them_100_times(idle, api):
    ids = [queued(api) for _ in range(100)]
    channel = service.channel(idle.address("status"), idle.admin)
    stub = status_pb2_grpc.StatusServiceStub(channel)

    async def outcome(call) -> str:
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            return errors.from_rpc_error(exc).code
        return "ok"

    async def race(render_id: str) -> tuple[str, str]:
        return tuple(await asyncio.gather(
            outcome(stub.StartRender(status_pb2.StartRenderRequest(
                project_id=api.project_id, render_id=render_id, worker_id="racer"), timeout=10)),
            outcome(stub.CancelRender(status_pb2.CancelRenderRequest(
                project_id=api.project_id, render_id=render_id), timeout=10))))

    try:
        results = [await race(render_id) for render_id in ids]
    finally:
        await channel.close()
    for render_id, (started, cancelled) in zip(ids, results):
        assert (started, cancelled) in (("ok", "not_cancellable"), ("conflict", "ok")), render_id
        render = api.grpc_render(render_id)
        expected = S.RENDER_STATUS_RENDERING if started == "ok" else S.RENDER_STATUS_CANCELLED
        assert [t.status for t in render.transitions] == [S.RENDER_STATUS_QUEUED, expected]
    print("claims won:", sum(r[0] == "ok" for r in results), "cancels won:",
          sum(r[1] == "ok" for r in results))


def test_render_cancelled_reaches_subscribed_endpoints_only(api, receiver):
    def endpoint(path: str, **extra) -> dict:
        response = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}{path}", **extra})
        assert response.status_code == 201, response.text
        return response.json()

    subscribed = endpoint("/cancelled", events=["render.cancelled"])
    default = endpoint("/default")
    assert default["events"] == ["render.failed", "render.succeeded"]
    render = cancel(api, queued(api))

    [received] = eventually(lambda: receiver.at("/cancelled"), what="the render.cancelled webhook")
    body = json.loads(received.body)
    assert received.headers["x-craftkit-event"] == "render.cancelled"
    assert body["event"] == "render.cancelled" and body["status"] == "cancelled"
    assert body["renderId"] == render.id and body["downloadUrl"] is None
    assert body["completedAt"] is not None
    # Deliveries to every endpoint of an event are recorded in one statement: the default
    # endpoint would have its own by now.
    log = api.http.get(f"/v1/webhooks/{default['id']}/deliveries").json()["deliveries"]
    assert log == [] and receiver.at("/default") == []
    assert subscribed["events"] == ["render.cancelled"]



def test_rest_cancel_answers_the_cancelled_render_then_409_naming_its_status(api):
    render_id = queued(api)
    response = api.http.post(f"/v1/renders/{render_id}/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == render_id and body["status"] == "cancelled"
    assert body["completedAt"] and body["downloadUrl"] is None and body["expiredAt"] is None
    assert body["templateSlug"] == "invoice"
    assert api.http.get(f"/v1/renders/{render_id}").json()["status"] == "cancelled"

    again = api.http.post(f"/v1/renders/{render_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_cancellable"
    assert "is cancelled" in again.json()["error"]["message"]

    rendering = queued(api)
    claim(api, rendering)
    refused = api.http.post(f"/v1/renders/{rendering}/cancel")
    assert refused.status_code == 409 and "is rendering" in refused.json()["error"]["message"]
    assert api.http.post(f"/v1/renders/{uuid.uuid4()}/cancel").status_code == 404


def test_a_sync_request_waiting_on_a_render_that_gets_cancelled_answers_200_cancelled(api):
    data = invoice()
    answer: list = []
    waiting = threading.Thread(target=lambda: answer.append(api.render(data, sync=True)))
    waiting.start()
    try:
        # The project's only render is the one the waiting request made.
        [render] = eventually(lambda: api.status.ListRenders(status_pb2.ListRendersRequest(
            project_id=api.project_id), timeout=10).renders, what="the render being made")
        render_id = render.id
        cancel(api, render_id)
    finally:
        waiting.join(timeout=30)
    [response] = answer
    assert response.status_code == 200, response.text
    assert response.json()["id"] == render_id and response.json()["status"] == "cancelled"


@contextlib.contextmanager
def worker_running(stack):
    """The idle stack's render worker, running for the block only."""
    stack.start_service("render_worker")
    try:
        stack.wait_ready(names=["render_worker"])
        yield
    finally:
        stack.kill_service("render_worker")


def test_a_worker_that_gets_a_cancelled_renders_job_drops_it_without_rendering(idle, api):
    cancelled = [queued(api) for _ in range(3)]
    for render_id in cancelled:
        cancel(api, render_id)
    log = Path(idle.infra.log("render_worker"))
    with worker_running(idle):
        for render_id in cancelled:  # the jobs are in Kafka: the worker reads and drops them
            eventually(lambda r=render_id: log.exists()
                       and f"render {r} is already cancelled" in log.read_text(),
                       what=f"the worker dropping {render_id}")
        done = api.wait(queued(api))  # it renders other jobs meanwhile
        assert done.status == S.RENDER_STATUS_SUCCEEDED
    for render_id in cancelled:
        render = api.grpc_render(render_id)
        assert [t.status for t in render.transitions] == [S.RENDER_STATUS_QUEUED,
                                                          S.RENDER_STATUS_CANCELLED]
        assert objects(idle, render_id) == []
