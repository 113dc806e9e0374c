"""The render worker's render outcomes: failed is the data's fault, killed a limit's."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from services.render_worker import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def renders(template: str, outcome: str) -> float:
    return value("craftkit_render_duration_seconds_count", template=template, outcome=outcome)


def test_a_failure_without_a_limit_is_the_templates_and_one_with_a_limit_is_a_kill():
    before = (renders("letter", "failed"), renders("letter", "killed"),
              value("craftkit_renders_killed_total", limit="pages"))
    metrics.Attempt("letter").failed(None)
    metrics.Attempt("letter").failed("pages")
    assert (renders("letter", "failed"), renders("letter", "killed"),
            value("craftkit_renders_killed_total", limit="pages")) == tuple(
        n + 1 for n in before)


def test_a_render_without_a_slug_is_counted_as_unknown():
    before = renders("unknown", "succeeded")
    metrics.Attempt("").succeeded(b"%PDF-1.4", pages=1)
    assert renders("unknown", "succeeded") == before + 1


async def test_a_render_is_in_flight_until_its_attempt_ends_however_it_ends():
    seen = []

    @metrics.in_flight
    async def attempt(fail: bool) -> None:
        seen.append(value("craftkit_renders_in_flight"))
        if fail:
            raise RuntimeError("a bug")

    before = value("craftkit_renders_in_flight")
    await attempt(False)
    with pytest.raises(RuntimeError):
        await attempt(True)
    assert seen == [before + 1, before + 1]
    assert value("craftkit_renders_in_flight") == before
