"""What a receiver gets: the seeds' payload and headers, signed.

    x-craftkit-event              render.succeeded | render.failed
    x-craftkit-delivery-id        the same on every attempt of one delivery
    x-craftkit-timestamp          Unix seconds of this attempt
    x-craftkit-signature          hex HMAC-SHA256(secret, raw body)            (the seeds' check)
    x-craftkit-signature-v2       hex HMAC-SHA256(secret, "<timestamp>.<raw body>")
                                  covers the timestamp: receivers can refuse replays
    x-craftkit-signature-previous, x-craftkit-signature-v2-previous
                                  the same with the previous secret, while a rotation overlaps
"""

from __future__ import annotations

import hashlib
import hmac
import json

PAYLOAD_FIELDS = ("event", "renderId", "templateId", "status", "downloadUrl", "errorMessage",
                  "createdAt", "completedAt")


def payload(event: dict) -> bytes:
    """The seeds' webhook body, exactly those fields in that order."""
    return json.dumps({k: event.get(k) for k in PAYLOAD_FIELDS}, separators=(",", ":")).encode()


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(*, event: str, delivery_id: str, timestamp: int, body: bytes, secret: str,
            previous_secret: str | None = None) -> dict[str, str]:
    stamped = f"{timestamp}.".encode() + body
    out = {
        "content-type": "application/json",
        "user-agent": "Craftkit-Webhooks/1",
        "x-craftkit-event": event,
        "x-craftkit-delivery-id": delivery_id,
        "x-craftkit-timestamp": str(timestamp),
        "x-craftkit-signature": sign(secret, body),
        "x-craftkit-signature-v2": sign(secret, stamped),
    }
    if previous_secret:
        out["x-craftkit-signature-previous"] = sign(previous_secret, body)
        out["x-craftkit-signature-v2-previous"] = sign(previous_secret, stamped)
    return out
