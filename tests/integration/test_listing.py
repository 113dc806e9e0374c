"""Listing renders (and the other lists) a page at a time: keyset pagination that stays exact
while renders are added, every filter, cursors that cannot be forged into a 500, and the query
plans that keep each page an index range read however many renders a project has."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone

import grpc
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from craftkit import cursor, db, demo, errors
from craftkit.v1 import render_pb2 as S
from craftkit.v1 import status_pb2
from services.status.renders import list_query
from tests.integration.conftest import eventually, invoice, new_api


@pytest.fixture
def api(idle):
    api = new_api(idle)
    yield api
    api.close()


def post(api, slug: str = "invoice") -> str:
    if slug == "invoice":
        response = api.render(invoice())
    else:
        response = api.render(demo.sample(slug)["example"], slug=slug,
                              filename=f"{uuid.uuid4().hex}.pdf")
    assert response.status_code == 202, response.text
    return response.json()["id"]


def listing(api, **fields) -> status_pb2.ListRendersResponse:
    return api.status.ListRenders(status_pb2.ListRendersRequest(
        project_id=api.project_id, **fields), timeout=10)


def every_page(api, **fields) -> list[str]:
    ids, after = [], ""
    while True:
        page = listing(api, cursor=after, **fields)
        ids += [r.id for r in page.renders]
        if not page.next_cursor:
            return ids
        after = page.next_cursor


def refusal(call) -> errors.ApiError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return errors.from_rpc_error(raised.value)


def test_pages_walk_newest_first_and_renders_added_meanwhile_hide_or_repeat_nothing(api):
    older = [post(api) for _ in range(25)]
    first = listing(api, limit=10)
    assert [r.id for r in first.renders] == older[::-1][:10]
    assert first.renders[0].template_slug == "invoice"
    newer = [post(api) for _ in range(7)]  # inserted while the client pages
    rest, after = [], first.next_cursor
    while after:
        page = listing(api, limit=10, cursor=after)
        rest += [r.id for r in page.renders]
        after = page.next_cursor
    assert [r.id for r in first.renders] + rest == older[::-1]
    # A new walk starts with them.
    assert every_page(api, limit=6) == newer[::-1] + older[::-1]


def test_each_filter_and_their_combinations(idle, api):
    invoices = [post(api) for _ in range(4)]
    receipts = [post(api, "receipt") for _ in range(3)]
    cancelled = {invoices[1], receipts[0]}
    for render_id in cancelled:
        api.status.CancelRender(status_pb2.CancelRenderRequest(
            project_id=api.project_id, render_id=render_id), timeout=10)
    created = {r.id: r.created_at_ms for r in listing(api, limit=100).renders}
    everything = invoices + receipts

    def expect(ids) -> list[str]:
        return sorted(ids, key=lambda i: (created[i], uuid.UUID(i)), reverse=True)

    assert every_page(api, limit=2) == expect(everything)
    assert every_page(api, status=S.RENDER_STATUS_CANCELLED) == expect(cancelled)
    assert every_page(api, status=S.RENDER_STATUS_QUEUED, limit=2) == expect(
        set(everything) - cancelled)
    assert every_page(api, template_slug="receipt") == expect(receipts)
    assert every_page(api, template_slug="receipt", status=S.RENDER_STATUS_CANCELLED) == [
        receipts[0]]
    assert every_page(api, status=S.RENDER_STATUS_SUCCEEDED) == []
    middle = created[invoices[2]]
    assert every_page(api, created_after_ms=middle) == expect(
        i for i in everything if created[i] > middle)
    assert every_page(api, created_before_ms=middle, limit=1) == expect(
        i for i in everything if created[i] < middle)
    assert every_page(api, created_after_ms=created[invoices[0]], created_before_ms=middle,
                      template_slug="invoice") == expect(
        i for i in invoices if created[invoices[0]] < created[i] < middle)
    # Another project's renders never show, whatever the filter.
    other = new_api(idle)
    try:
        assert every_page(other) == [] and every_page(other, template_slug="invoice") == []
    finally:
        other.close()


@pytest.mark.parametrize("fields, field", [
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": cursor.encode("2026-01-01", "x")}, "cursor"),
    ({"cursor": cursor.encode(1, 2, 3)}, "cursor"),
    ({"cursor": cursor.encode(-5, str(uuid.uuid4()))}, "cursor"),
    ({"cursor": "A" * 600}, "cursor"),
    ({"limit": 101}, "limit"),
    ({"limit": -1}, "limit"),
    ({"created_after_ms": -1}, "created_after_ms"),
    ({"status": 42}, "status"),
])
def test_bad_parameters_are_invalid_request_naming_them(api, fields, field):
    refused = refusal(lambda: listing(api, **fields))
    assert refused.code == "invalid_request" and field in refused.field_errors


def test_an_unknown_template_is_template_not_found(api):
    assert refusal(lambda: listing(api, template_slug="nope")).code == "template_not_found"


def test_limit_defaults_to_20(api):
    ids = [post(api) for _ in range(21)]
    page = listing(api)
    assert len(page.renders) == 20 and page.next_cursor
    assert [r.id for r in listing(api, cursor=page.next_cursor).renders] == [ids[0]]


def rest_pages(api, path: str, key: str, **query) -> list[dict]:
    items, after = [], None
    while True:
        params = {**query, **({"cursor": after} if after else {})}
        response = api.http.get(path, params=params)
        assert response.status_code == 200, response.text
        items += response.json()[key]
        after = response.json()["nextCursor"]
        if after is None:
            return items


def test_rest_listing_pages_filters_and_shows_renders_as_get_does(api):
    ids = [post(api) for _ in range(5)]
    receipt = post(api, "receipt")
    api.http.post(f"/v1/renders/{ids[0]}/cancel")
    first = api.http.get("/v1/renders", params={"limit": 2}).json()
    assert [r["id"] for r in first["data"]] == [receipt, ids[4]] and first["nextCursor"]
    assert first["data"][1] == api.http.get(f"/v1/renders/{ids[4]}").json()
    assert [r["id"] for r in rest_pages(api, "/v1/renders", "data", limit=2)] == [
        receipt, *ids[::-1]]
    assert [r["id"] for r in rest_pages(api, "/v1/renders", "data", status="cancelled")] == [
        ids[0]]
    assert [r["id"] for r in rest_pages(api, "/v1/renders", "data", template="receipt")] == [
        receipt]
    created = {r["id"]: r["createdAt"] for r in first["data"]}
    after = rest_pages(api, "/v1/renders", "data", createdAfter=created[ids[4]])
    assert [r["id"] for r in after] == [receipt]
    before = rest_pages(api, "/v1/renders", "data", createdBefore=created[ids[4]],
                        status="queued", template="invoice")
    assert [r["id"] for r in before] == ids[1:4][::-1]


@pytest.mark.parametrize("query, parameter", [
    ({"status": "processing"}, "status"),
    ({"status": ""}, "status"),
    ({"template": ""}, "template"),
    ({"template": "x" * 64}, "template"),
    ({"createdAfter": "yesterday"}, "createdAfter"),
    ({"createdAfter": "2026-06-05T10:00:00"}, "createdAfter"),  # no time zone
    ({"createdBefore": "1969-12-31T00:00:00Z"}, "createdBefore"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "１２"}, "limit"),
    ({"cursor": "not a cursor"}, "cursor"),
    ({"cursor": cursor.encode("forged", 1)}, "cursor"),
])
def test_rest_bad_query_values_are_400_naming_the_parameter(api, query, parameter):
    response = api.http.get("/v1/renders", params=query)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and parameter in error["issues"]["fieldErrors"]


def test_templates_webhooks_and_deliveries_page_with_the_same_cursors(api, receiver):
    slugs = [t["slug"] for t in rest_pages(api, "/v1/templates", "templates", limit=2)]
    assert slugs == sorted(demo.SAMPLES)
    for n in range(3):
        created = api.http.post("/v1/webhooks", json={"url": f"{receiver.base}/{n}",
                                                      "events": ["render.cancelled"]})
        assert created.status_code == 201, created.text
    hooks = rest_pages(api, "/v1/webhooks", "webhooks", limit=2)
    assert [h["url"] for h in hooks] == [f"{receiver.base}/{n}" for n in range(3)]
    cancelled = [post(api) for _ in range(3)]
    for render_id in cancelled:
        api.http.post(f"/v1/renders/{render_id}/cancel")
    path = f"/v1/webhooks/{hooks[0]['id']}/deliveries"
    eventually(lambda: len(api.http.get(path).json()["deliveries"]) == 3, what="3 deliveries")
    # Deliveries recorded in one batch share a createdAt: their ids order them within it.
    whole = api.http.get(path, params={"limit": 200}).json()
    assert whole["nextCursor"] is None
    assert [d["id"] for d in rest_pages(api, path, "deliveries", limit=2)] == [
        d["id"] for d in whole["deliveries"]]
    assert sorted(d["renderId"] for d in whole["deliveries"]) == sorted(cancelled)
    bad = api.http.get("/v1/webhooks", params={"cursor": cursor.encode("x")})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]["issues"]["fieldErrors"]


@pytest.fixture(scope="module")
def big_database(idle):
    """A database of its own with 200,000 renders in two projects (0.5 % failed, 0.5 %
    cancelled, one template in 20), analysed, to read the planner's choices from."""
    name = f"plans_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(idle.infra.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = make_conninfo(idle.infra.database_url, dbname=name)
        try:
            db.migrate(url)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SEED)
                conn.execute("ANALYZE")
            yield url
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


