"""A version that passes lint renders for every manifest-valid input, or fails with a RenderError
a user can act on: never a crash. Checked on the sample templates with generated valid data."""

from __future__ import annotations

import string
from datetime import timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from craftkit.demo import SAMPLES, sample, sample_assets
from craftkit.layout import Limits, RenderError, lint, render_pdf
from craftkit.manifest import Manifest, Node

ALPHABET = string.printable + "äöüßéèçñ€£ΩπЖж漢"


def values(node: Node, depth: int = 0) -> st.SearchStrategy:
    """Data the node accepts (patterns aside: their examples stand in)."""
    spec = node.spec
    if "pattern" in spec:
        return st.just(spec["example"])
    kind = node.type
    if kind == "object":
        required = {n: values(c, depth + 1) for n, c in node.children.items() if c.required}
        optional = {n: values(c, depth + 1) for n, c in node.children.items() if not c.required}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "array":
        low = spec.get("minItems", 0)
        return st.lists(values(node.item, depth + 1), min_size=low,
                        max_size=min(spec.get("maxItems", 30), max(low, 30)))
    if kind == "string":
        return st.text(ALPHABET, min_size=spec.get("minLength", 0),
                       max_size=min(spec.get("maxLength", 60), 60))
    if kind in ("number", "integer"):
        low, high = spec.get("min", -1e9), spec.get("max", 1e9)
        return (st.integers(int(low) if low == int(low) else int(low) + 1, int(high))
                if kind == "integer" else st.floats(low, high, allow_nan=False))
    if kind == "enum":
        return st.sampled_from(spec["values"])
    if kind == "date":
        return st.dates().map(lambda d: d.isoformat())
    if kind == "datetime":
        return st.datetimes(timezones=st.just(timezone.utc)).map(
            lambda d: d.isoformat())
    return st.booleans()


@pytest.mark.parametrize("name", SAMPLES)
def test_valid_data_renders_or_fails_with_a_message(name):
    spec = sample(name)
    manifest = Manifest.parse(spec["manifest"])
    assets = sample_assets(name)
    lint(spec["layout"], manifest, assets=set(assets))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=values(manifest.root))
    def check(data):
        valid = manifest.validate(data)
        try:
            assert render_pdf(spec["layout"], valid, limits=Limits(seconds=20),
                              assets=assets).startswith(b"%PDF")
        except RenderError as exc:
            assert str(exc) and "Traceback" not in str(exc)

    check()
