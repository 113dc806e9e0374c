"""The sample templates the demo installs: each is complete (every manifest field has an example,
and the example body the schema endpoint builds is the sample's own example) and passes lint with
its images."""

from __future__ import annotations

import io
from importlib import resources

import pdfplumber
import pytest

from craftkit.demo import INVOICE_EXAMPLE, SAMPLES, sample, sample_assets
from craftkit.layout import lint
from craftkit.manifest import Manifest
from tests.visual import render_sample

ALL = sorted(p.name.removesuffix(".json") for p in resources.files("craftkit.samples").iterdir()
             if p.name.endswith(".json"))


def test_the_demo_installs_every_sample():
    assert set(SAMPLES) == set(ALL)


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


def first_page(name: str):
    return pdfplumber.open(io.BytesIO(render_sample(name))).pages[0]


def overlapping(words: list[dict]) -> list[tuple[str, str]]:
    """Pairs of words whose boxes cross by more than half a point."""
    return [(a["text"], b["text"]) for i, a in enumerate(words) for b in words[i + 1:]
            if a["x0"] < b["x1"] - 0.5 and b["x0"] < a["x1"] - 0.5
            and a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5]


@pytest.mark.parametrize("name", SAMPLES)
def test_no_two_words_of_a_sample_overlap(name):
    assert overlapping(first_page(name).extract_words()) == []


@pytest.mark.parametrize("name, share", [("shipping-label", 0.85), ("certificate", 0.8)])
def test_the_label_and_the_certificate_fill_their_page(name, share):
    """The label's lower 40 % and the certificate's lower half were empty."""
    page = first_page(name)
    drawn = page.chars + page.rects + page.lines + page.curves + page.images
    assert max(o["bottom"] for o in drawn) > share * page.height
