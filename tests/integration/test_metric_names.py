"""The metrics the dashboard and the alerts are built on are the ones the services export: one
render with a webhook through the real stack, then every service's /metrics is scraped and its
metric families compared with docs/metrics.md and with every name deploy/observability uses.
A metric renamed in the code, or one an alert expects that no service exports, fails here
instead of leaving an empty graph and an alert that can never fire."""

from __future__ import annotations

import json
import re

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import eventually, invoice
from tests.unit import test_observability as observability

SERVICES = ("gateway", "status", "enqueue", "render_worker", "webhooks")
EXPORTED_BY = {"gw": ["gateway"], "st": ["status"], "enq": ["enqueue"], "wk": ["render_worker"],
               "wh": ["webhooks"], "all": list(SERVICES)}
"""The abbreviations of docs/metrics.md's "exported by" column."""


def scrape(stack, name: str) -> dict[str, tuple[str, list]]:
    """metric name -> (type, samples) of one service's /metrics; a counter under its full
    name (prometheus_client's parser drops the _total of a counter family's name)."""
    response = httpx.get(stack.metrics_url(name), timeout=10)
    assert response.status_code == 200, (name, response.status_code)
    return {family.name + ("_total" if family.type == "counter" else ""):
            (family.type, family.samples)
            for family in text_string_to_metric_families(response.text)}


def value(families: dict, sample_name: str, **labels) -> float:
    """The sum of a metric's samples named `sample_name` whose labels include `labels`."""
    metric = re.sub(r"_(bucket|sum|count)$", "", sample_name)
    _, samples = families.get(metric) or families.get(sample_name) or ("", [])
    return sum(s.value for s in samples if s.name == sample_name
               and all(s.labels.get(k) == v for k, v in labels.items()))


def documented_exporters() -> dict[str, set[str]]:
    """metric -> the services docs/metrics.md says export it."""
    rows = re.findall(r"^\| `([a-z_:][a-z0-9_:]*)` \|[^|]*\|[^|]*\| ([a-z, ]+) \|",
                      observability.CATALOGUE.read_text(), re.MULTILINE)
    return {name: {service for abbreviation in cell.split(",")
                   for service in EXPORTED_BY[abbreviation.strip()]}
            for name, cell in rows}


def used_names() -> set[str]:
    """Every metric name a dashboard query, an alert or a runbook query selects (Prometheus'
    own `up` left out)."""
    dashboard = json.loads(observability.DASHBOARD.read_text())
    rules = yaml.safe_load(observability.RULES.read_text())["spec"]["groups"]
    exprs = [*observability.queries(dashboard), *observability.runbook_queries(),
             *[rule["expr"] for group in rules for rule in group["rules"]]]
    return {name for expr in exprs for name, _ in observability.selectors(expr)
            } - observability.FROM_PROMETHEUS


def test_every_metric_the_dashboard_and_alerts_use_is_exported(stack, api, receiver):
    response = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}/hook"})
    assert response.status_code == 201, response.text
    render = api.render(invoice(), sync=True).json()
    assert render["status"] == "succeeded", render
    eventually(lambda: receiver.at("/hook"), timeout=60, what="the webhook delivered")

    # The render and its delivery show on the graphs an operator watches.
    eventually(lambda: value(scrape(stack, "webhooks"), "craftkit_webhook_deliveries_total",
                             outcome="delivered", status_class="2xx") >= 1,
               what="the delivery counted")
    scraped = {name: scrape(stack, name) for name in SERVICES}
    assert value(scraped["enqueue"], "craftkit_renders_accepted_total", template="invoice") >= 1
    assert value(scraped["render_worker"], "craftkit_render_duration_seconds_count",
                 template="invoice", outcome="succeeded") >= 1
    assert value(scraped["gateway"], "craftkit_http_request_duration_seconds_count",
                 route="/v1/templates/{slug}/render", method="POST", status="200") >= 1

    known = observability.catalogue()
    exported: dict[str, dict[str, str]] = {}  # metric -> {service: type}
    for service, families in scraped.items():
        for metric, (kind, _) in families.items():
            exported.setdefault(metric, {})[service] = kind

    missing_used = {name for name in used_names()
                    if observability.metric_of(name, known) not in exported}
    assert missing_used == set(), "the dashboard or the alerts use what no service exports"

    missing = {name for name in known if name not in exported}
    assert missing == set(), "catalogued in docs/metrics.md, exported by no service"
    wrong_type = {name: exported[name] for name, kind in known.items()
                  if any(got != kind for got in exported.get(name, {}).values())}
    assert wrong_type == {}, "exported with another type than docs/metrics.md says"
    wrong_exporters = {name: sorted(exported.get(name, {})) for name, services in
                       documented_exporters().items()
                       if not services <= set(exported.get(name, {}))}
    assert wrong_exporters == {}, "docs/metrics.md names a service that does not export it"

