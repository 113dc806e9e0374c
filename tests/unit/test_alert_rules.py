"""deploy/observability's alerts evaluated by Prometheus's own rule engine (`promtool test
rules`) on synthetic series: every alert fires in the failure it names, and none fires in a
healthy system or an idle one. `make test` installs promtool first (tests/promtool.py, no root
needed).

The series are shaped like what the services export (docs/metrics.md: label values, which
counters are listed at 0 from the start and which appear with their first increment) and what
the PodMonitor adds (job = the pod's app label, namespace, pod, ...), sampled every 30 s like its
scrapes, with rules evaluated every 30 s. A pod that goes away leaves staleness markers, as a
target that disappears does."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from tests import promtool
from tests.unit.test_observability import RULES

SCRAPE = 30
"""Seconds between samples: the PodMonitor's interval (and the rules' evaluation interval)."""
M = 60
"""A minute, for the series' functions of t (seconds since the start)."""
HORIZON = 60
"""Minutes a healthy or idle system is watched: longer than every alert's window and `for:`."""

Value = Callable[[int], float | None]
"""A series as a function of t (seconds): its value, or None while it is not scraped."""


# --- the system: what each pod exports ------------------------------------------------------------

PODS = {"gateway": 3, "status": 2, "enqueue": 2, "render-worker": 3, "webhooks": 2}
"""Pods per service (the production overlay's minimum)."""


def pods(job: str) -> list[str]:
    return [f"{job}-{n}" for n in range(PODS[job])]


def series(metric: str, pod: str, **labels: str) -> str:
    """`metric` from `pod` with the target labels the PodMonitor adds."""
    job = pod.rpartition("-")[0]
    target = {"namespace": "craftkit", "job": job, "pod": pod, "container": job,
              "endpoint": "metrics", "instance": f"{pod}:9090"}
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in {**labels, **target}.items()) + "}"


def const(value: float) -> Value:
    return lambda t: value


def per_second(rate: float, until: float = float("inf"), since: float = 0,
               start: float = 0) -> Value:
    """A counter growing by `rate` a second between `since` and `until` (t, seconds)."""
    return lambda t: start + int(rate * max(0.0, min(t, until) - since))


def until(value: Value, end: float) -> Value:
    """`value` until `end` (t, seconds), then gone (the pod deleted: its target disappears)."""
    return lambda t: value(t) if t < end else None


