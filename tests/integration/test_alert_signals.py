"""The alerts' inputs on the real stack: what an alert's expression selects must move when the
failure it names happens. Here: renders that fail because the PDF cannot be stored (S3 away)
end `failed` for their users, so CraftkitRenderFailureRatioHigh's numerator must count them
(the worker's render outcomes record no attempt that S3 ended)."""

from __future__ import annotations

import re

import yaml

from craftkit.v1 import render_pb2
from tests.integration.conftest import invoice
from tests.integration.test_metrics import scrape
from tests.unit.test_observability import RULES, selectors

SERVICES = ("gateway", "status", "enqueue", "render_worker", "webhooks")


def alert_expr(name: str) -> str:
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    return next(rule["expr"] for group in groups for rule in group["rules"]
                if rule.get("alert") == name)


def matches(labels: dict, matchers: dict) -> bool:
    for label, (op, wanted) in matchers.items():
        if label == "__name__":
            continue
        have = labels.get(label, "")
        found = re.fullmatch(wanted, have) is not None if op in ("Re", "NotRe") else have == wanted
        if found != (op in ("Equal", "Re")):
            return False
    return True


def selected(stack, name: str, matchers: dict) -> float:
    """The sum over every service's samples that a series selector would select."""
    return sum(value for service in SERVICES
               for (metric, labels), value in scrape(stack.metrics_url(service)).items()
               if metric == name and matches(dict(labels), matchers))


def test_renders_failing_for_want_of_s3_count_as_failures_for_the_ratio_alert(stack, api):
    numerator, denominator = selectors(alert_expr("CraftkitRenderFailureRatioHigh"))[:2]
    before = selected(stack, *numerator), selected(stack, *denominator)
    stack.infra.stop_s3()
    try:
        render_id = api.render(invoice("no s3")).json()["id"]
        assert api.wait(render_id, timeout=120).status == render_pb2.RENDER_STATUS_FAILED
    finally:
        stack.infra.start_s3()
    after = selected(stack, *numerator), selected(stack, *denominator)
    assert after[0] - before[0] == 1  # the failed render, once
    assert after[1] - before[1] == 1
