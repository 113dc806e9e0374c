"""The webhooks service's attempt counting: what became of the delivery, and the status class."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from services.webhooks import metrics


def count(outcome: str, status_class: str) -> float:
    return REGISTRY.get_sample_value("craftkit_webhook_deliveries_total",
                                     {"outcome": outcome, "status_class": status_class})


@pytest.mark.parametrize("code, expected", [
    (200, "2xx"), (204, "2xx"), (301, "3xx"), (404, "4xx"), (503, "5xx"),
    (None, "none"), (101, "none"), (600, "none")])
def test_status_classes_are_a_bounded_set(code, expected):
    assert metrics.status_class(code) == expected


@pytest.mark.parametrize("code, delivered, delay, outcome, status_class", [
    (200, True, 0.0, "delivered", "2xx"),
    (500, False, 60.0, "retrying", "5xx"),  # the next attempt comes before give_up_at
    (500, False, 7200.0, "gave_up", "5xx"),  # it would come after: the delivery is failed
    (None, False, 7200.0, "gave_up", "none"),  # no answer at all
])
def test_an_attempt_counts_what_became_of_its_delivery(code, delivered, delay, outcome,
                                                       status_class):
    give_up_at = datetime.now(timezone.utc) + timedelta(hours=1)
    before = count(outcome, status_class)
    metrics.attempted(code, delivered, give_up_at, delay, 0.01)
    assert count(outcome, status_class) == before + 1
