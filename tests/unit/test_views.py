"""Each view's output against the JSON Schema declared beside it (what the OpenAPI document
promises), for messages as the services fill them: fresh, and finished with every field set."""

import json

import jsonschema
import pytest

from craftkit.renders import STATUS
from craftkit.v1 import (downloads_pb2, inbound_pb2, projects_pb2, render_pb2, templates_pb2,
                         webhooks_pb2)
from services.gateway import views

BASE = "https://api.example.test"
ID = "0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e"
MS = 1_777_000_000_123


def valid(name: str, body: object) -> None:
    document = {"components": {"schemas": views.SCHEMAS}, "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(
        document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(body)


def render(status: str, done: bool) -> render_pb2.Render:
    return render_pb2.Render(
        id=ID, status=STATUS[status], created_at_ms=MS, template_slug="invoice" if done else "",
        completed_at_ms=MS + 150 if done else 0, duration_ms=150 if done else -1,
        download_url=f"https://cdn.example.test/renders/{ID}/invoice.pdf" if done else "",
        error_message="the renderer failed" if status == "failed" else "",
        expired_at_ms=MS + 9 if done and status == "succeeded" else 0)


@pytest.mark.parametrize("status", list(STATUS))
def test_renders_match_their_schemas(status):
    for done in (False, True):
        valid(views.RENDER_CREATED, views.render_created(render(status, done), BASE))
        valid(views.RENDER, views.render(render(status, done), BASE))
    valid(views.RENDER_LIST, {"data": [views.render(render(status, True), BASE)],
                              "nextCursor": None})


def version(number: int, published: bool) -> templates_pb2.TemplateVersion:
    return templates_pb2.TemplateVersion(
        number=number, published=published, created_at_ms=MS,
        published_at_ms=MS + 1 if published else 0, manifest_json=json.dumps({"fields": {}}),
        layout_json=json.dumps({"blocks": []}))


def test_templates_and_versions_match_their_schemas():
    fresh = templates_pb2.Template(id=ID, slug="invoice", name="Invoice", created_at_ms=MS)
    full = templates_pb2.Template(id=ID, slug="invoice", name="Invoice", created_at_ms=MS,
                                  default_filename="invoice.pdf", published_version=2,
                                  versions=[version(1, False), version(2, True)])
    for template in (fresh, full):
        valid(views.TEMPLATE, views.template(template))
        valid(views.TEMPLATE_SUMMARY, views.template(template, with_versions=False))
    valid(views.TEMPLATE_LIST, {"templates": [views.template(full, with_versions=False)],
                                "nextCursor": "eyJhIjoxfQ"})
    valid(views.VERSION, views.version(version(1, False)))
    asset = templates_pb2.Asset(name="logo.png", content_type="image/png", sha256="ab" * 32,
                                size=1234, width=10, height=20, created_at_ms=MS)
    valid(views.ASSET, views.asset(asset))
    valid(views.ASSET_LIST, {"assets": [views.asset(asset)]})


def test_hooks_keys_webhooks_and_links_match_their_schemas():
    minted = inbound_pb2.InboundHook(id=ID, template_slug="invoice", version_number=3,
                                     token="t0k", created_at_ms=MS)
    revoked = inbound_pb2.InboundHook(id=ID, template_slug="invoice", created_at_ms=MS,
                                      revoked_at_ms=MS + 5)
    for hook in (minted, revoked):
        valid(views.INBOUND_HOOK, views.inbound_hook(hook, BASE))
    key = projects_pb2.ApiKey(id=ID, name="partner", prefix="ck_live_AbCd", scopes=["download"],
                              created_at_ms=MS)
    valid(views.API_KEY, views.api_key(key, "ck_live_secret"))
    used = projects_pb2.ApiKey(id=ID, prefix="ck_live_AbCd", scopes=["full"], created_at_ms=MS,
                               last_used_at_ms=MS + 1, revoked_at_ms=MS + 2)
    valid(views.API_KEY_LIST, {"data": [views.api_key(used)], "nextCursor": None})
    endpoint = webhooks_pb2.Endpoint(id=ID, url="https://example.com/h", enabled=True,
                                     events=["render.succeeded"], created_at_ms=MS,
                                     secret="whsec_x")
    paused = webhooks_pb2.Endpoint(id=ID, url="https://example.com/h", created_at_ms=MS,
                                   events=["render.failed", "render.cancelled"],
                                   paused_until_ms=MS + 60_000)
    for e in (endpoint, paused):
        valid(views.WEBHOOK, views.endpoint(e))
    delivery = webhooks_pb2.Delivery(
        id=ID, event="render.succeeded", render_id=ID, status="pending", created_at_ms=MS,
        next_attempt_at_ms=MS + 1000, attempts=[
            webhooks_pb2.Attempt(number=1, status_code=500, duration_ms=12, at_ms=MS),
            webhooks_pb2.Attempt(number=2, error="connection refused", duration_ms=3,
                                 at_ms=MS + 10)])
    valid(views.DELIVERY_LIST, {"deliveries": [views.delivery(delivery)], "nextCursor": None})
    made = downloads_pb2.ShareLink(id=ID, token="Vx3", expires_at_ms=MS + 3600_000,
                                   max_downloads=3, created_at_ms=MS)
    listed = downloads_pb2.ShareLink(id=ID, expires_at_ms=MS + 3600_000, downloads=1,
                                     created_at_ms=MS, revoked_at_ms=MS + 7)
    valid(views.SHARE_LINK, views.share_link(made, BASE))
    valid(views.SHARE_LINK_LIST, {"links": [views.share_link(listed, BASE)]})


def test_a_view_with_a_field_its_schema_lacks_fails():
    """The schemas are closed (additionalProperties: false): a field added to a view without
    its schema fails the tests above instead of going undocumented."""
    body = {**views.render(render("queued", False), BASE), "extra": 1}
    with pytest.raises(jsonschema.ValidationError):
        valid(views.RENDER, body)


def test_every_schema_example_matches_its_schema():
    examples = {name: s["example"] for name, s in views.SCHEMAS.items() if "example" in s}
    assert examples
    for name, example in examples.items():
        valid(name, example)
