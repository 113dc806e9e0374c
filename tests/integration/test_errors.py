"""Every documented error: the code, the HTTP status, a message that says what to fix, and no
render created."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.conftest import invoice


def error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_invalid_json(api):
    response = api.http.post("/v1/templates/invoice/render", content=b'{"data": {',
                             headers={"content-type": "application/json"})
    assert "not valid JSON" in error(response, 400, "invalid_json")["message"]


@pytest.mark.parametrize("body", ["NaN", '{"data": {"total": Infinity}}'])
def test_non_standard_json_numbers_are_invalid_json(api, body):
    error(api.http.post("/v1/templates/invoice/render", content=body.encode()), 400, "invalid_json")


@pytest.mark.parametrize("body, field", [
    ([], None),
    ({}, "data"),
    ({"data": []}, "data"),
    ({"data": {}, "extra": 1}, "extra"),
    ({"data": {}, "options": {"sync": "yes"}}, "options.sync"),
    ({"data": {}, "options": {"versionNumber": "3"}}, "options.versionNumber"),
    ({"data": {}, "options": {"versionNumber": 0}}, "options.versionNumber"),
    ({"data": {}, "options": {"versionNumber": True}}, "options.versionNumber"),
    ({"data": {}, "options": {"colour": "red"}}, "options.colour"),
    ({"data": {}, "options": []}, "options"),
])
def test_invalid_request_shapes(api, body, field):
    details = error(api.http.post("/v1/templates/invoice/render", json=body), 400, "invalid_request")
    if field:
        assert field in details["issues"]["fieldErrors"]


@pytest.mark.parametrize("filename", ["../etc/passwd", "a/b.pdf", "x\n.pdf", "", "z" * 300])
def test_unsafe_filenames_are_invalid_request(api, filename):
    response = api.render(invoice(), filename=filename)
    assert "filename" in error(response, 400, "invalid_request")["message"]


def test_invalid_input_data_lists_every_offending_path(api):
    response = api.render({"customer": {"name": 7},
                           "items": [{"name": "ok", "qty": 1, "price": 1},
                                     {"name": "bad", "qty": 1.5, "price": "9"},
                                     {"qty": 2, "price": 1}],
                           "surprise": True})
    issues = error(response, 400, "invalid_input_data")["issues"]
    assert issues["fieldErrors"] == {
        "customer.name": ["Expected string, received number"],
        "items.1.qty": ["Expected integer, received float"],
        "items.1.price": ["Expected number, received string"],
        "items.2.name": ["Required"],
        "total": ["Required"],
    }
    assert issues["formErrors"] == ["Unrecognized key(s) in object: 'surprise'"]


def test_template_not_found(api):
    error(api.render(invoice(), slug="no-such-template"), 404, "template_not_found")


def test_version_not_found(api):
    details = error(api.render(invoice(), versionNumber=99), 404, "version_not_found")
    assert "99" in details["message"]


def test_no_published_version(api):
    created = api.http.post("/v1/templates", json={"slug": "draft-only"})
    assert created.status_code == 201
    error(api.render({}, slug="draft-only"), 409, "no_published_version")


def test_unpublished_version_cannot_be_pinned(api):
    template = api.http.get("/v1/templates/invoice").json()
    v1 = template["versions"][0]
    api.http.post("/v1/templates/invoice/versions", json={"manifest": v1["manifest"],
                                                          "layout": v1["layout"]})
    error(api.render(invoice(), versionNumber=2), 404, "version_not_found")


@pytest.mark.parametrize("render_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_render_is_not_found(api, render_id):
    error(api.http.get(f"/v1/renders/{render_id}"), 404, "not_found")


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer ck_live_nope"},
                                     {"authorization": "Basic abc"}, {"authorization": "Bearer"}])
def test_missing_or_unknown_key_is_401(stack, headers):
    response = httpx.post(f"{stack.base_url}/v1/templates/invoice/render", headers=headers,
                          json={"data": invoice()})
    error(response, 401, "unauthorized")
    error(httpx.get(f"{stack.base_url}/v1/renders/{uuid.uuid4()}", headers=headers), 401,
          "unauthorized")


def test_body_over_the_limit_is_413(api):
    big = {"data": {"blob": "x" * (1024 * 1024 + 1)}}
    error(api.http.post("/v1/templates/invoice/render", json=big), 413, "payload_too_large")


def test_unknown_route_and_method_use_the_envelope(api):
    error(api.http.get("/v1/nothing-here"), 404, "not_found")
    error(api.http.delete("/v1/templates/invoice/render"), 405, "method_not_allowed")


def test_rejected_requests_create_no_render(api):
    """A request with a bad body changes nothing: the same body made valid gets a fresh render,
    not one left over from a failed attempt (the dedupe key would have found it)."""
    data = invoice()
    bad = {**data, "total": "free"}
    error(api.render(bad), 400, "invalid_input_data")
    ok = api.render(data)
    assert ok.status_code == 202 and ok.json()["status"] == "queued"
