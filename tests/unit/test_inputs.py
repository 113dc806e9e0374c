import pytest

from craftkit import errors, inputs


@pytest.mark.parametrize("text, said", [
    ('{"total": 1e400}', "data.total is not a finite number"),
    ('{"total": Infinity}', "Infinity is not a JSON number"),
    ('{"total": NaN}', "NaN is not a JSON number"),
    ('{"name": "a\\u0000b"}', "data.name contains a NUL character"),
    ('{"a\\u0000": 1}', "has a key with a NUL character"),
    ('{"name": "\\ud800"}', "data.name contains a lone UTF-16 surrogate"),
    ('{"x": ' + "[" * 65 + "]" * 65 + "}", "is nested deeper than 64 levels"),
    ("[" * 100_000 + "]" * 100_000, "is nested deeper than 64 levels"),
    ('{"x": ', "data is not valid JSON"),
])
def test_json_a_client_sends_is_refused_with_what_and_where(text, said):
    with pytest.raises(errors.InvalidInputData) as caught:
        inputs.parse_json(text, "data", errors.InvalidInputData)
    assert said in caught.value.message


def test_json_that_can_be_stored_passes():
    big = 2**64 + 1  # jsonb takes any integer; only the protobuf hop has int32 fields
    assert inputs.parse_json(f'{{"n": {big}, "s": "\\ud83d\\ude00 ok", "f": 1.5e300}}', "data") \
        == {"n": big, "s": "\U0001F600 ok", "f": 1.5e300}


@pytest.mark.parametrize("value, said", [
    ("", "must not be empty"), ("x" * 201, "201 characters; at most 200"),
    ("a\x00b", "control characters"), ("line\nbreak", "control characters"),
])
def test_names_are_bounded_and_printable(value, said):
    with pytest.raises(errors.InvalidRequest) as caught:
        inputs.check_text(value, "name", limit=200)
    assert said in caught.value.message and "name" in caught.value.field_errors


def test_uuids_in_canonical_form_only():
    assert inputs.is_uuid("0190b2d4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")
    for bad in ("", "x", "0190b2d4-5f6e-7a8b-9c0d-1e2f3a4b5c6d\n", "a\x00", "{0190b2d4-5f6e-7a8b"):
        assert not inputs.is_uuid(bad)


def test_safe_copy_copies_containers_in_order_and_refuses_what_problem_names():
    value = {"b": [1, {"c": "x"}], "a": None}
    copied, found = inputs.safe_copy(value)
    assert (copied, found, list(copied)) == (value, None, ["b", "a"])
    copied["b"][1]["c"] = "changed"
    assert value["b"][1]["c"] == "x"
    assert inputs.safe_copy({"k": [float("nan")]}) == (None, ("k.0", "is not a finite number; "
                                                              "send numbers within ±1.8e308"))


def test_paths_in_messages_are_cut_and_escaped_so_they_can_be_sent():
    with pytest.raises(errors.InvalidInputData) as caught:
        inputs.parse_json('{"\\ud800\\n": 1, "ok": 2}', "data", errors.InvalidInputData)
    assert caught.value.message.startswith("data.\\ud800\\n has a key with a lone UTF-16 "
                                           "surrogate")
    caught.value.message.encode("utf-8")  # a raw surrogate here would fail the gRPC status
    where, _ = inputs.problem({"k" * 5000: "\x00"})
    assert where == "k" * 100 + "…"


def test_cut_escapes_what_a_message_cannot_carry():
    assert inputs.cut("a\x00b\n\x7f\udfff") == "a\\x00b\\n\\x7f\\udfff"
    assert inputs.cut("é" * 150) == "é" * 100 + "…"


def test_uuids_in_any_form_uuid_reads_are_normalised():
    canonical = "0190b2d4-5f6e-7a8b-9c0d-1e2f3a4b5c6d"
    for form in (canonical.upper(), "{" + canonical + "}", canonical.replace("-", "")):
        assert inputs.canonical_uuid(form) == canonical
    assert inputs.is_uuid(canonical.upper())  # the services take only the canonical form
    assert not inputs.is_uuid("{" + canonical + "}")
    for bad in ("", "x", "a" * 5000, canonical + "\x00"):
        assert inputs.canonical_uuid(bad) is None


@pytest.mark.parametrize("key", ["a", "x" * 255, "order-42/retry 1", "~!@#$%^&*()"])
def test_idempotency_keys_are_printable_ascii(key):
    assert inputs.check_idempotency_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "nul\x00", "del\x7f"])
def test_other_idempotency_keys_are_refused_naming_the_header(key):
    with pytest.raises(errors.InvalidRequest) as caught:
        inputs.check_idempotency_key(key)
    assert "Idempotency-Key" in caught.value.message
    assert list(caught.value.field_errors) == ["Idempotency-Key"]