def noise(low: float, high: float, period: int = 7) -> Value:
    """A gauge wandering between `low` and `high` (deterministic)."""
    return lambda t: low + (high - low) * ((t // SCRAPE * 3) % period) / (period - 1)


PARTITIONS = 12


def partitions(job: str) -> dict[str, list[int]]:
    """Each pod of `job`'s share of the partitions (the consumer group's assignment)."""
    return {pod: list(range(PARTITIONS))[n::PODS[job]] for n, pod in enumerate(pods(job))}


def lag(pod: str, partition: int, value: Value) -> tuple[str, Value]:
    group, topic = (("render-workers", "render.jobs") if pod.startswith("render-worker")
                    else ("webhooks", "render.events"))
    return series("craftkit_kafka_consumer_lag", pod, group=group, topic=topic,
                  partition=str(partition)), value


STATUSES = ("queued", "rendering", "succeeded", "failed", "cancelled")
OUTCOMES = ("delivered", "retrying", "gave_up")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")


def healthy(renders: float = 2.0) -> dict[str, Value]:
    """A healthy system for HORIZON minutes: `renders` a second accepted and finished (3 % of
    them failed: clients' templates and data), webhooks delivered, REST traffic with its
    probes, pools with room, small consumer lag, outbox rows sent at once."""
    s: dict[str, Value] = {}
    for job in PODS:
        for pod in pods(job):
            s[series("up", pod)] = const(1)
            s[series("craftkit_serving", pod)] = const(1)
    n = PODS["gateway"]
    for pod in pods("gateway"):
        http = [("/v1/renders", "POST", "201", renders), ("/v1/renders/{id}", "GET", "200", 10),
                ("/v1/renders/{id}", "GET", "404", 0.2), ("/v1/renders", "POST", "422", 0.1),
                ("/v1/renders/{id}", "GET", "500", 0.01), ("/readyz", "GET", "200", 0.2 * n),
                ("/healthz", "GET", "200", 0.1 * n)]
        for route, method, status, rate in http:
            s[series("craftkit_http_request_duration_seconds_count", pod, route=route,
                     method=method, status=status)] = per_second(rate / n)
    for job in ("status", "enqueue"):  # both serve the outbox (the same table's age)
        for pod in pods(job):
            for topic in ("render.jobs", "render.events"):
                s[series("craftkit_outbox_oldest_age_seconds", pod, topic=topic)] = noise(0, 3)
    for pod in pods("enqueue"):  # TRANSITIONS' five statuses are listed at 0 from the start
        share = renders / PODS["enqueue"]
        for template, part in (("invoice", .7), ("receipt", .3)):
            s[series("craftkit_renders_accepted_total", pod, template=template)] = per_second(
                share * part)
        for status in STATUSES:
            s[series("craftkit_render_transitions_total", pod, status=status)] = per_second(
                share if status == "queued" else 0)
    for pod in pods("status"):
        share = renders / PODS["status"]
        for status, rate in (("queued", 0), ("rendering", share), ("succeeded", share * .97),
                             ("failed", share * .03), ("cancelled", 0)):
            s[series("craftkit_render_transitions_total", pod, status=status)] = per_second(rate)
    for job in ("status", "enqueue", "webhooks"):
        for pod in pods(job):
            s.update(pool(pod, busy=3))
    for job in ("render-worker", "webhooks"):
        for pod, owned in partitions(job).items():
            s.update(lag(pod, p, noise(0, 40)) for p in owned)
    for pod in pods("webhooks"):
        share = renders / PODS["webhooks"]
        for outcome in OUTCOMES:
            for status_class in STATUS_CLASSES:
                rate = {("delivered", "2xx"): share * .95, ("retrying", "5xx"): share * .03,
                        ("retrying", "none"): share * .02}.get((outcome, status_class), 0)
                s[series("craftkit_webhook_deliveries_total", pod, outcome=outcome,
                         status_class=status_class)] = per_second(rate)
        s[series("craftkit_webhook_endpoints_paused", pod)] = const(0)
    return s


def pool(pod: str, busy: int, waiting: int = 0, size: int = 8, timeouts: Value = const(0)
         ) -> dict[str, Value]:
    """A PostgreSQL pool of `size` (opening 4 at least) with `busy` connections lent out and
    `waiting` callers queueing (psycopg_pool's stats, read at each scrape)."""
    opened = min(size, max(4, busy + 1))
    return {series("craftkit_db_pool_connections", pod): const(opened),
            series("craftkit_db_pool_max_connections", pod): const(size),
            series("craftkit_db_pool_idle_connections", pod): const(opened - busy),
            series("craftkit_db_pool_waiting_requests", pod): const(waiting),
            series("craftkit_db_pool_timeouts_total", pod): timeouts}


def idle(fresh: bool) -> dict[str, Value]:
    """No traffic at all: every counter flat (at what earlier traffic left, or `fresh`: at 0 or
    not listed at all, as just after a restart: renders_accepted_total gets its template label
    with its first render), no lag, nothing waiting."""
    s = healthy()
    for key, value in list(s.items()):
        name = key.partition("{")[0]
        if name.endswith("_total") or name.endswith("_count"):
            if fresh and name == "craftkit_renders_accepted_total":
                del s[key]
            else:
                s[key] = const(0 if fresh else value(3600 * 24))
        elif name in ("craftkit_kafka_consumer_lag", "craftkit_outbox_oldest_age_seconds"):
            s[key] = const(0)
    return s


def without(s: dict[str, Value], match: str, end: float) -> dict[str, Value]:
    """`s` with every series whose key contains `match` gone from `end` (t, seconds)."""
    return {key: until(value, end) if match in key else value for key, value in s.items()}


# --- promtool -------------------------------------------------------------------------------------


def rule_names() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def render(value: Value, minutes: int) -> str:
    out, shown = [], False
    for t in range(0, minutes * M + 1, SCRAPE):
        v = value(t)
        out.append("stale" if v is None and shown else "_" if v is None else repr(float(v)))
        shown = v is not None
    return " ".join(out)


def seconds(duration: str) -> int:
    """promtool's `1h2m30s` in seconds."""
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[unit]
               for n, unit in re.findall(r"(\d+)([hms])", duration))


def firing(tmp_path, s: dict[str, Value], alerts: list[str], minutes: int = HORIZON
           ) -> dict[str, dict[float, list[dict[str, str]]]]:
    """alert -> {minute: the labels of each of its alerts firing then}, every alert of `alerts`
    evaluated by promtool at every evaluation (30 s) for `minutes`; only the minutes (22.5: 22 min
    30 s) where one fires are listed."""
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    for group in groups:  # only the alerts looked at: promtool evaluates every rule given
        group["rules"] = [rule for rule in group["rules"] if rule.get("alert") in alerts]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    checks = [{"eval_time": f"{t}s", "alertname": alert, "exp_alerts": []}
              for alert in alerts for t in range(SCRAPE, minutes * M + 1, SCRAPE)]
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": f"{SCRAPE}s", "tests": [{
        "interval": f"{SCRAPE}s",
        "input_series": [{"series": k, "values": render(v, minutes)} for k, v in s.items()],
        "alert_rule_test": checks}]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, width=1 << 20))
    tool = promtool.executable()
    if tool is None:
        pytest.fail("promtool is not installed: run `make promtool` (make test does)",
                    pytrace=False)
    result = subprocess.run([tool, "test", "rules", "test.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    found: dict[str, dict[float, list[dict[str, str]]]] = {alert: {} for alert in alerts}
    if result.returncode == 0:
        return found
    output = result.stdout + result.stderr
    blocks = re.split(r"^\s*alertname: ", output, flags=re.MULTILINE)[1:]
    assert blocks and "got:[" in output, output  # any other failure: the rules or the series
    for block in blocks:
        name, time = re.match(r"(\w+), time: (\w+),", block).groups()
        labels = [dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line))
                  for line in re.findall(r"Labels:\{(.*)\}", block)]
        found[name][seconds(time) / M] = [
            {k: v for k, v in alert.items() if k not in ("alertname", "severity")}
            for alert in labels]
    return found


