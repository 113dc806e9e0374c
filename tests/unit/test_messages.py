"""The Kafka payloads: what consumers accept and what they refuse."""

from __future__ import annotations

import json
import uuid

import pytest

from craftkit.messages import CompletionEvent, MalformedMessage, RenderJob

RID, PID = str(uuid.uuid4()), str(uuid.uuid4())


def test_a_job_reads_its_render_and_project():
    job = RenderJob.parse(json.dumps({"renderId": RID, "projectId": PID}).encode())
    assert (job.render_id, job.project_id) == (RID, PID)


def test_an_event_keeps_every_field_for_the_webhook_payload():
    body = {"event": "render.succeeded", "renderId": RID, "projectId": PID,
            "downloadUrl": "https://cdn.example/x.pdf"}
    event = CompletionEvent.parse(json.dumps(body).encode())
    assert (event.event, event.render_id, event.project_id, event.body) == (
        "render.succeeded", RID, PID, body)


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[]", b'"renderId"', b'{"renderId": 1, "projectId": 2}',
    json.dumps({"renderId": RID}).encode(),
    json.dumps({"renderId": "x" * 5000, "projectId": PID}).encode(),
    b"\xff\xfe",
])
def test_malformed_jobs_are_refused_with_a_short_message(raw):
    with pytest.raises(MalformedMessage) as caught:
        RenderJob.parse(raw)
    assert len(str(caught.value)) < 400


def test_an_event_needs_its_event_name():
    with pytest.raises(MalformedMessage):
        CompletionEvent.parse(json.dumps({"renderId": RID, "projectId": PID}).encode())
