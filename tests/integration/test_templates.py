"""Template management over REST: create, add versions, publish, read; bad templates refused."""

from __future__ import annotations

import pytest

from craftkit.demo import SAMPLES, sample, sample_assets


def test_create_add_publish_and_read(api):
    spec = sample("invoice")
    created = api.http.post("/v1/templates", json={"slug": "statement", "name": "Statement",
                                                   "defaultFilename": "statement"})
    assert created.status_code == 201
    body = created.json()
    assert body["slug"] == "statement" and body["publishedVersion"] is None
    assert body["defaultFilename"] == "statement.pdf" and body["versions"] == []
    for name, data in sample_assets("invoice").items():  # the images the layout shows
        assert api.http.put(f"/v1/templates/statement/assets/{name}",
                            content=data).status_code == 201

    version = api.http.post("/v1/templates/statement/versions",
                            json={"manifest": spec["manifest"], "layout": spec["layout"]})
    assert version.status_code == 201
    assert version.json()["number"] == 1 and version.json()["published"] is False

    published = api.http.post("/v1/templates/statement/versions/1/publish")
    assert published.status_code == 200
    assert published.json()["publishedVersion"] == 1
    assert published.json()["versions"][0]["published"] is True

    read = api.http.get("/v1/templates/statement").json()
    assert read["versions"][0]["manifest"] == spec["manifest"]
    listed = api.http.get("/v1/templates").json()["templates"]
    assert {t["slug"] for t in listed} == {"invoice", "statement", *SAMPLES}

    rendered = api.render(spec["example"], slug="statement", sync=True).json()
    assert rendered["downloadUrl"].endswith("/statement.pdf")


