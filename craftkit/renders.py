"""Render rows as the services exchange them, and the SQL column list that fills them."""

from __future__ import annotations

from urllib.parse import quote

from craftkit.timefmt import ms
from craftkit.v1 import render_pb2

COLUMNS = ("id, project_id, template_id, version_number, status::text AS status, filename, "
           "object_key, download_url, error_message, created_at, completed_at, duration_ms, "
           "expired_at")
# The template's slug, for reads that show it (a primary-key lookup per row).
TEMPLATE_SLUG = "(SELECT slug FROM templates WHERE templates.id = renders.template_id) AS template_slug"

STATUS = {
    "queued": render_pb2.RENDER_STATUS_QUEUED,
    "rendering": render_pb2.RENDER_STATUS_RENDERING,
    "succeeded": render_pb2.RENDER_STATUS_SUCCEEDED,
    "failed": render_pb2.RENDER_STATUS_FAILED,
    "cancelled": render_pb2.RENDER_STATUS_CANCELLED,
}
STATUS_NAME = {value: name for name, value in STATUS.items()}
TERMINAL = {"succeeded", "failed", "cancelled"}


def object_key(render_id: str, filename: str) -> str:
    """Where a render's PDF is stored in the bucket (under the public prefix)."""
    return f"renders/{render_id}/{filename}"


def download_url(public_base_url: str, key: str) -> str:
    """The PDF's public address: S3_PUBLIC_BASE_URL + "/" + the key, or "" without a public base.
    The worker reports it and the status service accepts only this, so no caller can make a
    webhook point somewhere else."""
    return f"{public_base_url}/{quote(key)}" if public_base_url else ""


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
        expired_at_ms=ms(row.get("expired_at")),
        template_slug=row.get("template_slug") or "",
        transitions=[render_pb2.Transition(status=STATUS[t["status"]], attempt=t["attempt"],
                                           at_ms=ms(t["at"])) for t in transitions],
    )
