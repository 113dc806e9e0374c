"""The render path a client sees: POST, poll, download, sync mode, dedupe, project isolation."""

from __future__ import annotations

import re
import signal
import threading
import uuid

import httpx
import psycopg
import pytest

from craftkit.v1 import render_pb2
from tests.integration.conftest import eventually, invoice, new_api, objects, pdf_text

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
S = render_pb2


def test_post_returns_202_with_the_documented_shape(api):
    response = api.render(invoice())
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status", "pollUrl", "downloadUrl", "errorMessage", "createdAt"}
    assert uuid.UUID(body["id"]).version == 7
    assert body["status"] == "queued"
    assert body["pollUrl"] == f"{api.stack.base_url}/v1/renders/{body['id']}"
    assert response.headers["location"] == body["pollUrl"]
    assert body["downloadUrl"] is None and body["errorMessage"] is None
    assert ISO_MS.match(body["createdAt"])


def test_render_succeeds_and_the_pdf_holds_the_data(api):
    data = invoice("Acme Corp")
    created = api.render(data).json()
    api.wait(created["id"])

    polled = api.http.get(created["pollUrl"])
    assert polled.status_code == 200
    body = polled.json()
    assert body["status"] == "succeeded"
    assert body["id"] == created["id"] and body["createdAt"] == created["createdAt"]
    assert ISO_MS.match(body["completedAt"]) and body["errorMessage"] is None
    assert isinstance(body["durationMs"], int) and body["durationMs"] >= 0
    assert body["downloadUrl"].endswith(f"/renders/{body['id']}/invoice.pdf")

    pdf = httpx.get(body["downloadUrl"])  # public URL: no key needed
    assert pdf.status_code == 200
    text, pages = pdf_text(pdf.content)
    assert pages == 1
    for expected in ("INVOICE", "Acme", "Widget 0", "$9.99", "Total due", "$49.95"):
        assert expected in text


def test_status_moves_queued_rendering_succeeded_once(api):
    created = api.render(invoice()).json()
    render = api.wait(created["id"])
    assert [t.status for t in render.transitions] == [
        S.RENDER_STATUS_QUEUED, S.RENDER_STATUS_RENDERING, S.RENDER_STATUS_SUCCEEDED]
    assert [o.object_name for o in objects(api.stack, created["id"])] == [
        f"renders/{created['id']}/invoice.pdf"]


def test_filename_option_names_the_object(api):
    created = api.render(invoice(), filename="invoice-2026-005.pdf").json()
    render = api.wait(created["id"])
    assert render.object_key == f"renders/{created['id']}/invoice-2026-005.pdf"
    assert api.http.get(created["pollUrl"]).json()["downloadUrl"].endswith("/invoice-2026-005.pdf")


def test_sync_mode_answers_200_with_the_finished_render(api):
    response = api.render(invoice(), sync=True)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["downloadUrl"] and body["completedAt"] and body["durationMs"] is not None


def test_sync_mode_gives_202_when_the_render_outlasts_the_wait(stack, api):
    # A gateway of its own with a 0.2 s sync wait, in front of the same services.
    with stack.extra("gateway", {"SYNC_TIMEOUT_SECONDS": "0.2"}) as address:
        response = httpx.post(f"http://{address}/v1/templates/invoice/render",
                              headers={"authorization": f"Bearer {api.key}"}, timeout=30,
                              json={"data": invoice(rows=8000), "options": {"sync": True}})
        assert response.status_code == 202, response.text
        assert response.json()["status"] in ("queued", "rendering")
        assert api.wait(response.json()["id"]).status == S.RENDER_STATUS_SUCCEEDED


def test_identical_requests_share_one_render(api):
    data = invoice()
    first = api.render(data).json()
    again = api.render(data).json()
    assert again["id"] == first["id"]
    other_name = api.render(data, filename="other.pdf").json()
    assert other_name["id"] != first["id"]
    api.wait(first["id"])
    after = api.render(data)
    assert after.status_code == 202 and after.json()["id"] == first["id"]
    assert after.json()["status"] == "succeeded"
    assert len(objects(api.stack, first["id"])) == 1


def test_another_projects_render_is_404_not_403(stack, api):
    created = api.render(invoice(), sync=True).json()
    assert api.http.get(created["pollUrl"]).status_code == 200  # now in the gateway's cache
    stranger = new_api(stack)
    try:
        response = stranger.http.get(f"/v1/renders/{created['id']}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    finally:
        stranger.close()


def test_version_number_pins_a_published_version(api):
    template = api.http.get("/v1/templates/invoice").json()
    v1 = template["versions"][0]
    layout = {**v1["layout"], "body": [{"type": "title", "text": "Invoice v2"}, *v1["layout"]["body"][1:]]}
    added = api.http.post("/v1/templates/invoice/versions", json={"manifest": v1["manifest"], "layout": layout})
    assert added.status_code == 201 and added.json()["number"] == 2
    assert api.http.post("/v1/templates/invoice/versions/2/publish").json()["publishedVersion"] == 2

    default = api.render(invoice(), sync=True).json()
    pinned = api.render(invoice(), sync=True, versionNumber=1).json()
    assert "Invoice v2" in pdf_text(httpx.get(default["downloadUrl"]).content)[0]
    assert "Invoice v2" not in pdf_text(httpx.get(pinned["downloadUrl"]).content)[0]


@pytest.mark.parametrize("rows", [60])
def test_long_tables_repeat_the_header_on_every_page(api, rows):
    created = api.render(invoice(rows=rows), sync=True).json()
    text, pages = pdf_text(httpx.get(created["downloadUrl"]).content)
    assert pages >= 2
    assert text.count("Qty") == pages
    assert f"Widget {rows - 1}" in text


def test_sync_mode_gives_202_when_the_status_service_stops_mid_wait(stack, api):
    """A rollout stops status replicas while gateways wait on them (a replica's stop grace, 5 s,
    is shorter than SYNC_TIMEOUT_SECONDS): the render is accepted, so the client gets a 202 to
    poll, not a 5xx that reads as "not accepted"."""
    stack.kill_service("render_worker", signal.SIGTERM)  # the render stays queued: the wait lasts
    answered = {}
    waiting = threading.Thread(target=lambda: answered.update(
        response=api.render(invoice(), sync=True)))
    try:
        waiting.start()
        eventually(lambda: queued_in(stack, api.project_id), what="the render recorded")
        stack.kill_service("status", signal.SIGTERM)
        waiting.join(timeout=60)
    finally:
        stack.start_service("status")
        stack.start_service("render_worker")
        stack.wait_ready(names=["status", "render_worker"], timeout=60)
    response = answered["response"]
    assert response.status_code == 202, response.text
    assert api.wait(response.json()["id"]).status == S.RENDER_STATUS_SUCCEEDED


def queued_in(stack, project_id: str) -> bool:
    with psycopg.connect(stack.infra.database_url) as conn:
        return conn.execute("SELECT 1 FROM renders WHERE project_id = %s AND status = 'queued'",
                            (project_id,)).fetchone() is not None
