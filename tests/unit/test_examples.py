"""Example values guessed from field names: plausible, and always within the constraints."""

from __future__ import annotations

import pytest

from craftkit import examples
from craftkit.manifest import Manifest


@pytest.mark.parametrize("path, expected", [
    (["customer", "email"], "jane.doe@example.com"),
    (["customer", "name"], "Acme Corp"),
    (["items[]", "name"], "Widget"),
    (["attendees[]", "name"], "Jane Doe"),
    (["shipTo", "city"], "Springfield"),
    (["customerId"], "A-1001"),  # the last word decides: an id, not a customer
    (["billing_phone"], "+1 415 555 0142"),
    (["tagline"], "Tagline"),
    (["tags[]"], "Standard"),  # an element of an array of strings: the singular's guess
    (["address"], "1200 Market Street"),
    (["notes"], "Thank you for your business."),
])
def test_strings_are_guessed_from_the_field_name(path, expected):
    assert examples.string(path) == expected


def test_strings_fit_their_lengths():
    assert len(examples.string(["tagline"], min_length=30)) >= 30
    assert examples.string(["orderNo"], max_length=3) == "A-1"


@pytest.mark.parametrize("path, integer, low, high, expected", [
    (["items[]", "qty"], True, None, None, 2),
    (["items[]", "unitPrice"], False, None, None, 49.95),
    (["taxRate"], False, None, None, 0.2),
    (["hours"], False, None, None, 8),
    (["total"], False, 100, None, 100),
    (["weightKg"], False, 0, 1, 1),
    (["qty"], True, 0.5, 3, 2),
    (["anything"], True, 3.5, None, 4),
])
def test_numbers_are_guessed_then_kept_within_min_and_max(path, integer, low, high, expected):
    value = examples.number(path, integer, low, high)
    assert value == expected and (isinstance(value, int) or not integer)


def test_a_manifest_without_examples_gets_a_believable_body_that_validates():
    manifest = Manifest.parse({"fields": {
        "customer.name": {"type": "string", "minLength": 1, "maxLength": 20},
        "customer.email": {"type": "string"},
        "items": {"type": "array", "minItems": 1},
        "items[].name": {"type": "string"},
        "items[].qty": {"type": "integer", "min": 1, "max": 99},
        "items[].price": {"type": "number", "min": 0},
        "total": {"type": "number"}}})
    body = manifest.example()
    assert body == {"customer": {"name": "Acme Corp", "email": "jane.doe@example.com"},
                    "items": [{"name": "Widget", "qty": 2, "price": 49.95}], "total": 49.95}
    assert manifest.validate(body) == body
