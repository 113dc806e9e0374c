import uuid

import pytest
from starlette.datastructures import QueryParams

from craftkit import errors, inputs
from craftkit.timefmt import iso
from craftkit.v1 import render_pb2
from services.gateway.limits import RateLimiter
from services.gateway.requests import (check_json, check_path, inbound_hook_request,
                                       key_request, limit_param, page_params,
                                       preview_request, render_request, renders_query,
                                       rotate_request, share_link_request, template_request,
                                       webhook_request)


def test_a_full_render_request():
    assert render_request({"data": {"a": 1}, "options": {"versionNumber": 3, "sync": True,
                                                         "filename": "x.pdf"}}) == \
        ({"a": 1}, 3, True, "x.pdf")
    assert render_request({"data": {}}) == ({}, 0, False, "")


def test_a_preview_request_is_data_alone():
    assert preview_request({"data": {"a": 1}}) == {"a": 1}
    with pytest.raises(errors.InvalidRequest) as caught:
        preview_request({"data": [], "options": {"sync": True}})
    assert caught.value.field_errors == {"options": ["Unrecognized key"],
                                         "data": ["Expected object"]}


def test_shape_errors_name_their_fields():
    with pytest.raises(errors.InvalidRequest) as caught:
        render_request({"options": {}, "y": 3})
    assert caught.value.field_errors == {"y": ["Unrecognized key"], "data": ["Required"]}
    with pytest.raises(errors.InvalidRequest) as caught:
        render_request({"data": {}, "options": {"sync": 1, "x": 2}})
    assert caught.value.field_errors == {"options.x": ["Unrecognized key"],
                                         "options.sync": ["Expected boolean"]}


def test_iso_timestamps_have_milliseconds_and_z():
    assert iso(1777802040150) == "2026-05-03T09:54:00.150Z"
    assert iso(0) is None


def test_rate_limiter_allows_the_burst_then_refuses():
    limiter = RateLimiter(rate=0.001, burst=3)
    for _ in range(3):
        limiter.take("p")
    with pytest.raises(errors.RateLimited):
        limiter.take("p")
    limiter.take("other-project")
    RateLimiter(rate=0, burst=0).take("p")  # off


def test_rate_limited_carries_the_real_wait_and_check_spends_nothing():
    limiter = RateLimiter(rate=0.5, burst=1)
    limiter.check("p")
    limiter.check("p")  # checking twice spends nothing
    limiter.take("p")
    with pytest.raises(errors.RateLimited) as caught:
        limiter.check("p")
    assert 1.9 < caught.value.retry_after <= 2.0


def test_the_limiter_forgets_the_least_recently_used_bucket():
    limiter = RateLimiter(rate=0.001, burst=1, size=2)
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten: a fresh burst
    limiter.take("a")
    with pytest.raises(errors.RateLimited):
        limiter.take("c")


@pytest.mark.parametrize("body, error, path", [
    ({"data": {"total": float("inf")}}, errors.InvalidJson, "data.total"),
    ({"data": {"items": [1, float("-inf")]}}, errors.InvalidJson, "data.items.1"),
    ({"data": {"a": "x\ud800"}}, errors.InvalidJson, "data.a"),
    ({"data": {"\udfff": 1}}, errors.InvalidJson, "data.\\udfff"),
    ({"data": {"a": ["ok", "nul\x00"]}}, errors.InvalidRequest, "data.a.1"),
    ({"name": "a\x00b"}, errors.InvalidRequest, "name"),
    ({"data": {"k\x00": 1}}, errors.InvalidRequest, "data.k\\x00"),
    ("\x00", errors.InvalidRequest, "(the body)"),
])
def test_check_json_names_the_first_bad_value(body, error, path):
    with pytest.raises(error) as caught:
        check_json(body)
    assert type(caught.value) is error
    assert list(caught.value.field_errors) == [path]
    assert caught.value.message.startswith(path)


def nested(levels: int) -> dict:
    body: object = 1
    for _ in range(levels - 1):
        body = [body]
    return {"data": body}  # `levels` containers deep, counting the body itself


def test_nesting_up_to_the_limit_passes_and_one_more_is_refused():
    check_json(nested(inputs.MAX_DEPTH))
    check_json({"data": {"fine": [1.5, "é😀", None, True, {"a": {}}]}})
    with pytest.raises(errors.InvalidRequest) as caught:
        check_json(nested(inputs.MAX_DEPTH + 1))
    assert f"deeper than {inputs.MAX_DEPTH}" in caught.value.message
    with pytest.raises(errors.InvalidRequest):
        check_json(nested(100_000))  # no RecursionError: the walk stops at the limit