PROJECT, RARE_TEMPLATE = uuid.UUID(int=1), uuid.UUID(int=11)
SEED = f"""
INSERT INTO projects (id, name) VALUES ('{PROJECT}', 'big'), ('{uuid.UUID(int=2)}', 'other');
INSERT INTO templates (id, project_id, slug, name, default_filename)
    SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(t), 12, '0'))::uuid,
           CASE WHEN t < 20 THEN '{PROJECT}'::uuid ELSE '{uuid.UUID(int=2)}'::uuid END,
           'slug-' || t, 't', 'x.pdf'
    FROM generate_series(10, 20) t;
INSERT INTO template_versions (template_id, number, manifest, layout)
    SELECT id, 1, '{{}}', '{{}}' FROM templates;
INSERT INTO renders (id, project_id, template_id, version_number, data, filename, status,
                     created_at, completed_at)
    SELECT gen_random_uuid(), CASE WHEN g % 10 = 0 THEN '{uuid.UUID(int=2)}'::uuid
                                   ELSE '{PROJECT}'::uuid END,
           CASE WHEN g % 10 = 0 THEN '{uuid.UUID(int=20)}'::uuid
                WHEN g % 20 = 1 THEN '{RARE_TEMPLATE}'::uuid
                ELSE '{uuid.UUID(int=12)}'::uuid END,
           1, '{{}}', 'x.pdf',
           (CASE WHEN g % 200 = 1 THEN 'failed' WHEN g % 200 = 7 THEN 'cancelled'
                 ELSE 'succeeded' END)::render_status,
           timestamp '2026-01-01' - g * interval '1 second',
           timestamp '2026-01-01' - g * interval '1 second' + interval '1 second'
    FROM generate_series(1, 200000) g;
"""

