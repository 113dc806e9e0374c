"""The two Kafka payloads, defined once: what each holds, how SQL writes it into the outbox (in the
same statement as the change it announces), and how consumers read it.

    render.jobs     {"renderId", "projectId"}                              -> RenderJob
    render.events   {"event", "renderId", "projectId", "templateId", "status", "downloadUrl",
                     "errorMessage", "createdAt", "completedAt", "durationMs"} -> CompletionEvent

Both are keyed by the render id. Every statement that announces something selects `job_row(...)` or
`event_row(...)` over a row of `renders` (all of whose columns are in scope), so the JSON is built in
one place. Parsing fails with MalformedMessage, which consumers log and skip.

Each outbox row also keeps the trace context of the span that wrote it (the statement's `trace`
parameter, `trace_context()`); the outbox sends it as the message's traceparent/tracestate headers.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from craftkit import tracing


class MalformedMessage(ValueError):
    pass


def _iso(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


# SQL expressions over a row of `renders` in scope: (key, payload) as the outbox stores them.
JOB_KEY = "convert_to(id::text, 'UTF8')"
JOB_PAYLOAD = "convert_to(json_build_object('renderId', id, 'projectId', project_id)::text, 'UTF8')"
EVENT_PAYLOAD = f"""convert_to(json_build_object(
    'event', 'render.' || status::text, 'renderId', id, 'projectId', project_id,
    'templateId', template_id, 'status', status, 'downloadUrl', download_url,
    'errorMessage', error_message, 'createdAt', {_iso('created_at')},
    'completedAt', {_iso('completed_at')}, 'durationMs', duration_ms)::text, 'UTF8')"""


def outbox_insert(topic_param: str, payload: str, source: str) -> str:
    """`INSERT INTO outbox` of one message per row of `source` (a CTE of render rows), returning
    what Outbox.publish needs. The statement's `trace` parameter is `trace_context()`."""
    return (f"INSERT INTO outbox (topic, key, payload, trace_context) SELECT %({topic_param})s, "
            f"{JOB_KEY}, {payload}, %(trace)s::jsonb FROM {source} "
            "RETURNING id, key, payload, trace_context")


def trace_context() -> Jsonb | None:
    """outbox_insert's `trace` parameter: the current span's W3C context, so the message
    continues this trace; NULL when tracing is off or no span is current."""
    fields = tracing.current_fields()
    return Jsonb(fields) if fields else None


def _object(raw: bytes, required: tuple[str, ...]) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, TypeError):
        raise MalformedMessage(f"not JSON: {bytes(raw[:200])!r}") from None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in required):
        raise MalformedMessage(f"missing {', '.join(required)}: {bytes(raw[:200])!r}")
    try:
        uuid.UUID(value["renderId"]), uuid.UUID(value["projectId"])
    except ValueError:
        raise MalformedMessage(f"renderId and projectId must be UUIDs: {bytes(raw[:200])!r}") from None
    return value


@dataclass(frozen=True)
class RenderJob:
    render_id: str
    project_id: str

    @classmethod
    def parse(cls, raw: bytes) -> RenderJob:
        value = _object(raw, ("renderId", "projectId"))
        return cls(render_id=value["renderId"], project_id=value["projectId"])


@dataclass(frozen=True)
class CompletionEvent:
    event: str
    render_id: str
    project_id: str
    body: dict
    """Every field as sent (the webhook payload is chosen from it)."""

    @classmethod
    def parse(cls, raw: bytes) -> CompletionEvent:
        value = _object(raw, ("event", "renderId", "projectId"))
        return cls(event=value["event"], render_id=value["renderId"],
                   project_id=value["projectId"], body=value)