def test_slug_taken_is_409(api):
    response = api.http.post("/v1/templates", json={"slug": "invoice"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "template_exists"


@pytest.mark.parametrize("slug", ["Invoice", "-x", "a b", "x" * 64, ""])
def test_bad_slug_is_invalid_request(api, slug):
    response = api.http.post("/v1/templates", json={"slug": slug})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_publishing_a_missing_version_is_404(api):
    response = api.http.post("/v1/templates/invoice/versions/7/publish")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "version_not_found"


def test_a_bad_version_is_refused_with_every_problem(api):
    manifest = {"fields": {"name": {"type": "strin"}, "items": {"type": "array"},
                           "items[].qty": {"type": "integer"}}}
    layout = {"body": [{"type": "text", "text": "Hello {{nobody}}"},
                       {"type": "table", "source": "name", "columns": []},
                       {"type": "banner"}]}
    response = api.http.post("/v1/templates/invoice/versions",
                             json={"manifest": manifest, "layout": layout})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_template"
    assert "manifest.fields.name" in error["issues"]["fieldErrors"]
    good_manifest = {"fields": {"name": {"type": "string"}}}
    response = api.http.post("/v1/templates/invoice/versions",
                             json={"manifest": good_manifest, "layout": layout})
    fields = response.json()["error"]["issues"]["fieldErrors"]
    assert set(fields) == {"layout.body.0.text", "layout.body.1.source", "layout.body.1.columns",
                           "layout.body.2.type"}
    assert len(api.http.get("/v1/templates/invoice").json()["versions"]) == 1


def test_each_version_serves_its_json_schema_and_a_curl_line_that_works(api):
    import os
    import subprocess

    from jsonschema import Draft202012Validator

    response = api.http.get("/v1/templates/invoice/versions/1/schema")
    assert response.status_code == 200
    body = response.json()
    validator = Draft202012Validator(body["schema"],
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert validator.is_valid(body["example"])
    assert not validator.is_valid({**body["example"], "total": "free"})
    assert body["schema"]["required"] == ["customer", "items", "total"]

    assert body["curl"].startswith(f"curl -X POST {api.stack.base_url}/v1/templates/invoice/render")
    run = subprocess.run(["bash", "-c", body["curl"] + " -s -w '\\n%{http_code}'"],
                         env={**os.environ, "CRAFTKIT_API_KEY": api.key},
                         capture_output=True, text=True, timeout=30)
    answer, status = run.stdout.rsplit("\n", 1)
    assert status == "202", run.stdout + run.stderr
    import json
    assert api.wait(json.loads(answer)["id"]).error_message == ""

    missing = api.http.get("/v1/templates/invoice/versions/9/schema")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "version_not_found"


# ------------------------------------------------------------------------ hostile templates

import json  # noqa: E402

import grpc  # noqa: E402

from craftkit import errors  # noqa: E402
from craftkit.v1 import (enqueue_pb2, enqueue_pb2_grpc, templates_pb2,  # noqa: E402
                         templates_pb2_grpc)

BOMB = {"type": "string", "pattern": "^(a+)+$", "example": "aaa"}
EVIL = "a" * 40 + "!"  # Python's re needs ~2^40 steps (hours) to refuse it; RE2 microseconds
SHOW = {"body": [{"type": "text", "text": "{{code}}"}]}


def add_version(api, manifest: dict, layout: dict = SHOW, slug: str = "invoice"):
    return api.http.post(f"/v1/templates/{slug}/versions",
                         json={"manifest": manifest, "layout": layout})


def grpc_error(call) -> errors.ApiError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return errors.from_rpc_error(caught.value)


@pytest.mark.timeout(60)
def test_a_regex_bomb_freezes_neither_the_status_nor_the_enqueue_service(api):
    refused = add_version(api, {"fields": {"code": {**BOMB, "example": EVIL}}})
    assert refused.status_code == 400
    assert "manifest.fields.code" in refused.json()["error"]["issues"]["fieldErrors"]

    api.http.post("/v1/templates", json={"slug": "bomb"})
    assert add_version(api, {"fields": {"code": BOMB}}, slug="bomb").status_code == 201
    api.http.post("/v1/templates/bomb/versions/1/publish")
    rendered = api.render({"code": EVIL}, slug="bomb")
    assert rendered.status_code == 400
    assert rendered.json()["error"]["issues"]["fieldErrors"] == {
        "code": ["Invalid: must match the pattern ^(a+)+$"]}
    assert api.render({"code": "a" * 50_000}, slug="bomb").status_code == 202


@pytest.mark.parametrize("pattern, why", [(r"^(a)\1$", "invalid escape sequence"),
                                          (r"^(?!x)a$", "invalid perl operator: (?!")])
def test_patterns_without_a_linear_time_form_are_refused_at_add_version(api, pattern, why):
    response = add_version(api, {"fields": {"code": {"type": "string", "pattern": pattern,
                                                     "example": "a"}}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_template"
    [message] = error["issues"]["fieldErrors"]["manifest.fields.code"]
    assert why in message and "lookaround" in message


@pytest.mark.parametrize("body, field", [
    ({"slug": "slug\n"}, "slug"),
    ({"slug": "ok-slug", "defaultFilename": "x\n"}, "filename"),
    ({"slug": "ok-slug", "name": "n" * 201}, "name"),
    ({"slug": "ok-slug", "name": "tab\tname"}, "name"),
])
def test_template_names_are_whole_bounded_strings(api, body, field):
    response = api.http.post("/v1/templates", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["issues"]["fieldErrors"]
    assert "ok-slug" not in {t["slug"] for t in api.http.get("/v1/templates").json()["templates"]}


def test_a_render_filename_with_a_trailing_newline_is_refused(api):
    from tests.integration.conftest import invoice
    response = api.render(invoice(), filename="x\n")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_manifest_limits_are_refused_saying_the_limit(api):
    fields = {f"f{i}": {"type": "boolean"} for i in range(501)}
    response = add_version(api, {"fields": fields}, {"body": [{"type": "spacer"}]})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "the manifest has 501 fields; at most 500"
    layout = {"body": [{"type": "spacer"}] * 2001}
    response = add_version(api, {"fields": {"code": {"type": "string"}}}, layout)
    assert "more than 2000 blocks" in response.json()["error"]["issues"]["fieldErrors"]["layout"][0]


def test_ten_thousand_bad_rows_get_a_400_with_the_first_issues(api):
    from tests.integration.conftest import invoice
    data = {**invoice(), "items": [{"name": 1, "qty": 1.5, "price": "x"}] * 10_000}
    response = api.render(data)
    assert response.status_code == 400
    issues = response.json()["error"]["issues"]
    assert "items.0.qty" in issues["fieldErrors"]
    assert issues["formErrors"][-1].endswith("more problems")


def enqueue(api, **fields):
    with api.stack.channel("enqueue") as channel:
        return enqueue_pb2_grpc.EnqueueServiceStub(channel).EnqueueRender(
            enqueue_pb2.EnqueueRenderRequest(**{"project_id": api.project_id,
                                                "template_slug": "invoice", **fields}),
            timeout=30)


GOOD = '{"customer": {"name": "A"}, "items": [], "total": 1}'


@pytest.mark.parametrize("fields, code, said", [
    ({"data_json": GOOD.replace('"A"', '"A\\u0000"')}, "invalid_input_data", "NUL character"),
    ({"data_json": GOOD.replace('"A"', '"\\ud800"')}, "invalid_input_data", "lone UTF-16"),
    ({"data_json": GOOD.replace("1}", "1e400}")}, "invalid_input_data", "not a finite number"),
    ({"data_json": GOOD.replace("1}", "Infinity}")}, "invalid_input_data", "not a JSON number"),
    ({"data_json": '{"x": ' + "[" * 5000 + "]" * 5000 + "}"}, "invalid_input_data",
     "nested deeper than 64 levels"),
    ({"data_json": GOOD, "template_slug": "invoice\x00"}, "template_not_found", "no template"),
    ({"data_json": GOOD, "template_slug": "s" * 20_000}, "template_not_found",
     "more characters)"),
    ({"data_json": GOOD, "filename": "x\n"}, "invalid_request", "filename"),
    ({"data_json": GOOD, "project_id": "not-a-uuid"}, "invalid_request", "not a project id"),
])
def test_the_enqueue_service_refuses_what_cannot_be_stored_with_a_400_or_404(api, fields, code,
                                                                             said):
    error = grpc_error(lambda: enqueue(api, **fields))
    assert (error.code, said in error.message) == (code, True), error.message
    assert len(error.message) < 300


def status_templates(api):
    return templates_pb2_grpc.TemplateServiceStub(api.channel)


@pytest.mark.parametrize("call, code, said", [
    (lambda s, p: s.CreateTemplate(templates_pb2.CreateTemplateRequest(
        project_id=p, slug="x", name="a\x00b")), "invalid_request", "control characters"),
    (lambda s, p: s.GetTemplate(templates_pb2.GetTemplateRequest(
        project_id=p, slug="in\x00voice")), "template_not_found", "no template"),
    (lambda s, p: s.GetTemplate(templates_pb2.GetTemplateRequest(
        project_id=p, slug="x" * 10_000)), "template_not_found", "more characters)"),
    (lambda s, p: s.AddVersion(templates_pb2.AddVersionRequest(
        project_id=p, slug="invoice", manifest_json='{"fields": {"a\\u0000": {}}}',
        layout_json="{}")), "invalid_template", "NUL character"),
    (lambda s, p: s.AddVersion(templates_pb2.AddVersionRequest(
        project_id=p, slug="invoice", manifest_json='{"fields": {}}',
        layout_json='{"body": [{"type": "text", "text": "\\ud800"}]}')),
     "invalid_template", "lone UTF-16"),
    (lambda s, p: s.AddVersion(templates_pb2.AddVersionRequest(
        project_id=p, slug="invoice", manifest_json='{"fields": {}}',
        layout_json=json.dumps({"body": [{"type": "text", "text": "x" * 600_000}]}))),
     "invalid_template", "at most 524288"),
    (lambda s, p: s.PutAsset(templates_pb2.PutAssetRequest(
        project_id=p, slug="invoice", name="logo.png\n", data=b"")), "invalid_request",
     "asset names"),
])
def test_the_status_service_refuses_what_cannot_be_stored(api, call, code, said):
    error = grpc_error(lambda: call(status_templates(api), api.project_id))
    assert (error.code, said in error.message) == (code, True), error.message
    assert len(error.message) < 300