INDEXES = {(False, False): "renders_by_project", (True, False): "renders_by_status",
           (False, True): "renders_by_template", (True, True): "renders_by_template_status"}


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


@pytest.mark.parametrize("status, template, after, before, position",
                         list(itertools.product([False, True], repeat=5)))
def test_every_filter_combination_is_one_index_range_read_without_a_sort(
        big_database, status, template, after, before, position):
    start = datetime(2025, 12, 31, tzinfo=timezone.utc)
    params: dict = {"project": PROJECT, "limit": 21}
    if status:
        params["status"] = "failed"
    if template:
        params["template"] = RARE_TEMPLATE
    if after:
        params["after"] = start - timedelta(days=1)
    if before:
        params["before"] = start
    if position:
        params["at"], params["last"] = start - timedelta(hours=3), uuid.uuid4()
    with psycopg.connect(big_database) as conn:
        [[plan]] = conn.execute("EXPLAIN (FORMAT JSON) " + list_query(params), params).fetchall()
    tree = plan[0]["Plan"]
    shown = json.dumps(tree, indent=1)
    assert tree["Node Type"] == "Limit", shown
    assert not [n for n in nodes(tree) if "Sort" in n["Node Type"]], shown
    [scan] = [n for n in nodes(tree) if n.get("Relation Name") == "renders"]
    assert scan["Node Type"] == "Index Scan" and scan["Scan Direction"] == "Backward", shown
    assert scan["Index Name"] == INDEXES[(status, template)], shown
    assert "Filter" not in scan, shown  # every condition bounds the range read