def first(timeline: dict[float, list]) -> float | None:
    """The first minute an alert fires, None when it never does."""
    return min(timeline, default=None)


# --- healthy and idle: no alert at all ------------------------------------------------------------


@pytest.mark.parametrize("system", [healthy(), idle(fresh=False), idle(fresh=True)],
                         ids=["healthy", "idle", "idle-just-restarted"])
def test_a_healthy_or_idle_system_raises_no_alert(tmp_path, system):
    assert firing(tmp_path, system, rule_names()) == {name: {} for name in rule_names()}


# --- every alert fires in its failure -------------------------------------------------------------


@dataclass
class Failure:
    alert: str
    story: str
    system: dict[str, Value]
    labels: list[dict[str, str]]
    """What the alert names (its labels but alertname and severity)."""
    within: tuple[int, int]
    """(earliest, latest) minute it may first fire: after its `for:`, before an operator
    would have noticed on their own."""


def kafka_refuses_writes() -> dict[str, Value]:
    s = healthy()
    for key in s:
        if key.startswith("craftkit_outbox_oldest_age_seconds"):
            s[key] = lambda t: max(0, t - 10 * M)
    return s


def workers_fall_behind() -> dict[str, Value]:
    """From minute 10 renders arrive faster than the workers at their maximum render them: every
    partition's lag grows by 0.2 a second; at minute 40 render-worker-2 is deleted and its
    partitions move to render-worker-0 (both report them for one scrape: a rebalance)."""
    s = without(healthy(), 'job="render-worker",pod="render-worker-2"', 40 * M + SCRAPE)
    growing = lambda t: 20 + 0.2 * max(0, t - 10 * M)  # noqa: E731
    for pod, owned in partitions("render-worker").items():
        for p in owned:
            key, _ = lag(pod, p, growing)
            s[key] = until(growing, 40 * M + SCRAPE) if pod == "render-worker-2" else growing
            if pod == "render-worker-2":
                key, _ = lag("render-worker-0", p, growing)
                s[key] = lambda t: growing(t) if t >= 40 * M else None
    return s


