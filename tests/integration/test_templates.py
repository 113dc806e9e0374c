"""Template management over REST: create, add versions, publish, read; bad templates refused."""

from __future__ import annotations

import pytest

from craftkit.demo import SAMPLES, sample


def test_create_add_publish_and_read(api):
    spec = sample("invoice")
    created = api.http.post("/v1/templates", json={"slug": "statement", "name": "Statement",
                                                   "defaultFilename": "statement"})
    assert created.status_code == 201
    body = created.json()
    assert body["slug"] == "statement" and body["publishedVersion"] is None
    assert body["defaultFilename"] == "statement.pdf" and body["versions"] == []

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
