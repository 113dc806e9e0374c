"""Timestamps as the API shows them: ISO-8601 UTC with milliseconds and Z."""

from __future__ import annotations

from datetime import datetime, timezone


def ms(value: datetime | None) -> int:
    """Epoch milliseconds, 0 for None (proto3 has no null)."""
    return 0 if value is None else int(value.timestamp() * 1000 + 0.5)


def iso(epoch_ms: int) -> str | None:
    if not epoch_ms:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
