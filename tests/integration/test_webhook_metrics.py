"""What an operator sees on the webhooks service's /metrics while receivers fail and recover:
attempts by outcome and status class, attempt latency, pending deliveries and the oldest one's
age, endpoints paused by their breaker.

A stack of its own: the backlog gauges count the whole schedule (every project's), so their exact
values need a database no other test writes to; and deliveries give up after 15 s here (a breaker
opens after 2 s of failures and pauses the endpoint for 4 s), so giving up is seen in seconds;
a receiver may take 10 s to answer, so a slow one holds its delivery pending for a while."""

from __future__ import annotations

import pytest

from craftkit.devstack import Infra, Stack
from tests.integration.conftest import FAST_RECOVERY, eventually, invoice, new_api
from tests.integration.scraped import Scrape

SCHEDULE = {"WEBHOOK_GIVE_UP_SECONDS": "15", "WEBHOOK_BREAKER_AFTER_SECONDS": "2",
            "WEBHOOK_BREAKER_PAUSE_SECONDS": "4", "WEBHOOK_TIMEOUT_SECONDS": "10"}
DELIVERIES = "craftkit_webhook_deliveries_total"
ATTEMPTS = "craftkit_webhook_attempt_duration_seconds_count"
PENDING = "craftkit_webhook_pending_deliveries"
OLDEST = "craftkit_webhook_oldest_pending_age_seconds"
PAUSED = "craftkit_webhook_endpoints_paused"


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    infra = Infra(tmp_path_factory.mktemp("webhook-metrics")).start()
    stack = Stack(infra, env_overrides={**FAST_RECOVERY, **SCHEDULE}).start()
    try:
        yield stack
    finally:
        stack.stop()
        infra.stop()


@pytest.fixture
def api(hooks):
    api = new_api(hooks)
    yield api
    api.close()


def scrape(stack) -> Scrape:
    return Scrape(stack.metrics_url("webhooks"))


def endpoint(api, url: str) -> str:
    response = api.http.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def delivery_statuses(api, endpoint_id: str) -> list[str]:
    return [d["status"] for d in
            api.http.get(f"/v1/webhooks/{endpoint_id}/deliveries").json()["deliveries"]]


def test_every_webhook_metric_is_listed_with_its_label_sets(hooks):
    metrics = scrape(hooks)
    for name in ("craftkit_webhook_deliveries_total", "craftkit_webhook_attempt_duration_seconds",
                 PENDING, OLDEST, PAUSED, "craftkit_kafka_consumer_lag"):
        assert metrics.lists(name), name
    assert {(s["outcome"], s["status_class"]) for s in metrics.series(DELIVERIES)} == {
        (outcome, status_class) for outcome in ("delivered", "retrying", "gave_up")
        for status_class in ("2xx", "3xx", "4xx", "5xx", "none")}


def test_a_receiver_answering_500_then_200_shows_a_retry_then_a_delivery(hooks, api, receiver):
    before = scrape(hooks)
    receiver.plan["/flaky"] = [500, 200]
    hook = endpoint(api, f"{receiver.base}/flaky")
    assert api.render(invoice(), sync=True).json()["status"] == "succeeded"
    eventually(lambda: delivery_statuses(api, hook) == ["delivered"], what="the delivery")

    after = scrape(hooks)
    for labels in ({"outcome": "retrying", "status_class": "5xx"},
                   {"outcome": "delivered", "status_class": "2xx"}):
        assert after.value(DELIVERIES, **labels) == before.value(DELIVERIES, **labels) + 1
    for outcome in ("failed", "delivered"):
        assert after.value(ATTEMPTS, outcome=outcome) == before.value(ATTEMPTS,
                                                                      outcome=outcome) + 1
    assert after.value(DELIVERIES, outcome="gave_up") == before.value(DELIVERIES,
                                                                      outcome="gave_up")


def test_a_delivery_waiting_on_a_slow_receiver_ages_the_backlog_until_it_is_delivered(
        hooks, api, receiver):
    receiver.plan["/slow"] = [-8]  # answers 200 after 8 s (the attempt's timeout is 10 s)
    hook = endpoint(api, f"{receiver.base}/slow")
    assert api.render(invoice(), sync=True).json()["status"] == "succeeded"

    # The gauges are refreshed every 5 s: at least once while the receiver holds the attempt.
    eventually(lambda: (s := scrape(hooks)).value(PENDING) == 1 and s.value(OLDEST) > 0,
               what="one delivery pending, with an age")
    eventually(lambda: delivery_statuses(api, hook) == ["delivered"], what="the delivery")
    after = eventually(lambda: (s := scrape(hooks)).value(PENDING) == 0 and s, what="none pending")
    assert after.value(OLDEST) == 0


def test_a_receiver_that_keeps_failing_is_pending_then_paused_then_given_up(hooks, api,
                                                                             receiver):
    before = scrape(hooks)
    receiver.plan["/down"] = [503]
    hook = endpoint(api, f"{receiver.base}/down")
    assert api.render(invoice(), sync=True).json()["status"] == "succeeded"

    eventually(lambda: scrape(hooks).value(PENDING) == 1, what="one delivery pending")
    paused = eventually(lambda: (s := scrape(hooks)).value(PAUSED) == 1 and s,
                        what="the endpoint paused")
    # Its delivery is still pending, but one customer's broken receiver does not age the backlog
    # an operator watches: a paused endpoint's deliveries wait by design.
    assert paused.value(PENDING) == 1 and paused.value(OLDEST) == 0
    eventually(lambda: delivery_statuses(api, hook) == ["failed"], timeout=40,
               what="the delivery given up")

    after = eventually(lambda: (s := scrape(hooks)).value(PENDING) == 0 and s, what="none pending")
    assert after.value(OLDEST) == 0
    assert (after.value(DELIVERIES, outcome="gave_up", status_class="5xx")
            == before.value(DELIVERIES, outcome="gave_up", status_class="5xx") + 1)
    assert (after.value(DELIVERIES, outcome="retrying", status_class="5xx")
            == before.value(DELIVERIES, outcome="retrying", status_class="5xx")
            + len(receiver.at("/down")) - 1)
    # Its pause ends and nothing is left to try: the breaker is no longer counted open.
    eventually(lambda: scrape(hooks).value(PAUSED) == 0, what="no endpoint paused")
