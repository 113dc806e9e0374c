"""The sample templates `make run` seeds, rendered through the whole pipeline: their text, page
count, and page 1 against its image in docs/gallery (`make gallery` renews them); their schema's
example body renders; the demo invoice still takes the seeds' body."""

from __future__ import annotations

import httpx
import pytest

from craftkit.demo import INVOICE_EXAMPLE, SAMPLES, sample
from craftkit.manifest import Manifest
from tests.integration.conftest import pdf_text
from tests.visual import difference

EXPECTED = {
    "invoice": (1, ["Sunhill Studio LLC", "INVOICE", "INV-2026-0142", "Issued May 4, 2026",
                    "Acme Corp", "Acme Corp — Warehouse 2", "Printed business cards",
                    "$1,800.00", "Subtotal", "$7,450.00", "Sales tax 8.5 %", "$633.25",
                    "Total due", "$8,083.25", "PAYMENT TERMS", "Routing 121000248",
                    "Page 1 of 1"]),
    "receipt": (1, ["Corner Shop", "Receipt R-1042", "Coffee beans", "17.80", "Total", "27.65",
                    "Paid: £27.65", "Card ending 4242", "Includes VAT £0.72"]),
    "certificate": (1, ["Certificate of Completion", "Ada Lovelace", "Analytical Engines 101",
                        "May 3, 2026", "12.5 hours of instruction", "CERT-2026-0042"]),
    "shipping-label": (1, ["SHIP TO", "GRACE HOPPER", "Friedrichstraße 43, 10117 Berlin",
                           "EXPRESS", "2.4 kg", "CK123456789DE", "4471-2290"]),
    "report": (2, ["Operations report", "Page 1 of 2", "Page 2 of 2", "Throughput",
                   "579,852", "99.99%", "182,344.0", "9.7%", "Renders, all regions"]),
    "letter": (1, ["Sunhill Studio LLC", "Ms. Dana Whitfield", "May 12, 2026",
                   "Proposal for the Acme brand refresh", "Dear Ms. Whitfield,",
                   "With best regards,", "Jonas Eriksen", "ENCLOSURES", "Page 1 of 1"]),
    # Right-to-left lines extract in drawing order here: the fonts tests check logical order.
    "international": (1, ["納品書", "DN-2026-0318", "2026年5月7日", "株式会社サンヒル東京",
                          "山田 太郎 様", "￥63,800", "ご注文ありがとうございます",
                          "+971 4 555 0199"]),
}


def within_tolerance(mean: float, changed: float) -> bool:
    """Anti-aliasing may move a few pixels (under 100 on an A4 page at 100 dpi); a moved block
    or a different line of text changes hundreds."""
    return mean < 0.05 and changed < 0.0001


def rendered(api, data: dict, slug: str) -> bytes:
    response = api.render(data, slug=slug, sync=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded", body["errorMessage"]
    return httpx.get(body["downloadUrl"]).content


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


@pytest.mark.parametrize("name", SAMPLES)
def test_the_schema_example_body_renders_the_sample_example(api, name):
    """What the schema endpoint offers a new user is the believable document, not 'x'."""
    spec = sample(name)
    schema = api.http.get(f"/v1/templates/{spec['slug']}/versions/1/schema")
    assert schema.status_code == 200, schema.text
    example = schema.json()["example"]
    assert example == Manifest.parse(spec["manifest"]).validate(spec["example"])
    text, pages = pdf_text(rendered(api, example, spec["slug"]))
    assert pages == EXPECTED[name][0] and EXPECTED[name][1][0] in text


def test_the_demo_invoice_takes_the_seeds_body(api):
    text, pages = pdf_text(rendered(api, INVOICE_EXAMPLE, "invoice"))
    assert pages == 1
    for snippet in ("Sunhill Studio LLC", "INVOICE", "Acme Corp", "Widget", "$9.99",
                    "Total due", "$49.95", "PAYMENT TERMS", "Page 1 of 1"):
        assert snippet in text, snippet


def test_the_visual_check_notices_a_change(api):
    spec = sample("invoice")
    data = {**spec["example"], "customer": {"name": "Somebody Else Entirely Ltd"}}
    assert not within_tolerance(*difference(rendered(api, data, "invoice"), "invoice"))
