"""Render lifecycle metrics, counted where each transition is written: `queued` by the enqueue
service (a new render, not a deduplicated repeat), `rendering` (each claim, a retry's included),
`succeeded`, `failed` and `cancelled` by the status service, with the end-to-end time observed
at the terminal transition. Label values are bounded: the five statuses, and template slugs
through Capped(100)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from craftkit.metrics import Capped
from craftkit.renders import STATUS, TERMINAL

ACCEPTED = Counter("craftkit_renders_accepted_total", "Renders accepted (a deduplicated repeat "
                   "is not counted), by template slug (the first 100 a process sees; later ones "
                   'are "other").', ["template"])
TRANSITIONS = Counter("craftkit_render_transitions_total", "Renders entering a status (rendering "
                      "once per attempt).", ["status"])
END_TO_END = Histogram("craftkit_render_end_to_end_seconds", "Time from a render's creation to "
                       "its terminal status, by that status.", ["status"],
                       buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
for _status in STATUS:
    TRANSITIONS.labels(_status)
for _status in TERMINAL:
    END_TO_END.labels(_status)

_templates = Capped(100)


def accepted(template_slug: str) -> None:
    """A new render (not a deduplicated one) was written, queued."""
    ACCEPTED.labels(_templates(template_slug)).inc()
    TRANSITIONS.labels("queued").inc()


def entered(row: dict) -> None:
    """`row` (a render as an UPDATE returned it, COLUMNS) entered its status; a terminal one is
    timed from its creation."""
    status = row["status"]
    TRANSITIONS.labels(status).inc()
    if status in TERMINAL and row.get("completed_at") and row.get("created_at"):
        END_TO_END.labels(status).observe(
            max(0.0, (row["completed_at"] - row["created_at"]).total_seconds()))
