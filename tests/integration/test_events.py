"""Failed renders, and the completion events the webhooks service records once per render."""

from __future__ import annotations

import psycopg

from craftkit.v1 import render_pb2 as S
from tests.integration.conftest import eventually, invoice, objects


def recorded_event(stack, render_id: str) -> dict | None:
    with psycopg.connect(stack.infra.database_url) as conn:
        row = conn.execute("SELECT payload FROM webhook_events WHERE render_id = %s",
                           (render_id,)).fetchone()
    return row[0] if row else None


def test_a_render_that_cannot_be_laid_out_fails_with_a_useful_message(api):
    data = invoice()
    data["items"][0]["name"] = "line\n" * 300  # one table row taller than a page
    created = api.render(data).json()
    assert api.wait(created["id"]).status == S.RENDER_STATUS_FAILED
    body = api.http.get(created["pollUrl"]).json()
    assert body["status"] == "failed" and body["downloadUrl"] is None
    assert "taller than a page" in body["errorMessage"]
    assert body["completedAt"] and body["durationMs"] is not None
    assert objects(api.stack, created["id"]) == []


def test_each_completion_reaches_the_webhooks_service_with_the_seed_payload(api):
    ok = api.render(invoice(), sync=True).json()
    bad_data = invoice()
    bad_data["items"][0]["name"] = "line\n" * 300
    bad = api.render(bad_data, sync=True).json()

    event = eventually(lambda: recorded_event(api.stack, ok["id"]), what="succeeded event")
    template_id = api.http.get("/v1/templates/invoice").json()["id"]
    assert event == {
        "event": "render.succeeded", "renderId": ok["id"], "projectId": api.project_id,
        "templateId": template_id, "status": "succeeded", "downloadUrl": ok["downloadUrl"],
        "errorMessage": None, "createdAt": ok["createdAt"], "completedAt": ok["completedAt"],
        "durationMs": ok["durationMs"]}
    failed = eventually(lambda: recorded_event(api.stack, bad["id"]), what="failed event")
    assert failed["event"] == "render.failed" and failed["status"] == "failed"
    assert failed["errorMessage"] == bad["errorMessage"] and failed["downloadUrl"] is None


def test_a_render_over_a_limit_fails_saying_which_and_the_worker_moves_on(api):
    too_long = api.render(invoice(rows=12000)).json()  # the test stack allows 10,000 rows
    next_one = api.render(invoice()).json()
    failed = api.wait(too_long["id"])
    assert failed.status == S.RENDER_STATUS_FAILED
    assert "more than 10000 rows" in failed.error_message and "row limit" in failed.error_message
    assert api.wait(next_one["id"]).status == S.RENDER_STATUS_SUCCEEDED
