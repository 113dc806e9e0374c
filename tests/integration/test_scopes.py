"""Every API route against every scope, from the gateway's own route table (so routes added
later are covered without touching this file): a key outside the route's scope gets 403
insufficient_scope naming that scope and changes nothing in the database; a key inside it is
never 403; another project's key on this project's objects is 404 and changes nothing.

Requests refused for scope carry this project's real ids and a valid body: were the check
missing, they would read or change something."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from craftkit.demo import INVOICE_EXAMPLE, sample
from services.gateway.app import API_ROUTES
from services.gateway.auth import GRANTS, SCOPES
from tests.integration.conftest import new_api
from tests.integration.test_assets import png

ROUTES = sorted((method, route.path, route.scope) for route in API_ROUTES
                for method in route.methods if method != "HEAD")
"""(method, path, scope needed) of every route that takes an API key."""
INVOICE = sample("invoice")
BODIES = {
    ("POST", "/v1/templates"): {"slug": "made-by-a-stranger"},
    ("POST", "/v1/templates/{slug}/render"): {"data": INVOICE_EXAMPLE},
    ("POST", "/v1/templates/{slug}/versions"): {"manifest": INVOICE["manifest"],
                                                "layout": INVOICE["layout"]},
    ("PUT", "/v1/templates/{slug}/assets/{name}"): png(4, 4),
    ("POST", "/v1/webhooks"): {"url": "http://127.0.0.1:9/made-by-a-stranger"},
    ("PATCH", "/v1/webhooks/{id}"): {"enabled": False},
    ("POST", "/v1/keys"): {"name": "made-by-a-stranger", "scopes": ["full"]},
    ("POST", "/v1/templates/{slug}/versions/{number}/preview"): {"data": INVOICE_EXAMPLE},
    ("POST", "/v1/templates/{slug}/versions/{n}/preview"): {"data": INVOICE_EXAMPLE},
}
"""A valid body for each route that needs one (others get `{}`): add one for a new route whose
empty body is refused before the scope or project could matter."""


class Owner:
    """A project with one key per scope and one object of each kind, its ids by path parameter."""

    def __init__(self, stack) -> None:
        self.api = new_api(stack)
        self.stack = stack
        http = self.api.http
        self.slug = f"only-here-{uuid.uuid4().hex[:8]}"
        assert http.post("/v1/templates", json={"slug": self.slug}).status_code == 201
        # logo.png: the image the invoice layout shows, uploaded before the version (lint).
        http.put(f"/v1/templates/{self.slug}/assets/logo.png", content=png(4, 4)).raise_for_status()
        version = http.post(f"/v1/templates/{self.slug}/versions", json=BODIES[
            ("POST", "/v1/templates/{slug}/versions")]).json()["number"]
        http.post(f"/v1/templates/{self.slug}/versions/{version}/publish").raise_for_status()
        render = self.api.render(INVOICE_EXAMPLE, slug=self.slug, sync=True).json()
        # Subscribed to an event that never comes here, so no delivery changes rows meanwhile.
        webhook = http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/owner",
                                                  "events": ["render.failed"]}).json()
        hook = http.post(f"/v1/templates/{self.slug}/inbound-hooks", json={}).json()
        link = http.post(f"/v1/renders/{render['id']}/share-links", json={}).json()
        self.keys = {scope: http.post("/v1/keys", json={"name": scope, "scopes": [scope]}).json()
                     for scope in SCOPES}
        victim = http.post("/v1/keys", json={"name": "victim"}).json()
        self.ids = {"renders": render["id"], "webhooks": webhook["id"], "keys": victim["id"],
                    "inbound-hooks": hook["id"], "share-links": link["id"]}

    def url(self, path: str) -> str:
        """`path` with this project's objects in it: {id} is the object of the collection
        named before it; a parameter of an unknown kind gets a fresh UUID."""
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part == "{slug}":
                parts[i] = self.slug
            elif part in ("{number}", "{n}"):
                parts[i] = "1"
            elif part == "{name}":
                parts[i] = "logo.png"
            elif part in ("{id}", "{link}"):
                parts[i] = self.ids.get(parts[i - 1], str(uuid.uuid4()))
            elif part.startswith("{"):
                parts[i] = str(uuid.uuid4())
        return self.stack.base_url + "/".join(parts)

    def snapshot(self) -> list:
        """Every row of this project's: in tables with a project_id, and in those hanging off
        its templates or webhook endpoints (when each key was last used aside)."""
        with psycopg.connect(self.stack.infra.database_url, row_factory=dict_row) as conn:
            columns = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name IN "
                "('project_id', 'template_id', 'endpoint_id')").fetchall()
            parents = {"project_id": "SELECT %(p)s::uuid",
                       "template_id": "SELECT id FROM templates WHERE project_id = %(p)s",
                       "endpoint_id": "SELECT id FROM webhook_endpoints WHERE project_id = %(p)s"}
            rows = []
            for c in sorted(columns, key=lambda c: (c["table_name"], c["column_name"])):
                rows += [(c["table_name"], json.dumps(r["row"], sort_keys=True, default=str))
                         for r in conn.execute(
                             f"SELECT to_jsonb(t) - 'last_used_at' AS row FROM {c['table_name']} "
                             f"t WHERE {c['column_name']} IN ({parents[c['column_name']]})",
                             {"p": self.api.project_id})]
        return sorted(rows)

    def close(self) -> None:
        self.api.close()


@pytest.fixture(scope="module")
def owner(stack):
    owner = Owner(stack)
    yield owner
    owner.close()


def call(method: str, url: str, key: str, body) -> httpx.Response:
    raw = isinstance(body, bytes)
    return httpx.request(method, url, headers={"authorization": f"Bearer {key}"}, timeout=30,
                         content=body if raw else None, json=None if raw else body)


def test_every_route_is_in_the_matrix():
    assert {path for _, path, _ in ROUTES} >= {"/v1/keys", "/v1/renders/{id}", "/v1/templates"}
    assert {scope for _, _, scope in ROUTES} <= set(SCOPES)


@pytest.mark.parametrize("scope", SCOPES)
def test_a_key_outside_a_routes_scope_is_403_naming_it_and_changes_nothing(owner, scope):
    before = owner.snapshot()
    forbidden = [(m, p, needed) for m, p, needed in ROUTES if needed not in GRANTS[scope]]
    assert scope == "full" or forbidden
    for method, path, needed in forbidden:
        response = call(method, owner.url(path), owner.keys[scope]["key"],
                        BODIES.get((method, path), {}))
        assert response.status_code == 403, (method, path, response.text)
        error = response.json()["error"]
        assert (error["code"], f"'{needed}'" in error["message"]) == (
            "insufficient_scope", True), (method, path, error)
    assert owner.snapshot() == before


@pytest.mark.parametrize("scope", SCOPES)
def test_a_key_inside_a_routes_scope_is_never_403(owner, scope):
    """With ids that name nothing (nothing is changed): the answer may be 404 or 400, not 403."""
    allowed = [(m, p) for m, p, needed in ROUTES if needed in GRANTS[scope]]
    assert allowed
    for method, path in allowed:
        url = owner.stack.base_url + "/".join(
            str(uuid.uuid4()) if part.startswith("{") and part not in ("{number}", "{n}")
            else "1" if part.startswith("{") else part for part in path.split("/"))
        response = call(method, url, owner.keys[scope]["key"], {})
        assert response.status_code not in (401, 403), (method, path, response.text)


def test_another_projects_key_finds_none_of_this_projects_objects(owner):
    stranger = new_api(owner.stack)
    try:
        before = owner.snapshot()
        for method, path, _ in ROUTES:
            if "{" not in path:
                continue
            response = call(method, owner.url(path), stranger.key, BODIES.get((method, path), {}))
            assert response.status_code == 404, (method, path, response.text)
        assert owner.snapshot() == before
    finally:
        stranger.close()
