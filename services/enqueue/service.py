"""EnqueueService: validate, record the render and its job in one statement, then hand the job to
Kafka (the outbox relay does it if that fails)."""

from __future__ import annotations

import hashlib
import json
import logging

from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors, logs, messages
from craftkit.outbox import Outbox
from craftkit.renders import COLUMNS, to_proto
from craftkit.v1 import enqueue_pb2, enqueue_pb2_grpc
from services.status import metrics
from services.status.templates import (check_filename, compiled, known_template, load_data,
                                       not_found)

log = logging.getLogger(__name__)

# One round trip: claim the dedupe key (or find it unexpired), insert the render and its job.
# A key whose render was cancelled is free again: asking for the same render after cancelling it
# means rendering it now, not being handed the cancelled one. So is one whose render expired
# (RENDER_RETENTION_DAYS): its PDF is gone, and handing it back would answer with no PDF.
ENQUEUE = f"""
WITH dedupe AS (
    INSERT INTO render_dedupe (project_id, dedupe_key, render_id, expires_at)
    VALUES (%(project)s, %(key)s, %(id)s, clock_timestamp() + %(window)s * interval '1 second')
    ON CONFLICT (project_id, dedupe_key) DO UPDATE
        SET render_id = EXCLUDED.render_id, expires_at = EXCLUDED.expires_at
        WHERE render_dedupe.expires_at < clock_timestamp()
           OR EXISTS (SELECT 1 FROM renders c WHERE c.id = render_dedupe.render_id
                      AND (c.status = 'cancelled' OR c.expired_at IS NOT NULL))
    RETURNING render_id
), render AS (
    INSERT INTO renders (id, project_id, template_id, version_number, data, filename)
    SELECT render_id, %(project)s, %(template)s, %(version)s, %(data)s, %(filename)s FROM dedupe
    RETURNING {COLUMNS}
), job AS (
    {messages.outbox_insert("topic", messages.JOB_PAYLOAD, "render")}
)
SELECT render.*, job.id AS outbox_id, job.key AS job_key, job.payload AS job_payload,
       job.trace_context AS job_trace_context
FROM render, job
"""

EXISTING = f"""
SELECT {COLUMNS} FROM renders
WHERE id = (SELECT render_id FROM render_dedupe WHERE project_id = %s AND dedupe_key = %s)
"""

TEMPLATE = """
SELECT t.id, t.default_filename, t.published_version, v.number, v.published_at IS NOT NULL AS published,
       v.manifest::text AS manifest
FROM templates t
LEFT JOIN template_versions v ON v.template_id = t.id
     AND v.number = coalesce(%(version)s, t.published_version)
WHERE t.project_id = %(project)s AND t.slug = %(slug)s
"""


def dedupe_key(template_id, version: int, data: dict, filename: str) -> bytes:
    """Same template version, same data (defaults filled in, keys in any order), same filename."""
    canonical = json.dumps({"data": data, "filename": filename},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{template_id}:{version}:{canonical}".encode()).digest()


class EnqueueService(enqueue_pb2_grpc.EnqueueServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, outbox: Outbox, *, jobs_topic: str,
                 dedupe_window: int) -> None:
        self.pool = pool
        self.outbox = outbox
        self.jobs_topic = jobs_topic
        self.dedupe_window = dedupe_window

    async def EnqueueRender(self, request, context):
        data = load_data(request.data_json)
        if not known_template(request.project_id, request.template_slug):
            raise not_found(request.template_slug)
        version = request.version_number or None
        async with self.pool.connection() as conn:
            cur = await conn.execute(TEMPLATE, {"project": request.project_id,
                                                "slug": request.template_slug, "version": version})
            template = await cur.fetchone()
            if template is None:
                raise not_found(request.template_slug)
            if version is None and template["published_version"] is None:
                raise errors.NoPublishedVersion(
                    f"template {request.template_slug!r} has no published version yet; "
                    "publish one first")
            if template["number"] is None or not template["published"]:
                raise errors.VersionNotFound(
                    f"template {request.template_slug!r} has no published version {version}")
            data = compiled(template["id"], template["number"], template["manifest"]).validate(data)
            data_json = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            filename = (check_filename(request.filename, errors.InvalidRequest)
                        if request.filename else template["default_filename"])
            key = dedupe_key(template["id"], template["number"], data, filename)
            cur = await conn.execute(ENQUEUE, {
                "project": request.project_id, "key": key, "id": uuid7(),
                "window": self.dedupe_window, "template": template["id"],
                "version": template["number"], "data": data_json, "filename": filename,
                "topic": self.jobs_topic, "trace": messages.trace_context()})
            row = await cur.fetchone()
            deduplicated = row is None
            if deduplicated:
                cur = await conn.execute(EXISTING, (request.project_id, key))
                row = await cur.fetchone()
            else:
                self.outbox.publish(row["outbox_id"], self.jobs_topic, row["job_key"],
                                    row["job_payload"], row["job_trace_context"])
                metrics.accepted(request.template_slug)
        with logs.bound(render_id=str(row["id"])):
            log.info("render %s of %s version %d", "deduplicated" if deduplicated else "accepted",
                     request.template_slug, template["number"])
        return enqueue_pb2.EnqueueRenderResponse(render=to_proto(row), deduplicated=deduplicated)