def s3_away() -> dict[str, Value]:
    """S3 unreachable from minute 5: every render ends failed after its attempts (status counts
    it); the workers record no outcome for such an attempt."""
    s = healthy()
    for pod in pods("status"):
        s[series("craftkit_render_transitions_total", pod, status="succeeded")] = per_second(
            .97, until=5 * M)
        s[series("craftkit_render_transitions_total", pod, status="failed")] = (
            lambda t: int(.03 * t) + int(max(0, t - 5 * M)))
    return s


def no_worker_left() -> dict[str, Value]:
    """Every worker gone at minute 10 (scaled to 0 by hand, or crash-looping): renders keep
    coming, none ends."""
    s = without(healthy(), 'job="render-worker"', 10 * M)
    for pod in pods("status"):
        for status, rate in (("rendering", 1), ("succeeded", .97), ("failed", .03)):
            s[series("craftkit_render_transitions_total", pod, status=status)] = per_second(
                rate, until=10 * M)
    return s


def egress_blocked() -> dict[str, Value]:
    """From minute 10 the webhooks pods reach no receiver: every attempt gets no answer."""
    s = healthy()
    for pod in pods("webhooks"):
        s[series("craftkit_webhook_deliveries_total", pod, outcome="delivered",
                 status_class="2xx")] = per_second(.95, until=10 * M)
        s[series("craftkit_webhook_deliveries_total", pod, outcome="retrying",
                 status_class="none")] = lambda t: int(.02 * t + max(0, t - 10 * M))
    return s


def breaker_opens() -> dict[str, Value]:
    s = healthy()
    for pod in pods("webhooks"):
        s[series("craftkit_webhook_endpoints_paused", pod)] = lambda t: int(10 * M <= t < 70 * M)
    return s


def not_serving(pod_names: list[str], since: float, until: float = float("inf")
                ) -> dict[str, Value]:
    s = healthy()
    for pod in pod_names:
        s[series("craftkit_serving", pod)] = lambda t: 0 if since <= t < until else 1
    return s


def scrapes_fail(pod_names: list[str], since: float) -> dict[str, Value]:
    """Each pod's /metrics stops answering at `since` (crashed, wedged): `up` 0, every series
    it exported stale."""
    s = healthy()
    for pod in pod_names:
        s = without(s, f'pod="{pod}"', since)
        s[series("up", pod)] = lambda t: 0 if t >= since else 1
    return s


def server_errors() -> dict[str, Value]:
    """A release's bug from minute 10: POST /v1/renders answers 500 (a seventh of requests)."""
    s = healthy()
    for pod in pods("gateway"):
        s[series("craftkit_http_request_duration_seconds_count", pod, route="/v1/renders",
                 method="POST", status="201")] = per_second(2 / 3, until=10 * M)
        s[series("craftkit_http_request_duration_seconds_count", pod, route="/v1/renders",
                 method="POST", status="500")] = per_second(2 / 3, since=10 * M)
    return s


