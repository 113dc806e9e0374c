"""The sample templates the demo installs: each is complete (every manifest field has an example,
and the example body the schema endpoint builds is the sample's own example) and passes lint with
its images."""

from __future__ import annotations

from importlib import resources

import pytest

from craftkit.demo import INVOICE_EXAMPLE, SAMPLES, sample, sample_assets
from craftkit.layout import lint
from craftkit.manifest import Manifest

ALL = sorted(p.name.removesuffix(".json") for p in resources.files("craftkit.samples").iterdir()
             if p.name.endswith(".json"))


def test_the_demo_installs_every_sample_but_the_one_waiting_for_fonts():
    assert set(ALL) - set(SAMPLES) <= {"international"} and set(SAMPLES) <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_field_has_an_example_and_the_schema_example_is_the_sample_example(name):
    spec = sample(name)
    assert [key for key, field in spec["manifest"]["fields"].items() if "example" not in field] == []
    manifest = Manifest.parse(spec["manifest"])
    assert manifest.example() == manifest.validate(spec["example"])


@pytest.mark.parametrize("name", ALL)
def test_every_sample_passes_lint_with_its_images(name):
    spec = sample(name)
    lint(spec["layout"], Manifest.parse(spec["manifest"]), assets=set(sample_assets(name)))


def test_the_logo_is_a_small_png():
    logo = sample_assets("invoice")["logo.png"]
    assert logo.startswith(b"\x89PNG") and len(logo) < 8_000


def test_the_invoice_takes_the_seeds_body_exactly():
    seeds = {"customer": {"name": "Acme Corp"},
             "items": [{"name": "Widget", "qty": 5, "price": 9.99}], "total": 49.95}
    assert INVOICE_EXAMPLE == seeds  # what make run's curl line and the README send
    assert Manifest.parse(sample("invoice")["manifest"]).validate(seeds)["currency"] == "USD"
