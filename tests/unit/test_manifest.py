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
    assert set(Manifest.parse(INVOICE).paths()) == {
        "customer", "customer.name", "customer.vat", "items", "items[]", "items[].name",
        "items[].qty", "items[].price", "tags", "tags[]", "paid", "total"}


RICH = {"fields": {
    "number": {"type": "string", "pattern": "^INV-[0-9]+$", "example": "INV-1"},
    "issued": {"type": "date"},
    "sent": {"type": "datetime", "required": False},
    "currency": {"type": "enum", "values": ["EUR", "USD"], "default": "EUR"},
    "customer.name": {"type": "string", "minLength": 1, "maxLength": 20},
    "items": {"type": "array", "minItems": 1, "maxItems": 3},
    "items[].qty": {"type": "integer", "min": 1, "max": 99},
    "items[].price": {"type": "number", "min": 0},
    "notes": {"type": "array", "of": "string", "required": False},
}}


def rich_problems(data):
    with pytest.raises(InvalidInputData) as caught:
        Manifest.parse(RICH).validate(data)
    return caught.value.field_errors


def test_defaults_are_filled_in_and_examples_validate():
    manifest = Manifest.parse(RICH)
    example = manifest.example()
    assert example["number"] == "INV-1" and example["currency"] == "EUR"
    filled = manifest.validate({k: v for k, v in example.items() if k != "currency"})
    assert filled["currency"] == "EUR"


@pytest.mark.parametrize("change, path, message", [
    ({"number": "X-1"}, "number", "Invalid: must match the pattern ^INV-[0-9]+$"),
    ({"issued": "2026-02-30"}, "issued", "Invalid date (expected YYYY-MM-DD)"),
    ({"issued": 20260101}, "issued", "Expected string, received number"),
    ({"sent": "2026-01-01 10:00"}, "sent",
     "Invalid datetime (expected RFC 3339, e.g. 2026-05-03T10:14:00Z)"),
    ({"currency": "GBP"}, "currency", "Invalid enum value. Expected 'EUR' | 'USD', received 'GBP'"),
    ({"customer": {"name": ""}}, "customer.name", "String must contain at least 1 character(s)"),
    ({"customer": {"name": "x" * 21}}, "customer.name", "String must contain at most 20 character(s)"),
    ({"items": []}, "items", "Array must contain at least 1 element(s)"),
    ({"items": [{"qty": 1, "price": 1}] * 4}, "items", "Array must contain at most 3 element(s)"),
    ({"items": [{"qty": 0, "price": 1}]}, "items.0.qty", "Number must be greater than or equal to 1"),
    ({"items": [{"qty": 100, "price": 1}]}, "items.0.qty", "Number must be less than or equal to 99"),
    ({"notes": ["a", 1]}, "notes.1", "Expected string, received number"),
])
def test_constraints_speak_like_zod(change, path, message):
    data = {**Manifest.parse(RICH).example(), **change}
    assert rich_problems(data) == {path: [message]}


@pytest.mark.parametrize("spec, message", [
    ({"type": "string", "pattern": "["}, "pattern must be a valid regular expression"),
    ({"type": "string", "pattern": "^a$"}, "needs an example"),
    ({"type": "enum", "values": []}, "values must be a non-empty list"),
    ({"type": "integer", "min": 5, "max": 1}, "min is greater than max"),
    ({"type": "string", "maxLength": -1}, "maxLength must be a whole number"),
    ({"type": "enum", "values": ["a"], "default": "b"}, "default is not a valid enum"),
    ({"type": "date", "example": "yesterday"}, "example is not a valid date"),
    ({"type": "number", "minLength": 1}, "Unrecognized key(s) for a number: 'minLength'"),
])
def test_bad_field_specs_say_what_is_wrong(spec, message):
    with pytest.raises(InvalidTemplate) as caught:
        Manifest.parse({"fields": {"f": spec}})
    assert message in caught.value.field_errors["manifest.fields.f"][0]