def pool_exhausted() -> dict[str, Value]:
    """Slow queries hold every connection of enqueue-1 from minute 10, callers queueing."""
    s = healthy()
    s.update({k: (lambda t, a=v, b=w: a(t) if t < 10 * M else b(t))
              for (k, v), w in zip(pool("enqueue-1", busy=3).items(),
                                   pool("enqueue-1", busy=8, waiting=5).values(), strict=True)})
    return s


def pool_timeouts() -> dict[str, Value]:
    """status-0 gets no connection in time from minute 10: PostgreSQL accepts none."""
    s = healthy()
    s[series("craftkit_db_pool_timeouts_total", "status-0")] = per_second(0.5, since=10 * M)
    return s


NS = {"namespace": "craftkit"}
FAILURES = [
    Failure("CraftkitOutboxBacklogOld", "Kafka refuses writes from minute 10",
            kafka_refuses_writes(),
            [{**NS, "topic": "render.events"}, {**NS, "topic": "render.jobs"}], within=(16, 18)),
    Failure("CraftkitConsumerLagGrowing", "the workers fall behind from minute 10",
            workers_fall_behind(), [{**NS, "group": "render-workers", "topic": "render.jobs"}],
            within=(30, 45)),
    Failure("CraftkitRenderFailureRatioHigh", "S3 away from minute 5", s3_away(), [NS],
            within=(20, 25)),
    Failure("CraftkitRendersNotFinishing", "every worker gone at minute 10", no_worker_left(),
            [NS], within=(25, 27)),
    Failure("CraftkitWebhookFailureRatioHigh", "egress blocked from minute 10", egress_blocked(),
            [NS], within=(40, 50)),
    Failure("CraftkitWebhookEndpointsPaused", "an endpoint's breaker opens at minute 10",
            breaker_opens(), [NS], within=(25, 26)),
    Failure("CraftkitServiceNotServing", "status-1 loses PostgreSQL at minute 10",
            not_serving(["status-1"], since=10 * M),
            [{**NS, "job": "status", "pod": "status-1", "container": "status",
              "endpoint": "metrics", "instance": "status-1:9090"}], within=(15, 16)),
    Failure("CraftkitServiceDown", "PostgreSQL down at minute 10: no status pod serves",
            not_serving(pods("status"), since=10 * M), [{**NS, "job": "status"}],
            within=(12, 13)),
    Failure("CraftkitServiceDown", "a release crash-loops every gateway pod from minute 10",
            scrapes_fail(pods("gateway"), since=10 * M), [{**NS, "job": "gateway"}],
            within=(12, 13)),
    Failure("CraftkitScrapeTargetDown", "render-worker-1 wedged at minute 10: /metrics silent",
            scrapes_fail(["render-worker-1"], 10 * M),
            [{**NS, "job": "render-worker", "pod": "render-worker-1", "container": "render-worker",
              "endpoint": "metrics", "instance": "render-worker-1:9090"}], within=(15, 16)),
    Failure("CraftkitScrapeTargetsMissing", "the webhooks Deployment scaled to 0 at minute 10",
            without(healthy(), 'job="webhooks"', 10 * M), [{"job": "webhooks"}],
            within=(20, 21)),
    Failure("CraftkitGatewayErrorRatioHigh", "a release answers 500 to every POST",
            server_errors(), [NS], within=(20, 23)),
    Failure("CraftkitDatabasePoolExhausted", "slow queries hold enqueue-1's every connection",
            pool_exhausted(), [{**NS, "job": "enqueue", "pod": "enqueue-1"}], within=(15, 16)),
    Failure("CraftkitDatabasePoolTimeouts", "PostgreSQL accepts no connection from minute 10",
            pool_timeouts(), [{**NS, "job": "status", "pod": "status-0"}], within=(15, 17)),
]


def test_every_alert_has_a_failure_that_fires_it():
    """A new alert cannot go untested: add its Failure above."""
    assert {f.alert for f in FAILURES} == set(rule_names())