@pytest.mark.parametrize("options, field", [
    ({"versionNumber": 2**31}, "options.versionNumber"),
    ({"versionNumber": 2**100}, "options.versionNumber"),
    ({"versionNumber": -1}, "options.versionNumber"),
    ({"filename": "x" * 201}, "options.filename"),
])
def test_render_options_are_range_and_length_checked(options, field):
    with pytest.raises(errors.InvalidRequest) as caught:
        render_request({"data": {}, "options": options})
    assert list(caught.value.field_errors) == [field]
    assert field in caught.value.message
    assert render_request({"data": {}, "options": {"versionNumber": 2**31 - 1}})[1] == 2**31 - 1


@pytest.mark.parametrize("parse, body, field, problem", [
    (template_request, {"slug": "s" * 64}, "slug", "At most 63 characters"),
    (template_request, {"slug": "s", "name": "n" * 201}, "name", "At most 200 characters"),
    (inbound_hook_request, {"versionNumber": 2**31}, "versionNumber",
     "Must be from 1 to 2147483647"),
    (inbound_hook_request, {"versionNumber": 0}, "versionNumber", "Must be from 1 to 2147483647"),
    (rotate_request, {"overlapSeconds": 2**63}, "overlapSeconds", "Must be from 0 to 604800"),
    (rotate_request, {"overlapSeconds": -1}, "overlapSeconds", "Must be from 0 to 604800"),
])
def test_body_fields_have_documented_bounds(parse, body, field, problem):
    with pytest.raises(errors.InvalidRequest) as caught:
        parse(body)
    assert caught.value.field_errors == {field: [problem]}


def test_webhook_url_and_events_are_bounded():
    webhook_request({"url": "https://example.com/" + "p" * 2000}, creating=True)
    with pytest.raises(errors.InvalidRequest) as caught:
        webhook_request({"url": "https://example.com/" + "p" * 2048}, creating=True)
    assert caught.value.field_errors == {"url": ["At most 2048 characters"]}
    with pytest.raises(errors.InvalidRequest):
        webhook_request({"events": ["render.failed"] * 17}, creating=False)


def test_unrecognized_keys_are_echoed_short_and_few():
    body = {"data": {}, **{f"k{i}" * 1000: 1 for i in range(1000)}}
    with pytest.raises(errors.InvalidRequest) as caught:
        render_request(body)
    assert len(caught.value.field_errors) == 20
    assert max(len(path) for path in caught.value.field_errors) <= 101
    assert len(caught.value.message) < 500


@pytest.mark.parametrize("value", ["0", "201", "-1", "", "abc", "１２", "٣", "²", str(2**31),
                                   "1" * 5000, "5\x00"])
def test_limit_takes_ascii_digits_in_range(value):
    with pytest.raises(errors.InvalidRequest) as caught:
        limit_param(value)
    assert "from 1 to 200" in caught.value.message
    assert len(caught.value.message) < 200


def test_limit_in_range():
    assert limit_param("1") == 1 and limit_param("200") == 200 and limit_param("050") == 50


@pytest.mark.parametrize("params, error", [
    ({"slug": "invoice", "number": "0"}, errors.InvalidRequest),
    ({"slug": "invoice", "number": "-3"}, errors.InvalidRequest),
    ({"slug": "invoice", "number": str(2**31)}, errors.InvalidRequest),
    ({"slug": "invoice", "number": "9" * 5000}, errors.InvalidRequest),
    ({"slug": "invoice", "number": "abc"}, errors.NotFound),
    ({"slug": "invoice", "number": "１２"}, errors.NotFound),
    ({"slug": "s" * 5000}, errors.InvalidRequest),
    ({"slug": "a\x00b"}, errors.InvalidRequest),
    ({"slug": "invoice", "name": "logo\n.png"}, errors.InvalidRequest),
    ({"id": "not-a-uuid"}, errors.NotFound),
    ({"id": "a" * 5000}, errors.NotFound),
    ({"id": str(uuid.uuid4()), "delivery": "x"}, errors.NotFound),
    ({"hook": "x", "token": "t"}, errors.Unauthorized),
    ({"hook": str(uuid.uuid4()), "token": "t" * 201}, errors.Unauthorized),
])
def test_bad_path_parameters(params, error):
    with pytest.raises(error) as caught:
        check_path(params)
    assert type(caught.value) is error
    assert len(caught.value.message) < 250


