"""Traces across the five processes, as an operator's tracing backend sees them: a stack of its
own exporting over OTLP to a real gRPC receiver in this process (tests/otlp.py). One render is one
trace from the POST to the webhook delivery, retries included, every span's parent in it."""

from __future__ import annotations

import json
import uuid

import pytest

from craftkit.devstack import Infra, Stack
from tests import otlp
from tests.integration.conftest import FAST_RECOVERY, eventually, invoice, new_api

SERVER, CLIENT, CONSUMER = 2, 3, 5  # opentelemetry.proto.trace.v1.Span.SpanKind
ERROR = 2  # Status.StatusCode


@pytest.fixture(scope="module")
def spans():
    receiver = otlp.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def traced(tmp_path_factory, spans):
    """Every service exporting its spans to `spans`, in batches every 100 ms. Jobs are not
    re-published by the sweeper while a test follows one (a re-published job, like any message
    without trace headers, starts a trace of its own, and its copy may be the one claimed)."""
    stack = Stack(Infra(tmp_path_factory.mktemp("traced")).start(), env_overrides={
        **FAST_RECOVERY, "REDELIVER_AFTER_SECONDS": "120",
        "OTEL_EXPORTER_OTLP_ENDPOINT": spans.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
    try:
        yield stack.start()
    finally:
        stack.stop()
        stack.infra.stop()


@pytest.fixture
def api(traced):
    api = new_api(traced)
    yield api
    api.close()


def subscribe(api, url: str) -> dict:
    response = api.http.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 201, response.text
    return response.json()


def render_trace(spans: otlp.Receiver, render_id: str) -> str:
    """The trace id of the worker's render span for `render_id`, once exported."""
    found = [span.trace_id for span in spans.all()
             if span.name == "render" and span.attributes.get("craftkit.render.id") == render_id]
    return found[0] if found else ""


def log_lines(stack: Stack, service: str) -> list[dict]:
    """The service's JSON log lines (LOG_FORMAT=json, the default)."""
    with open(stack.infra.log(service), encoding="utf-8") as log:
        return [json.loads(line) for line in log if line.startswith("{")]


def named(trace: list[otlp.Span], service: str, name: str) -> list[otlp.Span]:
    return [span for span in trace if span.service == f"craftkit-{service}" and span.name == name]


def test_one_trace_covers_a_render_from_the_post_to_its_webhook(api, spans, receiver):
    subscribe(api, f"{receiver.base}/hook")
    response = api.render(invoice())
    assert response.status_code == 202, response.text
    render_id = response.json()["id"]
    trace_id = eventually(lambda: render_trace(spans, render_id), 60, "the render's span")

    expected = [("gateway", "POST /v1/templates/{slug}/render", SERVER),
                ("gateway", "/craftkit.v1.EnqueueService/EnqueueRender", CLIENT),
                ("enqueue", "/craftkit.v1.EnqueueService/EnqueueRender", SERVER),
                ("render_worker", "render", CONSUMER),
                ("render_worker", "/craftkit.v1.StatusService/StartRender", CLIENT),
                ("status", "/craftkit.v1.StatusService/StartRender", SERVER),
                ("render_worker", "store", CLIENT),
                ("render_worker", "/craftkit.v1.StatusService/FinishRender", CLIENT),
                ("status", "/craftkit.v1.StatusService/FinishRender", SERVER),
                ("webhooks", "webhook.deliver", CLIENT)]

    def complete() -> list[otlp.Span]:
        trace = spans.trace(trace_id)
        return trace if all(named(trace, s, n) for s, n, _ in expected) else []

    trace = eventually(complete, 60, "every span of the render's trace")
    for service, name, kind in expected:
        assert {span.kind for span in named(trace, service, name)} == {kind}, (service, name)
    ids = {span.span_id for span in trace}
    [root] = [span for span in trace if not span.parent_id]
    assert (root.service, root.name) == ("craftkit-gateway", "POST /v1/templates/{slug}/render")
    assert all(span.parent_id in ids for span in trace if span is not root)

    # The chain, hop by hop: each step is the child of the one that caused it.
    by_id = {span.span_id: span for span in trace}

    def parent(span: otlp.Span) -> otlp.Span:
        return by_id[span.parent_id]

    [render] = named(trace, "render_worker", "render")
    [enqueue] = named(trace, "enqueue", "/craftkit.v1.EnqueueService/EnqueueRender")
    [finish] = named(trace, "status", "/craftkit.v1.StatusService/FinishRender")
    [deliver] = named(trace, "webhooks", "webhook.deliver")
    [store] = named(trace, "render_worker", "store")
    assert parent(render) is enqueue  # through the job's Kafka headers
    assert parent(parent(finish)) is render and parent(store) is render
    assert parent(deliver) is finish  # through the completion event's headers
    assert parent(parent(enqueue)) is root
    assert render.attributes["craftkit.render.outcome"] == "succeeded"
    assert render.attributes["craftkit.render.template"] == "invoice"
    assert render.attributes["craftkit.render.pages"] == 1
    assert render.attributes["craftkit.render.bytes"] > 0
    assert deliver.attributes["http.response.status_code"] == 200
    assert deliver.attributes["craftkit.webhook.attempt"] == 1
    # The attempt's log line names its span, so logs and traces lead to each other.
    assert any(line.get("span_id") == deliver.span_id and line.get("trace_id") == trace_id
               for line in log_lines(api.stack, "webhooks"))
    # No span carries the receiver's URL.
    assert not [span for span in trace for value in span.attributes.values()
                if receiver.base in str(value)]


def test_a_webhook_retry_joins_the_renders_trace(api, spans, receiver):
    receiver.plan["/flaky"] = [503, 200]
    subscribe(api, f"{receiver.base}/flaky")
    render_id = api.render(invoice()).json()["id"]
    trace_id = eventually(lambda: render_trace(spans, render_id), 60, "the render's span")

    def attempts() -> list[otlp.Span]:
        found = named(spans.trace(trace_id), "webhooks", "webhook.deliver")
        return found if len(found) == 2 else []

    first, second = sorted(eventually(attempts, 60, "two attempts in the render's trace"),
                           key=lambda span: span.attributes["craftkit.webhook.attempt"])
    assert [(s.attributes["craftkit.webhook.attempt"], s.attributes["http.response.status_code"])
            for s in (first, second)] == [(1, 503), (2, 200)]
    assert first.status_code == ERROR and second.status_code != ERROR
    assert first.parent_id == second.parent_id  # both children of status's FinishRender
    assert len(receiver.at("/flaky")) == 2
    assert json.loads(receiver.at("/flaky")[1].body)["renderId"] == render_id


def test_request_spans_never_carry_a_raw_path_a_query_or_a_clients_trace(api, spans):
    secret = uuid.uuid4().hex
    foreign_trace = uuid.uuid4().hex
    headers = {"traceparent": f"00-{foreign_trace}-{secret[:16]}-01", "baggage": f"k={secret}"}
    api.http.get(f"/v1/renders/{uuid.uuid4()}?token={secret}", headers=headers)
    api.http.get(f"/no/such/{secret}?token={secret}", headers=headers)
    api.http.post(f"/v1/hooks/{uuid.uuid4()}/{secret}", json={})

    def ours() -> list[otlp.Span]:
        found = [span for span in spans.all() if span.service == "craftkit-gateway"
                 and span.kind == SERVER and span.name in {
                     "GET /v1/renders/{id}", "GET unmatched", "POST /v1/hooks/{hook}/{token}"}]
        return found if len({span.name for span in found}) == 3 else []

    found = eventually(ours, 30, "the three requests' spans")
    everything = spans.all()
    # The unknown render: status answered NOT_FOUND, the caller's error, not the server's.
    [read] = [span for span in found if span.name == "GET /v1/renders/{id}"]
    [lookup] = eventually(lambda: named(spans.trace(read.trace_id), "status",
                                        "/craftkit.v1.StatusService/GetRender"), 30, "GetRender")
    assert lookup.attributes["rpc.grpc.status_code"] == 5 and lookup.status_code != ERROR
    # Its access line names the route and the request's own trace (the client's was dropped).
    assert any(line.get("route") == "/v1/renders/{id}" and line.get("trace_id") == read.trace_id
               for line in log_lines(api.stack, "gateway"))
    assert not [span for span in everything if span.trace_id == foreign_trace]
    assert not [(span.name, key) for span in everything
                for key, value in span.attributes.items() if secret in str(value)]
    assert not [span for span in everything if secret in span.name]
    # Probes and health checks (the stack's readiness waits, every dependant's checks) make none.
    assert not [span.name for span in everything
                if span.name in {"GET /readyz", "GET /healthz"} or "grpc.health" in span.name]
