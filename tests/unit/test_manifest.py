import pytest

from craftkit.errors import InvalidInputData, InvalidTemplate
from craftkit.manifest import Manifest

INVOICE = {"fields": {
    "customer.name": {"type": "string"},
    "customer.vat": {"type": "string", "required": False},
    "items": {"type": "array"},
    "items[].name": {"type": "string"},
    "items[].qty": {"type": "integer"},
    "items[].price": {"type": "number"},
    "tags": {"type": "array", "of": "string", "required": False},
    "paid": {"type": "boolean", "required": False},
    "total": {"type": "number"},
}}
SEED = {"customer": {"name": "Acme Corp"}, "items": [{"name": "Widget", "qty": 5, "price": 9.99}],
        "total": 49.95}


def problems(data):
    with pytest.raises(InvalidInputData) as caught:
        Manifest.parse(INVOICE).validate(data)
    return caught.value.field_errors, caught.value.form_errors


def test_the_seed_example_is_valid():
    Manifest.parse(INVOICE).validate(SEED)
    Manifest.parse(INVOICE).validate({**SEED, "tags": ["a"], "paid": True,
                                      "customer": {"name": "x", "vat": "DE1"}})


def test_integers_may_be_written_as_whole_floats():
    Manifest.parse(INVOICE).validate({**SEED, "items": [{"name": "w", "qty": 5.0, "price": 1}]})


@pytest.mark.parametrize("data, path, message", [
    ({**SEED, "total": "49.95"}, "total", "Expected number, received string"),
    ({**SEED, "total": True}, "total", "Expected number, received boolean"),
    ({**SEED, "total": None}, "total", "Expected number, received null"),
    ({**SEED, "customer": "Acme"}, "customer", "Expected object, received string"),
    ({**SEED, "customer": {}}, "customer.name", "Required"),
    ({**SEED, "items": {}}, "items", "Expected array, received object"),
    ({**SEED, "items": [{"name": "w", "qty": 1.5, "price": 1}]}, "items.0.qty",
     "Expected integer, received float"),
    ({**SEED, "items": [{"name": "w", "qty": True, "price": 1}]}, "items.0.qty",
     "Expected integer, received boolean"),
    ({**SEED, "tags": ["a", 2]}, "tags.1", "Expected string, received number"),
    ({**SEED, "paid": "yes"}, "paid", "Expected boolean, received string"),
    ({**SEED, "customer": {"name": "x", "zip": 1}}, "customer",
     "Unrecognized key(s) in object: 'zip'"),
])
def test_each_problem_is_reported_at_its_path(data, path, message):
    fields, forms = problems(data)
    assert fields == {path: [message]} and forms == []


def test_all_problems_at_once_and_unknown_top_level_keys_as_form_errors():
    fields, forms = problems({"items": [{"qty": "1"}], "b": 1, "a": 2})
    assert fields == {"customer": ["Required"], "items.0.name": ["Required"],
                      "items.0.qty": ["Expected integer, received string"],
                      "items.0.price": ["Required"], "total": ["Required"]}
    assert forms == ["Unrecognized key(s) in object: 'a', 'b'"]


def test_an_object_with_only_optional_fields_is_optional():
    Manifest.parse({"fields": {"meta.note": {"type": "string", "required": False}}}).validate({})


@pytest.mark.parametrize("manifest, where", [
    ({"fields": {"a": {"type": "text"}}}, "manifest.fields.a"),
    ({"fields": {"a": "string"}}, "manifest.fields.a"),
    ({"fields": {"a b": {"type": "string"}}}, "manifest.fields.a b"),
    ({"fields": {"a": {"type": "string"}, "a.b": {"type": "string"}}}, "manifest.fields.a.b"),
    ({"fields": {"a": {"type": "string", "min": 1}}}, "manifest.fields.a"),
    ({"fields": {"a": {"type": "string", "of": "string"}}}, "manifest.fields.a"),
    ({"fields": {}, "extra": 1}, "manifest"),
    ({"variables": {}}, "manifest"),
])
def test_bad_manifests_are_refused_with_their_path(manifest, where):
    with pytest.raises(InvalidTemplate) as caught:
        Manifest.parse(manifest)
    assert where in caught.value.field_errors


def test_paths_for_layout_references():
    assert Manifest.parse(INVOICE).paths() == {
        "customer", "customer.name", "customer.vat", "items", "items[]", "items[].name",
        "items[].qty", "items[].price", "tags", "tags[]", "paid", "total"}