def test_good_path_parameters_are_normalised():
    render = uuid.uuid4()
    params = {"slug": "invoice", "number": "007", "id": str(render).upper()}
    check_path(params)
    assert params == {"slug": "invoice", "number": 7, "id": str(render)}


def test_a_key_request_defaults_to_a_full_unnamed_key():
    assert key_request({}) == {"name": "", "scopes": ["full"]}
    assert key_request({"name": "partner", "scopes": ["download"]}) == {
        "name": "partner", "scopes": ["download"]}


@pytest.mark.parametrize("body", [{"scopes": []}, {"scopes": ["admin"]}, {"scopes": [1]},
                                  {"scopes": ["render"] * 7}])
def test_a_key_request_names_the_allowed_scopes(body):
    with pytest.raises(errors.InvalidRequest, match="full, render, download"):
        key_request(body)


@pytest.mark.parametrize("body, terms", [
    ({}, (0, 0)), ({"maxDownloads": None}, (0, 0)),
    ({"expiresIn": 60, "maxDownloads": 3}, (60, 3)),
])
def test_share_link_terms(body, terms):
    assert share_link_request(body) == terms


@pytest.mark.parametrize("body, field", [
    ({"expiresIn": 0}, "expiresIn"), ({"expiresIn": 90 * 86400 + 1}, "expiresIn"),
    ({"expiresIn": "7d"}, "expiresIn"), ({"maxDownloads": 0}, "maxDownloads"),
    ({"maxDownloads": 2**40}, "maxDownloads"), ({"maxDownloads": False}, "maxDownloads"),
    ({"url": "x"}, "url"),
])
def test_bad_share_link_terms_name_the_field(body, field):
    with pytest.raises(errors.InvalidRequest) as caught:
        share_link_request(body)
    assert field in caught.value.field_errors


@pytest.mark.parametrize("params", [{"link": "nope"}, {"share": "x" * 201},
                                    {"share": "abc\ndef"}])
def test_share_link_path_segments_that_name_nothing_are_404(params):
    with pytest.raises(errors.NotFound):
        check_path(params)


def query(**values) -> QueryParams:
    return QueryParams(values)


def test_renders_query_turns_the_filters_into_list_fields():
    fields = renders_query(query(status="failed", template="invoice", limit="5", cursor="abc_-1",
                                 createdAfter="2026-06-05T10:00:00.000Z",
                                 createdBefore="2026-06-05T12:00:00.000+02:00"))
    assert fields == {"status": render_pb2.RENDER_STATUS_FAILED, "template_slug": "invoice",
                      "limit": 5, "cursor": "abc_-1",
                      "created_after_ms": 1780653600000, "created_before_ms": 1780653600000}
    assert renders_query(query()) == {"limit": 0, "cursor": ""}


def test_time_bounds_between_milliseconds_keep_their_meaning():
    fields = renders_query(query(createdAfter="2026-06-05T10:00:00.0005Z",
                                 createdBefore="2026-06-05T10:00:00.0005Z"))
    assert fields["created_after_ms"] == 1780653600000
    assert fields["created_before_ms"] == 1780653600001


@pytest.mark.parametrize("values, parameter", [
    ({"status": "processing"}, "status"), ({"template": "a\x01"}, "template"),
    ({"createdAfter": "2026-13-01T00:00:00Z"}, "createdAfter"),
    ({"createdBefore": "2026-06-05"}, "createdBefore"),
    # Past what the list takes (year 10000 once in UTC, or rounded up): named as the API names it.
    ({"createdBefore": "9999-12-31T23:59:59-14:00"}, "createdBefore"),
    ({"createdAfter": "9999-12-31T23:59:59.9999999Z"}, "createdAfter"),
    ({"limit": "101"}, "limit"), ({"cursor": "a+b"}, "cursor"), ({"cursor": "a" * 513}, "cursor"),
])
def test_renders_query_refuses_bad_values_naming_them(values, parameter):
    with pytest.raises(errors.InvalidRequest) as caught:
        renders_query(query(**values))
    assert parameter in caught.value.field_errors


def test_page_params_take_each_lists_maximum():
    assert page_params(query(limit="200"), 200) == (200, "")
    with pytest.raises(errors.InvalidRequest):
        page_params(query(limit="101"), 100)
