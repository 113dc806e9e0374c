"""The sample templates `make run` seeds, rendered through the whole pipeline: their text, page
count, and page 1 against a committed reference image (tests/references, `python -m
tests.visual` to renew)."""

from __future__ import annotations

import httpx
import pytest

from craftkit.demo import SAMPLES, sample
from tests.integration.conftest import pdf_text
from tests.visual import difference

EXPECTED = {
    "invoice": (1, ["Invoice", "Bill to: Acme Corp", "Widget", "9.99", "Total: 49.95",
                    "Page 1 of 1"]),
    "receipt": (1, ["Corner Shop", "Receipt R-1042", "Coffee beans", "17.80", "Total", "19.90",
                    "Paid: £19.90", "Card ending 4242"]),
    "certificate": (1, ["Certificate of Completion", "Ada Lovelace", "Analytical Engines 101",
                        "May 3, 2026", "12.5 hours of instruction", "CERT-2026-0042"]),
    "shipping-label": (1, ["SHIP TO:", "GRACE HOPPER", "Friedrichstraße 43, 10117 Berlin",
                           "EXPRESS", "2.4 kg", "CK123456789DE"]),
    "report": (2, ["Operations report", "Page 1 of 2", "Page 2 of 2", "Throughput",
                   "182,344.00", "12.4%", "303,248.40"]),
}


def within_tolerance(mean: float, changed: float) -> bool:
    """Anti-aliasing may move a few pixels (about 50 on an A4 page at 72 dpi); a moved block or
    a different line of text changes hundreds."""
    return mean < 0.05 and changed < 0.0001


def test_every_sample_is_checked():
    assert set(EXPECTED) == set(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_renders_its_example(api, name):
    spec = sample(name)
    response = api.render(spec["example"], slug=spec["slug"], sync=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded", body["errorMessage"]
    assert body["downloadUrl"].endswith("/" + spec["defaultFilename"])
    pdf = httpx.get(body["downloadUrl"]).content
    text, pages = pdf_text(pdf)
    pages_expected, snippets = EXPECTED[name]
    assert pages == pages_expected
    for snippet in snippets:
        assert snippet in text, snippet
    assert within_tolerance(*difference(pdf, name))


def test_the_visual_check_notices_a_change(api):
    spec = sample("invoice")
    data = {**spec["example"], "customer": {"name": "Somebody Else Entirely Ltd"}}
    body = api.render(data, sync=True).json()
    assert not within_tolerance(*difference(httpx.get(body["downloadUrl"]).content, "invoice"))
