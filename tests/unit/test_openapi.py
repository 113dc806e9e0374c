"""The OpenAPI document (services/gateway/openapi.py) against the app it describes: every route
documented and nothing else, valid OpenAPI 3.1, and request schemas that never promise what the
gateway refuses."""

import functools
import json

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.routing import Mount, Route

from craftkit import errors
from services.gateway import app as gateway_app
from services.gateway import openapi, requests
from services.gateway.settings import Settings
from services.webhooks import signing

BASE = "https://api.example.test"
DOCUMENT = openapi.document(gateway_app.PUBLIC_ROUTES, gateway_app.API_ROUTES, BASE)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def served_routes(routes, prefix=""):
    """(path, METHOD) of every route the app answers, Mounts flattened; HEAD, which Starlette
    adds to every GET, left out."""
    for route in routes:
        if isinstance(route, Mount):
            yield from served_routes(route.routes or [], prefix + route.path)
        elif isinstance(route, Route):
            for method in route.methods - {"HEAD"}:
                yield prefix + route.path, method


def undocumented(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in openapi.UNDOCUMENTED)


def test_every_route_has_an_operation_and_every_operation_a_route(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERNAL_TOKEN_FILE", str(tmp_path / "token"))
    app = gateway_app.create_app(Settings.from_env())
    routes = {(path, method) for path, method in served_routes(app.routes)
              if not undocumented(path)}
    documented = {(path, method.upper()) for path, item in DOCUMENT["paths"].items()
                  for method in item if method in METHODS and method != "head"}
    assert routes - documented == set(), "routes without an operation in the OpenAPI document"
    assert documented - routes == set(), "operations without a route"
    assert any(undocumented(path) for path, _ in served_routes(app.routes))


def test_the_document_is_valid_openapi_3_1():
    OpenAPIV31SpecValidator(DOCUMENT).validate()
    assert DOCUMENT["openapi"].startswith("3.1")


def test_every_operation_has_a_summary_a_success_answer_and_a_unique_id():
    ids = []
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            assert op["summary"], f"{method} {path} has no summary"
            assert any(s.startswith("2") for s in op["responses"]), f"{method} {path}"
            ids.append(op["operationId"])
    assert len(ids) == len(set(ids))


def test_each_api_operation_needs_the_scope_its_route_checks():
    for route in gateway_app.API_ROUTES:
        method = next(iter(route.methods - {"HEAD"})).lower()
        op = DOCUMENT["paths"][route.path][method]
        assert op["security"] == [{"apiKey": [route.scope]}]
        assert f"`{route.scope}` scope" in op["description"]
        assert {"401", "403", "429", "503"} <= set(op["responses"])
    for route in gateway_app.PUBLIC_ROUTES:
        assert DOCUMENT["paths"][route.path]["get" if "GET" in route.methods else "post"][
            "security"] == []


def test_idempotent_posts_take_the_key_and_say_when_they_replay():
    for route in gateway_app.API_ROUTES:
        method = next(iter(route.methods - {"HEAD"})).lower()
        op = DOCUMENT["paths"][route.path][method]
        names = {p["name"] for p in op["parameters"]}
        assert ("Idempotency-Key" in names) == route.idempotent, route.path
        if route.idempotent:
            success = [r for s, r in op["responses"].items() if s.startswith("2")]
            assert all("Idempotent-Replayed" in r["headers"] for r in success)
            assert op["responses"]["422"]["content"]["application/json"]["schema"]["allOf"][1][
                "properties"]["error"]["properties"]["code"]["enum"] == ["idempotency_key_reused"]


def test_error_answers_list_each_code_under_the_status_the_gateway_gives_it():
    for item in DOCUMENT["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                if not status.startswith(("4", "5")) or "allOf" not in json.dumps(response):
                    continue
                codes = response["content"]["application/json"]["schema"]["allOf"][1][
                    "properties"]["error"]["properties"]["code"]["enum"]
                for code in codes:
                    error = openapi.ERROR_CLASSES[code]("x")
                    assert errors.http_status(error) == int(status), code


def test_every_path_parameter_is_documented_as_check_path_checks_it():
    for path, item in DOCUMENT["paths"].items():
        for op in item.values():
            declared = [p["name"] for p in op["parameters"] if p["in"] == "path"]
            assert declared == openapi.PATH_PARAM.findall(path)


def test_the_links_name_operations_that_exist():
    ids = {op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()}
    links = [link for item in DOCUMENT["paths"].values() for op in item.values()
             for r in op["responses"].values() for link in r.get("links", {}).values()]
    assert len(links) >= 10
    assert all(link["operationId"] in ids for link in links)


def test_the_preview_answers_a_pdf_or_a_png():
    op = DOCUMENT["paths"]["/v1/templates/{slug}/versions/{number}/preview"]["post"]
    assert set(op["responses"]["200"]["content"]) == {"application/pdf", "image/png"}


def test_downloads_document_ranges_and_their_head():
    for path in ("/v1/renders/{id}/download", "/s/{share}"):
        item = DOCUMENT["paths"][path]
        assert {"200", "206", "304", "416"} <= set(item["get"]["responses"])
        assert "Range" in {p["name"] for p in item["get"]["parameters"]}
        assert "head" in item


def test_the_seeds_examples_are_in_the_document():
    render = DOCUMENT["components"]["schemas"]["RenderRequest"]
    assert render["example"]["data"]["customer"] == {"name": "Acme Corp"}
    assert DOCUMENT["components"]["schemas"]["Render"]["example"]["durationMs"] == 150


READERS = [
    (requests.RENDER, requests.render_request),
    (requests.PREVIEW, requests.preview_request),
    (requests.TEMPLATE, requests.template_request),
    (requests.VERSION, requests.version_request),
    (requests.INBOUND_HOOK, requests.inbound_hook_request),
    (requests.WEBHOOK, lambda body: requests.webhook_request(body, creating=True)),
    (requests.WEBHOOK_UPDATE, lambda body: requests.webhook_request(body, creating=False)),
    (requests.KEY, requests.key_request),
    (requests.SHARE_LINK, requests.share_link_request),
    (requests.ROTATE, requests.rotate_request),
]
"""Each request Shape and the function a handler reads its body with."""


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {**DOCUMENT, "$ref": f"#/components/schemas/{name}"},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


EDGES = [0, 1, -1, 2**31 - 1, 2**31, 604800, 604801, 10**6, 10**6 + 1, 7776000, 7776001, 1.5,
         "", "a", " ", "x" * 63, "x" * 64, "x" * 200, "x" * 201, "x" * 2048, "x" * 2049,
         "invoice", "Invoice", "-x", "a\x00b", "https://example.com/h", "render.succeeded",
         "render.nope", "full", "download", True, False, None, {}, {"a": 1}, [], ["full"],
         ["full", "render", "download", "full", "render", "download", "full"], ["nope"],
         ["render.failed"], ["render.failed"] * 17, [1]]
"""JSON values at and past the bounds the gateway checks, and of every type."""
BASELINE = {"data": {}, "manifest": {}, "layout": {}, "slug": "invoice",
            "url": "https://example.com/h"}
"""A valid value for each required field."""


def bodies(shape):
    """The smallest valid body, then each field (and each option) set to each edge value."""
    base = {key: BASELINE[key] for key, f in shape.fields.items() if f.required}
    yield base
    yield {**base, "unknown": 1}
    for key, f in shape.fields.items():
        for value in EDGES:
            yield {**base, key: value}
        if f.shape is not None:
            for option in f.shape.fields:
                for value in EDGES:
                    yield {**base, key: {option: value}}


@pytest.mark.parametrize(("shape", "read"), READERS, ids=[s.name for s, _ in READERS])
def test_what_the_schema_accepts_the_gateway_accepts(shape, read):
    """The document never promises what the gateway refuses: a body valid by the schema (a
    fuzzer's "valid" request) passes the gateway's checks. (The schema may refuse more: what the
    backends check, like a slug's pattern or an event's name.)"""
    accepted_somewhere = refused_somewhere = 0
    for body in bodies(shape):
        valid = validator(shape.name).is_valid(body)
        try:
            read(body)
            accepted = True
        except errors.InvalidRequest:
            accepted = False
        assert accepted or not valid, f"{shape.name}'s schema accepts {body!r}; the gateway not"
        accepted_somewhere += valid
        refused_somewhere += not valid
    assert accepted_somewhere > 1 and refused_somewhere > 1


@pytest.mark.parametrize(("shape", "read"), READERS, ids=[s.name for s, _ in READERS])
def test_each_request_example_is_accepted_by_schema_and_gateway(shape, read):
    example = openapi.shape_schema(shape).get("example")
    if example is None:
        pytest.skip(f"{shape.name} has no example")
    validator(shape.name).validate(example)
    read(example)


def test_the_outgoing_webhook_is_documented_as_signing_sends_it():
    body = signing.payload({"event": "render.failed", "renderId": ID, "templateId": ID,
                            "status": "failed", "downloadUrl": None,
                            "errorMessage": "the renderer failed",
                            "createdAt": "2026-05-03T10:14:00.000Z", "completedAt": None})
    validator("RenderEvent").validate(json.loads(body))
    headers = signing.headers(event="render.failed", delivery_id=ID, timestamp=1, body=body,
                              secret="whsec_a", previous_secret="whsec_b")
    params = DOCUMENT["webhooks"]["renderEvent"]["post"]["parameters"]
    assert {h for h in headers if h.startswith("x-craftkit-")} == {p["name"] for p in params}
    current = signing.headers(event="render.failed", delivery_id=ID, timestamp=1, body=body,
                              secret="whsec_a")
    assert {p["name"] for p in params if p["required"]} == {
        h for h in current if h.startswith("x-craftkit-")}


ID = "0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e"
