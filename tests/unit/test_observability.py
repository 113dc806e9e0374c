"""deploy/observability, checked offline: the Grafana dashboard loads and every query in it
parses, the PrometheusRule's alerts are complete (severity, summary, description, a runbook
section that exists) and parse, and every metric the dashboard and the alerts use is in the
operator's catalogue (docs/metrics.md), which tests/integration/test_metric_names.py compares
with what the real services export. PromQL is parsed by promql-parser (the Rust promql-parser
crate, Prometheus's grammar); promtool is not available here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "craftkit-dashboard.json"
RULES = OBSERVABILITY / "prometheus-rules.yaml"
CATALOGUE = ROOT / "docs" / "metrics.md"
RUNBOOK = ROOT / "docs" / "runbook.md"
SERVICES = {"gateway", "status", "enqueue", "render-worker", "webhooks"}
"""The `job` of each service: its pods' `app` label (the PodMonitor's jobLabel)."""
FROM_PROMETHEUS = {"up"}
"""Series Prometheus makes itself for every target (never exported by a service)."""
GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range")
SEVERITIES = {"critical", "warning", "info"}


# --- the catalogue and PromQL ------------------------------------------------------------------


def catalogue() -> dict[str, str]:
    """metric name -> type, from the first two cells of docs/metrics.md's table rows."""
    rows = re.findall(r"^\| `([a-z_:][a-z0-9_:]*)` \| (counter|gauge|histogram) \|",
                      CATALOGUE.read_text(), re.MULTILINE)
    assert rows, "docs/metrics.md lists no metric"
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a metric is listed twice"
    return dict(rows)


def parse(expr: str):
    """A PromQL expression as Prometheus would parse it; Grafana's interval variables stand in
    for a duration, and other template variables may only appear inside label values."""
    for variable in GRAFANA_INTERVALS:
        expr = expr.replace(variable, "5m")
    return promql_parser.parse(expr)


def selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(metric name, {label: (op, value)}) of every series selector in an expression; the name
    given as `{__name__="..."}` counts too. A selector with no metric name fails."""
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            matchers = {m.name: (str(m.op).rpartition(".")[2], m.value)
                        for m in node.matchers.matchers}
            name = node.name or matchers.get("__name__", ("", ""))[1]
            assert name, f"a selector without a metric name in {expr!r}"
            found.append((name, matchers))
        return True

    promql_parser.walk(parse(expr), visit)
    return found


def metric_of(series: str, known: dict[str, str]) -> str | None:
    """The catalogued metric a series name belongs to: itself, or the histogram whose _bucket,
    _sum or _count series it is. None when it is not catalogued."""
    if series in known:
        return series
    base, _, suffix = series.rpartition("_")
    if suffix in ("bucket", "sum", "count") and known.get(base) == "histogram":
        return base
    return None


def uncatalogued(exprs: list[str]) -> set[str]:
    known = catalogue()
    return {name for expr in exprs for name, _ in selectors(expr)
            if name not in FROM_PROMETHEUS and metric_of(name, known) is None}


def jobs_named(exprs: list[str]) -> set[str]:
    """Every value a `job` matcher compares with (a regex's alternatives split)."""
    values = set()
    for expr in exprs:
        for _, matchers in selectors(expr):
            if "job" in matchers:
                op, value = matchers["job"]
                values |= set(value.split("|")) if op in ("Re", "NotRe") else {value}
    return values


def test_the_catalogue_matches_the_metric_contract():
    """Prometheus' naming rules: counters end in _total, nothing else does, every name is
    Craftkit's, gRPC's (grpc-ecosystem) or prometheus-client's own; units in the name."""
    for name, kind in catalogue().items():
        assert re.fullmatch(r"(craftkit|grpc|process|python)_[a-z0-9_]+", name), name
        assert name.endswith("_total") == (kind == "counter"), name
        if kind == "histogram":
            assert name.endswith(("_seconds", "_bytes", "_pages")), name


@pytest.mark.parametrize("expr, names", [
    # Histogram series, a label named like a function, regex matchers, offset, bool, grouping.
    ('histogram_quantile(0.99, sum by (le, rate) (rate(a_seconds_bucket{job=~"x|y"}[5m] '
     'offset 1h)))', ["a_seconds_bucket"]),
    ('sum without (instance) (b_total) > bool on (job) group_left (pod) c', ["b_total", "c"]),
    # Names hidden in __name__, strings that look like metrics, a subquery, absent().
    ('{__name__="d_total", path="e_total"} or label_replace(f, "g", "$1", "h", "(.*)")',
     ["d_total", "f"]),
    ('max_over_time(deriv(sum(i)[30m:1m])[1h:]) and absent(j{job="gateway"})', ["i", "j"]),
    # Keywords as label names; durations and numbers are not names.
    ('count by (by, on, ignoring) (k offset -5m) * 1e3 - 5', ["k"]),
])
def test_selectors_find_every_metric_and_nothing_else(expr, names):
    assert [name for name, _ in selectors(expr)] == names


@pytest.mark.parametrize("expr", ['rate(a[5m)', 'sum by (le (a)', 'a{job="x}', 'a +', 'rate(a)'])
def test_broken_promql_is_refused(expr):
    with pytest.raises(ValueError):
        parse(expr)


def test_histogram_series_map_to_their_histogram_only():
    known = {"x_seconds": "histogram", "y": "gauge", "y_count_total": "counter"}
    assert metric_of("x_seconds_bucket", known) == "x_seconds"
    assert metric_of("x_seconds_count", known) == "x_seconds"
    assert metric_of("y_count", known) is None  # a gauge has no _count series
    assert metric_of("y_count_total", known) == "y_count_total"
    assert metric_of("z_sum", known) is None


# --- the dashboard --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows included."""
    return [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]


def queries(dashboard: dict) -> list[str]:
    return [t["expr"] for p in all_panels(dashboard) for t in p.get("targets", [])]


def test_the_dashboard_is_an_importable_grafana_dashboard(dashboard):
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 39
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = all_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_the_dashboard_has_the_rows_an_operator_looks_for(dashboard):
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    for wanted in ("Pipeline", "Gateway", "gRPC: status", "gRPC: enqueue", "gRPC: webhooks",
                   "Webhooks", "Worker", "Saturation"):
        assert any(row.startswith(wanted) for row in rows), wanted


def test_every_dashboard_query_parses(dashboard):
    for expr in queries(dashboard):
        try:
            parse(expr)
        except ValueError as exc:
            pytest.fail(f"{expr}: {exc}")


def test_the_dashboard_uses_catalogued_metrics_and_real_jobs_only(dashboard):
    assert uncatalogued(queries(dashboard)) == set()
    assert jobs_named(queries(dashboard)) <= SERVICES


def test_every_dashboard_query_is_scoped_to_the_chosen_namespace(dashboard):
    """Two Craftkit installations in one Prometheus never mix on one graph."""
    for expr in queries(dashboard):
        for name, matchers in selectors(expr):
            assert matchers.get("namespace") == ("Re", "$namespace"), (name, expr)


# --- the alerts -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    found = [rule for group in document["spec"]["groups"] for rule in group["rules"]]
    assert found
    return found


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces
    to hyphens."""
    return {re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#{1,6} (.+)$", markdown, re.MULTILINE)}


def test_every_alert_is_complete_and_has_its_runbook_section(rules):
    anchors = github_anchors(RUNBOOK.read_text())
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"Craftkit[A-Z][A-Za-z]+", name)
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, name
        assert promql_parser.parse_duration(rule["for"]).total_seconds() >= 120, name
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        url, _, anchor = annotations["runbook_url"].partition("#")
        assert url.endswith("/docs/runbook.md"), name
        assert anchor == name.lower() and anchor in anchors, name


def test_the_alerts_cover_what_the_operators_asked_for(rules):
    exprs = {rule["alert"]: rule["expr"] for rule in rules}
    used = {name for expr in exprs.values() for name, _ in selectors(expr)}
    for metric in ("craftkit_outbox_oldest_age_seconds", "craftkit_kafka_consumer_lag",
                   "craftkit_render_transitions_total", "craftkit_webhook_deliveries_total",
                   "craftkit_webhook_endpoints_paused", "craftkit_serving", "up",
                   "craftkit_db_pool_waiting_requests", "craftkit_db_pool_timeouts_total"):
        assert metric in used, metric


def test_every_alert_expression_parses_and_names_catalogued_metrics(rules):
    for rule in rules:
        try:
            parse(rule["expr"])
        except ValueError as exc:
            pytest.fail(f"{rule['alert']}: {exc}")
    assert uncatalogued([rule["expr"] for rule in rules]) == set()
    assert jobs_named([rule["expr"] for rule in rules]) <= SERVICES


def threshold(expr: str) -> float:
    """The number the first comparison of an alert's expression compares with."""
    node = parse(expr)
    while not isinstance(node.rhs, promql_parser.NumberLiteral):
        node = node.lhs
    return node.rhs.val


def test_thresholds_leave_room_for_what_a_healthy_system_does(rules, monkeypatch):
    """An alert that fires on a healthy system teaches operators to ignore it: the outbox
    relays unsent rows after OUTBOX_RELAY_AFTER_SECONDS, and KEDA adds a worker per
    lagThreshold messages of lag (deploy/k8s), so neither may alert near those figures."""
    from craftkit.config import Kafka
    from tests.unit.test_k8s import environment, kustomize, named

    production = kustomize("overlays/production")
    for key, value in environment(production, "enqueue").items():
        monkeypatch.setenv(key, value)
    by_name = {rule["alert"]: rule for rule in rules}
    outbox = by_name["CraftkitOutboxBacklogOld"]
    assert threshold(outbox["expr"]) >= 10 * Kafka.from_env().relay_after_seconds
    scaled = named(production, "ScaledObject", "render-worker")["spec"]
    lag = threshold(by_name["CraftkitConsumerLagGrowing"]["expr"])
    assert lag >= 5 * int(scaled["triggers"][0]["metadata"]["lagThreshold"])
    # A failing pod is taken out of traffic by its readiness probe first; a paging alert only
    # when no pod of the service serves.
    assert by_name["CraftkitServiceNotServing"]["labels"]["severity"] == "warning"
    assert by_name["CraftkitServiceDown"]["labels"]["severity"] == "critical"


def test_the_runbook_has_no_section_for_an_alert_that_does_not_exist(rules):
    sections = re.findall(r"^## (Craftkit\w+)$", RUNBOOK.read_text(), re.MULTILINE)
    assert sorted(sections) == sorted(rule["alert"] for rule in rules)


def runbook_queries() -> list[str]:
    """The queries of the runbook's ```promql blocks, one a line (a trailing # comment cut)."""
    blocks = re.findall(r"^```promql\n(.*?)^```$", RUNBOOK.read_text(), re.MULTILINE | re.DOTALL)
    return [line.partition("  #")[0].strip() for block in blocks
            for line in block.splitlines() if line.strip()]


def test_the_runbooks_queries_parse_and_name_catalogued_metrics():
    """An operator pastes them into Prometheus during an incident: they must work as written."""
    exprs = runbook_queries()
    assert len(exprs) >= 5
    for expr in exprs:
        try:
            parse(expr)
        except ValueError as exc:
            pytest.fail(f"{expr}: {exc}")
    assert uncatalogued(exprs) == set()
    assert jobs_named(exprs) <= SERVICES


# --- what `kubectl apply -k deploy/observability` applies -------------------------------------


@pytest.fixture(scope="module")
def applied() -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: deploy/observability cannot be rendered here "
                    "(kubectl >= 1.27 with its built-in kustomize is needed)")
    result = subprocess.run([kubectl, "kustomize", str(OBSERVABILITY)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, f"kubectl kustomize deploy/observability:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_the_kustomization_applies_the_dashboard_rules_and_scrapes(applied, dashboard):
    kinds = sorted(o["kind"] for o in applied)
    assert kinds == ["ConfigMap", "PodMonitor", "PrometheusRule"]
    assert all(o["metadata"]["namespace"] == "craftkit" for o in applied)
    [config_map] = [o for o in applied if o["kind"] == "ConfigMap"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"][DASHBOARD.name]) == dashboard


def test_the_pod_monitor_scrapes_every_service_by_its_metrics_port_named_by_app(applied):
    """The `job` the dashboard and the alerts select by is the pods' `app` label, and every
    Deployment of the overlays that serves metrics is scraped (tests/unit/test_k8s.py checks
    that each declares the port)."""
    from tests.unit.test_k8s import kustomize, of_kind, selects

    [monitor] = [o["spec"] for o in applied if o["kind"] == "PodMonitor"]
    assert monitor["jobLabel"] == "app"
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == ["metrics"]
    for deployment in of_kind(kustomize("overlays/production"), "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = [p.get("name") for c in deployment["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])]
        assert ("metrics" in ports) == selects(monitor["selector"], labels), labels
        assert ("metrics" in ports) == (labels["app"] in SERVICES), labels