@pytest.mark.parametrize("failure", FAILURES, ids=[f"{f.alert}: {f.story}" for f in FAILURES])
def test_the_alert_fires_in_the_failure_it_names(tmp_path, failure):
    minutes = failure.within[1] + 1
    timeline = firing(tmp_path, failure.system, [failure.alert], minutes)[failure.alert]
    started = first(timeline)
    assert started is not None, f"{failure.alert} never fired: {failure.story}"
    earliest, latest = failure.within
    assert earliest <= started <= latest, (failure.story, started)
    named = sorted(timeline[started], key=lambda labels: sorted(labels.items()))
    assert named == failure.labels


# --- what a healthy production does on its own raises nothing -------------------------------------


@dataclass
class NearMiss:
    alert: str
    story: str
    system: dict[str, Value]


def broker_rolling() -> dict[str, Value]:
    """A Kafka broker restarting (Strimzi rolls one at a time): rows wait up to 90 s for a few
    minutes, then the relay sends them."""
    s = healthy()
    for key in s:
        if key.startswith("craftkit_outbox_oldest_age_seconds"):
            s[key] = lambda t: min(90, t - 20 * M) if 20 * M <= t < 23 * M else 0
    return s


def batch_worked_off() -> dict[str, Value]:
    """A customer submits 6,000 renders at minute 5; the workers work them off by minute 30."""
    s = healthy()
    for pod, owned in partitions("render-worker").items():
        s.update(lag(pod, p, lambda t: 0 if t < 5 * M else max(0, 500 - 0.4 * (t - 5 * M)))
                 for p in owned)
    return s


def quiet_night_failures() -> dict[str, Value]:
    """A render a minute, half of them failing (one project's broken template)."""
    s = healthy(renders=1 / 60)
    for pod in pods("status"):
        for status in ("succeeded", "failed"):
            s[series("craftkit_render_transitions_total", pod, status=status)] = per_second(1 / 240)
    return s


def broken_batch() -> dict[str, Value]:
    """One customer's batch with bad data: 30 % of renders fail for 5 minutes."""
    s = healthy()
    for pod in pods("status"):
        s[series("craftkit_render_transitions_total", pod, status="failed")] = (
            lambda t: int(.03 * t + .27 * max(0, min(t, 25 * M) - 20 * M)))
    return s


