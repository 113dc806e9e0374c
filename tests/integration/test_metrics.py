"""What an operator scraping each service's /metrics sees while the system works: renders
counted by template once (not for a deduplicated repeat), gRPC calls by method and code (a
refused token too), HTTP requests by route template (never a raw path), rate-limited requests
by project (summed over the gateway's worker processes), the outbox backlog, pools and health."""

from __future__ import annotations

import secrets
import uuid

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from craftkit import service
from craftkit.devstack import free_port
from craftkit.internal_auth import ClientSecurity
from craftkit.v1 import render_pb2, status_pb2, status_pb2_grpc
from tests.integration.conftest import eventually, invoice

GRPC_SERVERS = ("status", "enqueue", "webhooks")


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a /metrics page: (name, its labels) -> value."""
    text = httpx.get(url, timeout=10).raise_for_status().text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def grpc_handled(method: str, code: str, service_name: str) -> dict:
    return {"grpc_type": "unary", "grpc_service": service_name, "grpc_method": method,
            "grpc_code": code}


def test_a_render_is_counted_once_by_template_and_its_calls_by_method_and_code(stack, api):
    url = {name: stack.metrics_url(name) for name in ("enqueue", "status", "gateway")}
    before = {name: scrape(u) for name, u in url.items()}
    data = invoice()
    created = api.render(data)
    assert created.status_code == 202
    render_id = created.json()["id"]
    assert api.wait(render_id).status == render_pb2.RENDER_STATUS_SUCCEEDED
    assert api.render(data).json()["id"] == render_id  # a deduplicated repeat
    after = {name: scrape(u) for name, u in url.items()}

    def delta(name: str, metric: str, **labels) -> float:
        return value(after[name], metric, **labels) - value(before[name], metric, **labels)

    assert delta("enqueue", "craftkit_renders_accepted_total", template="invoice") == 1
    assert delta("enqueue", "craftkit_render_transitions_total", status="queued") == 1
    enqueue = grpc_handled("EnqueueRender", "OK", "craftkit.v1.EnqueueService")
    assert delta("enqueue", "grpc_server_handled_total", **enqueue) == 2
    assert delta("gateway", "grpc_client_handled_total", **enqueue) == 2
    # Other tests' renders may finish meanwhile: at least this one.
    assert delta("status", "craftkit_render_transitions_total", status="succeeded") >= 1
    assert delta("status", "craftkit_render_transitions_total", status="rendering") >= 1
    assert delta("status", "craftkit_render_end_to_end_seconds_count", status="succeeded") >= 1
    assert delta("enqueue", "craftkit_outbox_sent_total", topic="render.jobs", path="fast") >= 1


def test_requests_are_labelled_by_route_template_and_random_paths_add_no_series(stack, api):
    url = stack.metrics_url("gateway")
    render_id = api.render(invoice()).json()["id"]
    before = scrape(url)
    assert api.http.get(f"/v1/renders/{render_id}").status_code == 200
    for _ in range(30):
        assert api.http.get(f"/v1/{uuid.uuid4()}/{secrets.token_hex(4)}").status_code == 404
        assert httpx.post(f"{stack.base_url}/{uuid.uuid4()}", timeout=10).status_code == 404
    after = scrape(url)
    route = {"route": "/v1/renders/{id}", "method": "GET", "status": "200"}
    assert (value(after, "craftkit_http_request_duration_seconds_count", **route)
            - value(before, "craftkit_http_request_duration_seconds_count", **route)) == 1
    unmatched = ("craftkit_http_request_duration_seconds_count", "unmatched")
    assert (total(after, unmatched[0], route=unmatched[1], status="404")
            - total(before, unmatched[0], route=unmatched[1], status="404")) == 60
    routes = {dict(labels)["route"] for name, labels in after
              if name == "craftkit_http_request_duration_seconds_count"}
    assert not any(render_id in r or r.count("-") >= 4 for r in routes), routes
    assert len(routes) < 60, routes  # the app's templates, not the paths sent


def test_metrics_are_not_served_on_the_api_port(stack):
    assert httpx.get(f"{stack.base_url}/metrics", timeout=10).status_code == 404
    assert "craftkit_http_requests_in_flight" in httpx.get(stack.metrics_url("gateway"),
                                                           timeout=10).text


def test_a_call_with_a_wrong_token_counts_as_unauthenticated(stack, tmp_path):
    url = stack.metrics_url("status")
    labels = grpc_handled("GetRender", "UNAUTHENTICATED", "craftkit.v1.StatusService")
    before = value(scrape(url), "grpc_server_handled_total", **labels)
    token = tmp_path / "wrong"
    token.write_text(secrets.token_urlsafe(32) + "\n")
    with service.blocking_channel(stack.address("status"), ClientSecurity(str(token), "")) as ch:
        with pytest.raises(grpc.RpcError) as caught:
            status_pb2_grpc.StatusServiceStub(ch).GetRender(status_pb2.GetRenderRequest(
                project_id=str(uuid.uuid4()), render_id=str(uuid.uuid4())), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    eventually(lambda: value(scrape(url), "grpc_server_handled_total", **labels) == before + 1,
               what="the refused call counted")


def test_rate_limited_requests_count_under_their_project_summed_over_workers(stack, api):
    """A gateway of two worker processes (multiprocess metrics), each with a burst of 2."""
    metrics_listen = f"127.0.0.1:{free_port()}"
    settings = {"RATE_LIMIT_PER_SECOND": "0.01", "RATE_LIMIT_BURST": "2",
                "GATEWAY_WORKERS": "2", "METRICS_LISTEN": metrics_listen}
    with stack.extra("gateway", settings) as address:
        url = f"http://{metrics_listen}/metrics"
        statuses = [httpx.get(f"http://{address}/v1/renders?limit=1", timeout=10,
                              headers={"authorization": f"Bearer {api.key}"}).status_code
                    for _ in range(12)]
        assert statuses.count(429) >= 12 - 2 * 2, statuses
        samples = scrape(url)
        assert value(samples, "craftkit_rate_limited_total", limit="requests",
                     project=api.project_id) == statuses.count(429)
        assert total(samples, "craftkit_http_request_duration_seconds_count",
                     route="/v1/renders", method="GET") == len(statuses)
        assert value(samples, "craftkit_http_requests_in_flight") == 0


def test_backlog_pools_and_health_are_exported(stack):
    for name in ("enqueue", "status"):
        samples = scrape(stack.metrics_url(name))
        for topic in ("render.events",) + (("render.jobs",) if name == "enqueue" else ()):
            assert ("craftkit_outbox_backlog_rows", frozenset({("topic", topic)})) in samples
            assert value(samples, "craftkit_outbox_oldest_age_seconds", topic=topic) >= 0
    for name in GRPC_SERVERS:
        samples = scrape(stack.metrics_url(name))
        assert value(samples, "craftkit_db_pool_max_connections") > 0, name
        assert value(samples, "craftkit_db_pool_connections") >= 1, name
        assert ("craftkit_db_pool_timeouts_total", frozenset()) in samples, name
        assert value(samples, "craftkit_serving") == 1, name
        assert value(samples, "craftkit_dependency_up", dependency="postgresql") == 1, name
    eventually(lambda: value(scrape(stack.metrics_url("gateway")), "craftkit_serving") == 1,
               what="the gateway's readiness in its metrics")
    gateway = scrape(stack.metrics_url("gateway"))
    for backend in GRPC_SERVERS:
        assert value(gateway, "craftkit_dependency_up", dependency=backend) == 1, backend


def test_sync_waits_are_counted_by_outcome(stack, api):
    url = stack.metrics_url("gateway")
    before = value(scrape(url), "craftkit_sync_waits_total", outcome="answered")
    assert api.render(invoice(), sync=True).status_code == 200
    samples = scrape(url)
    assert value(samples, "craftkit_sync_waits_total", outcome="answered") == before + 1
    assert value(samples, "craftkit_sync_waits_in_progress") == 0