def test_the_json_schema_describes_the_manifest():
    schema = Manifest.parse(RICH).json_schema("Invoice v1")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["number", "issued", "customer", "items"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["currency"] == {"type": "string", "enum": ["EUR", "USD"],
                                                "default": "EUR"}
    assert schema["properties"]["items"]["items"]["properties"]["qty"] == {
        "type": "integer", "minimum": 1, "maximum": 99}


# ------------------------------------------------------------------ linear-time patterns, bounds

BOMB = {"fields": {"code": {"type": "string", "pattern": "^(a+)+$", "example": "aaa"}}}
EVIL = "a" * 40 + "!"  # backtracking needs ~2^40 steps (hours); RE2 needs microseconds


@pytest.mark.timeout(10)
def test_a_catastrophic_pattern_checks_data_in_linear_time():
    with pytest.raises(InvalidInputData) as caught:
        Manifest.parse(BOMB).validate({"code": EVIL})
    assert caught.value.field_errors == {"code": ["Invalid: must match the pattern ^(a+)+$"]}
    Manifest.parse(BOMB).validate({"code": "a" * 100_000})


@pytest.mark.timeout(10)
def test_a_catastrophic_example_is_refused_in_linear_time():
    manifest = {"fields": {"code": {**BOMB["fields"]["code"], "example": EVIL}}}
    with pytest.raises(InvalidTemplate) as caught:
        Manifest.parse(manifest)
    assert "example is not a valid string" in caught.value.field_errors["manifest.fields.code"][0]


@pytest.mark.parametrize("pattern, why", [
    (r"^(a)\1$", "invalid escape sequence"),
    (r"^(?=a)a$", "invalid perl operator: (?="),
    (r"^(?<!b)a$", "invalid perl operator: (?<!"),
])
def test_patterns_re2_cannot_run_are_refused_naming_the_field_and_why(pattern, why):
    with pytest.raises(InvalidTemplate) as caught:
        Manifest.parse({"fields": {"code": {"type": "string", "pattern": pattern,
                                            "example": "a"}}})
    [message] = caught.value.field_errors["manifest.fields.code"]
    assert why in message and "backreferences" in message and "lookaround" in message


def test_the_json_schema_keeps_the_pattern_searched_not_anchored():
    manifest = Manifest.parse({"fields": {"code": {"type": "string", "pattern": "[0-9]{3}",
                                                   "example": "no 123"}}})
    assert manifest.json_schema()["properties"]["code"]["pattern"] == "[0-9]{3}"
    manifest.validate({"code": "order 123 of 200"})  # searched, like JSON Schema
    with pytest.raises(InvalidInputData):
        manifest.validate({"code": "12"})


def test_dates_are_whole_strings():
    manifest = Manifest.parse({"fields": {"day": {"type": "date"}}})
    with pytest.raises(InvalidInputData):
        manifest.validate({"day": "2026-01-31\n"})


@pytest.mark.parametrize("manifest, where, message", [
    ({"fields": {f"f{i}": {"type": "boolean"} for i in range(501)}},
     "manifest.fields", "At most 500 fields"),
    ({"fields": {".".join(["a"] * 11): {"type": "string"}}},
     "manifest.fields." + ".".join(["a"] * 11), "nested 11 levels deep; at most 10"),
    ({"fields": {"k" * 201: {"type": "string"}}},
     "manifest.fields." + "k" * 100 + "…", "201 characters; at most 200"),
    ({"fields": {"p": {"type": "string", "pattern": "a" * 1001, "example": "a"}}},
     "manifest.fields.p", "1001 characters; at most 1000"),
    ({"fields": {"p": {"type": "string", "pattern": r"(\w+\s*){400}", "example": "a"}}},
     "manifest.fields.p", "pattern is too complex"),
    ({"fields": {"e": {"type": "enum", "values": [str(i) for i in range(1001)]}}},
     "manifest.fields.e", "1001 entries; at most 1000"),
    ({"fields": {"e": {"type": "enum", "values": ["x" * 201]}}},
     "manifest.fields.e", "at most 200 characters"),
    ({"fields": {"d": {"type": "string", "description": "x" * 2001}}},
     "manifest.fields.d", "description is over 2000 characters"),
    ({"fields": {"a": {"type": "array", "minItems": 100, "maxItems": 100},
                 "a[].b": {"type": "array", "minItems": 100, "maxItems": 100},
                 "a[].b[].c": {"type": "array", "minItems": 100, "maxItems": 100},
                 "a[].b[].c[].d": {"type": "string"}}},
     "manifest.fields", "Example body too large"),
    ({"fields": {"s": {"type": "string", "minLength": 10**9}}},
     "manifest.fields", "Example body too large"),
])
def test_every_manifest_check_is_bounded_and_says_the_limit(manifest, where, message):
    with pytest.raises(InvalidTemplate) as caught:
        Manifest.parse(manifest)
    assert message in " ".join(caught.value.field_errors[where]) + caught.value.message


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value, path, message", [
    (nested(100_000), "tags", "nested deeper than 64 levels"),
    ("a\x00b", "customer.name", "NUL character"),
    ("\ud800", "customer.name", "lone UTF-16 surrogate"),
    (float("inf"), "total", "not a finite number"),
])
def test_data_that_cannot_be_stored_or_walked_is_refused_at_its_path(value, path, message):
    data = {**SEED, "customer": {"name": "x"}}
    head, _, rest = path.partition(".")
    if rest:
        data[head] = {rest: value}
    else:
        data[head] = value
    with pytest.raises(InvalidInputData) as caught:
        Manifest.parse(INVOICE).validate(data)
    [(where, [said])] = caught.value.field_errors.items()
    assert where.startswith(path) and message in said


def test_messages_quote_at_most_100_characters_of_the_data():
    manifest = Manifest.parse({"fields": {"e": {"type": "enum", "values": ["a", "b"]}}})
    with pytest.raises(InvalidInputData) as caught:
        manifest.validate({"e": "z" * 1_000_000, **{f"k{i}" * 50: 1 for i in range(1000)}})
    messages = [*caught.value.form_errors, *caught.value.field_errors["e"]]
    assert all(len(m) < 600 for m in messages)
    assert "more characters)" in caught.value.field_errors["e"][0]
    assert caught.value.form_errors[0].endswith("and 995 more")


@pytest.mark.timeout(10)
def test_pattern_checks_of_one_body_are_bounded():
    # RE2 is linear in the text, but a pattern whose automaton explodes costs about its size per
    # character: (a|b|\s)*a(a|b|\s){300}! took 4.4 s over 1 MB. Each body gets a budget.
    pattern = r"(a|b|\s)*a(a|b|\s){300}!"
    manifest = Manifest.parse({"fields": {"t": {"type": "array", "of": "string", "maxItems": 10**6},
                                          "s": {"type": "string", "pattern": pattern,
                                                "example": "a" + "b" * 300 + "!"}}})
    with pytest.raises(InvalidInputData) as caught:
        manifest.validate({"s": "ab " * 300_000, "t": []})
    assert "too much text to check against the manifest's patterns" in \
        caught.value.form_errors[0]
    manifest.validate({"s": "a" + "b" * 300 + "!", "t": ["x"] * 10_000})