def rare_renders() -> dict[str, Value]:
    """A render every 5 minutes, finished 5 s after it was accepted (so its end is often scraped
    30 s after its start)."""
    s = idle(fresh=False)
    s[series("craftkit_renders_accepted_total", "enqueue-0", template="invoice")] = (
        lambda t: t // 300)
    s[series("craftkit_render_transitions_total", "status-0", status="succeeded")] = (
        lambda t: max(0, t - 5) // 300)
    return s


def quiet_night_webhooks() -> dict[str, Value]:
    """An attempt a minute, all failing: the only active project's receiver is down."""
    s = idle(fresh=False)
    s[series("craftkit_webhook_deliveries_total", "webhooks-0", outcome="retrying",
             status_class="none")] = lambda t: t // 60
    return s


def rolling_update(job: str) -> dict[str, Value]:
    """Every pod of `job` replaced at minute 20: the new ones start at 19, the old ones report
    NOT_SERVING during their preStop (scraped once) and are gone at 21."""
    s = {}
    for key, value in healthy().items():
        if f'job="{job}"' in key:
            s[key] = until(value, 21 * M)
            new = re.sub(rf'{job}-(\d)', lambda m: f"{job}-{int(m[1]) + PODS[job]}", key)
            s[new] = lambda t, v=value: v(t) if t >= 19 * M else None
        else:
            s[key] = value
    for pod in pods(job):
        s[series("craftkit_serving", pod)] = lambda t: None if t >= 21 * M else int(t < 20 * M)
    return s


def one_scrape_times_out() -> dict[str, Value]:
    s = healthy()
    s[series("up", "render-worker-1")] = lambda t: 0 if t == 20 * M else 1
    return s


def switchover_not_serving() -> dict[str, Value]:
    """A PostgreSQL switchover (CloudNativePG: under a minute): status NOT_SERVING for 50 s."""
    return not_serving(pods("status"), since=20 * M, until=20 * M + 50)


def gateway_pod_not_ready() -> dict[str, Value]:
    """A near-idle evening (a request every 5 s) and gateway-2 cannot reach status from minute 5:
    it is out of traffic, but the kubelet's probes keep coming (/readyz every 5 s, /healthz every
    10 s, per pod) and its /readyz answers 503. No client sees an error."""
    s = idle(fresh=False)
    for pod in pods("gateway"):
        count = lambda route, status, rate, since=0, until=float("inf"): (  # noqa: E731
            series("craftkit_http_request_duration_seconds_count", pod, route=route,
                   method="GET", status=status), per_second(rate, since=since, until=until))
        ready = 5 * M if pod == "gateway-2" else float("inf")
        s.update([count("/v1/renders/{id}", "200", 0.2 / 3), count("/healthz", "200", 0.1),
                  count("/readyz", "200", 0.2, until=ready), count("/readyz", "503", 0.2, ready)])
    s[series("craftkit_serving", "gateway-2")] = lambda t: int(t < 5 * M)
    return s


def switchover_timeouts() -> dict[str, Value]:
    """A PostgreSQL switchover (CloudNativePG: under a minute): callers of status-0 that waited
    through it got no connection in time, 20 of them over 57 s (three scrapes see them)."""
    s = healthy()
    s[series("craftkit_db_pool_timeouts_total", "status-0")] = (
        lambda t: min(20, max(0, (t - 20 * M - 5) // 3)))
    return s


def busy_pool() -> dict[str, Value]:
    """Every connection of enqueue-1 lent out, nobody waiting: busy, not exhausted."""
    s = healthy()
    s.update(pool("enqueue-1", busy=8))
    return s


NEAR_MISSES = [
    NearMiss("CraftkitOutboxBacklogOld", "a Kafka broker rolling", broker_rolling()),
    NearMiss("CraftkitConsumerLagGrowing", "a batch of 6,000 renders worked off",
             batch_worked_off()),
    NearMiss("CraftkitRenderFailureRatioHigh", "a quiet night's failures", quiet_night_failures()),
    NearMiss("CraftkitRenderFailureRatioHigh", "one batch with bad data", broken_batch()),
    NearMiss("CraftkitRendersNotFinishing", "a render every 5 minutes", rare_renders()),
    NearMiss("CraftkitWebhookFailureRatioHigh", "a quiet night's failing receiver",
             quiet_night_webhooks()),
    NearMiss("CraftkitServiceNotServing", "a rolling update of status", rolling_update("status")),
    NearMiss("CraftkitServiceDown", "a rolling update of status", rolling_update("status")),
    NearMiss("CraftkitServiceDown", "a PostgreSQL switchover", switchover_not_serving()),
    NearMiss("CraftkitServiceDown", "one status pod of two NOT_SERVING",
             not_serving(["status-1"], since=10 * M)),
    NearMiss("CraftkitScrapeTargetDown", "one scrape timing out", one_scrape_times_out()),
    NearMiss("CraftkitScrapeTargetsMissing", "a rolling update of webhooks",
             rolling_update("webhooks")),
    NearMiss("CraftkitGatewayErrorRatioHigh", "one gateway pod not ready, hardly any traffic",
             gateway_pod_not_ready()),
    NearMiss("CraftkitDatabasePoolExhausted", "a busy pool", busy_pool()),
    NearMiss("CraftkitDatabasePoolTimeouts", "a PostgreSQL switchover", switchover_timeouts()),
]


@pytest.mark.parametrize("near", NEAR_MISSES, ids=[f"{n.alert}: {n.story}" for n in NEAR_MISSES])
def test_what_a_healthy_production_does_raises_no_alert(tmp_path, near):
    assert firing(tmp_path, near.system, [near.alert]) == {near.alert: {}}, near.story
