"""Render rows as the services exchange them, and the SQL column list that fills them."""

from __future__ import annotations

from craftkit.timefmt import ms
from craftkit.v1 import render_pb2

COLUMNS = ("id, project_id, template_id, version_number, status::text AS status, filename, "
           "object_key, download_url, error_message, created_at, completed_at, duration_ms")

STATUS = {
    "queued": render_pb2.RENDER_STATUS_QUEUED,
    "rendering": render_pb2.RENDER_STATUS_RENDERING,
    "succeeded": render_pb2.RENDER_STATUS_SUCCEEDED,
    "failed": render_pb2.RENDER_STATUS_FAILED,
    "cancelled": render_pb2.RENDER_STATUS_CANCELLED,
}
STATUS_NAME = {value: name for name, value in STATUS.items()}
TERMINAL = {"succeeded", "failed", "cancelled"}


def to_proto(row: dict, transitions: list[dict] = ()) -> render_pb2.Render:
    return render_pb2.Render(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        template_id=str(row["template_id"]),
        version_number=row["version_number"],
        status=STATUS[row["status"]],
        filename=row["filename"],
        object_key=row["object_key"] or "",
        download_url=row["download_url"] or "",
        error_message=row["error_message"] or "",
        created_at_ms=ms(row["created_at"]),
        completed_at_ms=ms(row["completed_at"]),
        duration_ms=-1 if row["duration_ms"] is None else row["duration_ms"],
        transitions=[render_pb2.Transition(status=STATUS[t["status"]], attempt=t["attempt"],
                                           at_ms=ms(t["at"])) for t in transitions],
    )
