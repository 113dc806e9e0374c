"""The generated JSON Schema and the manifest validator agree: on generated manifests and on
generated data (valid and not), each accepts exactly what the other accepts."""

from __future__ import annotations

import copy
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from craftkit.errors import InvalidInputData
from craftkit.manifest import Manifest

NAMES = st.sampled_from(["a", "b", "c", "qty", "name"])
PATTERNS = {"^[A-Z]+$": "ABC", "[0-9]": "a1", "^INV-\\d{3}$": "INV-123"}


@st.composite
def field_specs(draw, depth=0):
    kind = draw(st.sampled_from(["string", "number", "integer", "boolean", "date", "datetime",
                                 "enum"] + (["object", "array"] if depth < 2 else [])))
    spec: dict = {"type": kind}
    if draw(st.booleans()):
        spec["required"] = False
    if kind in ("number", "integer"):
        low = draw(st.none() | st.integers(-5, 5))
        high = draw(st.none() | st.integers(5, 20))
        spec.update({k: v for k, v in (("min", low), ("max", high)) if v is not None})
    if kind == "string":
        if draw(st.booleans()):
            spec["minLength"] = draw(st.integers(0, 2))
        if draw(st.booleans()):
            spec["maxLength"] = draw(st.integers(3, 6))
        if "maxLength" not in spec and draw(st.booleans()):
            pattern = draw(st.sampled_from(sorted(PATTERNS)))
            spec.update(pattern=pattern, example=PATTERNS[pattern])
    if kind == "enum":
        spec["values"] = draw(st.lists(st.sampled_from(["EUR", "USD", "GBP"]), min_size=1,
                                       max_size=3, unique=True))
    if kind == "array":
        if draw(st.booleans()):
            spec["maxItems"] = draw(st.integers(1, 3))
        spec["of"] = draw(st.sampled_from(["string", "integer", "date"]))
    if kind == "object":
        return {"type": "object", "children": draw(st.dictionaries(NAMES, field_specs(depth + 1),
                                                                   min_size=1, max_size=3))}
    return spec


def flatten(fields: dict, prefix: str = "") -> dict:
    out = {}
    for name, spec in fields.items():
        if spec["type"] == "object":
            out.update(flatten(spec["children"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = spec
    return out


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 30) | st.floats(-10, 30, allow_nan=False)
    | st.text(string.ascii_letters + string.digits + "-:TZ.", max_size=22)
    | st.sampled_from(["EUR", "USD", "2026-01-31", "2026-02-30", "2026-01-31T09:30:00Z",
                       "2026-01-31T09:30:00+02:00", "ABC", "INV-123", "a1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12)


def accepts(manifest: Manifest, data) -> bool:
    try:
        manifest.validate(data)
        return True
    except InvalidInputData:
        return False


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.dictionaries(NAMES, field_specs(), min_size=1, max_size=4), data=st.data())
def test_schema_and_validator_agree(fields, data):
    manifest = Manifest.parse({"fields": flatten(fields)})
    schema = Draft202012Validator(manifest.json_schema(),
                                  format_checker=Draft202012Validator.FORMAT_CHECKER)
    example = manifest.example()
    assert accepts(manifest, example) and schema.is_valid(example)
    for candidate in (data.draw(st.dictionaries(NAMES, JSON, max_size=5)),
                      _mutate(example, data)):
        assert accepts(manifest, candidate) == schema.is_valid(candidate), candidate


NEAR = st.integers(-12, 25) | st.floats(-12, 25, allow_nan=False) | st.sampled_from(
    ["", "x", "xxxxxxx", "2026-13-01", "2026-01-31T25:00:00Z"]) | JSON


def _mutate(example: dict, data) -> dict:
    """The valid example with one value, at any depth, replaced: near misses find the
    disagreements random bodies rarely reach (a number just over its maximum, say)."""
    mutated = copy.deepcopy(example)
    leaves = list(_leaves(mutated))
    if leaves:
        holder, key = data.draw(st.sampled_from(leaves))
        holder[key] = data.draw(NEAR)
    return mutated


def _leaves(node):
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        yield node, key
        if isinstance(value, (dict, list)):
            yield from _leaves(value)
