"""Checking that a webhook request came from Craftkit, and recently.

Craftkit signs each delivery twice (README, "Webhooks"):

    x-craftkit-signature-v2   hex HMAC-SHA256(secret, "<x-craftkit-timestamp>.<raw body>")
    x-craftkit-signature      hex HMAC-SHA256(secret, raw body)      (the seeds' scheme, "v1")
    ...-previous              the same with the previous secret, while a rotation overlaps

verify_webhook checks v2: it covers the timestamp, so a delivery older (or newer) than
`tolerance` seconds is refused and a captured request cannot be replayed later. v1 covers the body
only: anyone who captured one delivery could send it again at any time, and an attacker could
strip the v2 headers to fall back to it. So v1 is accepted only with `allow_v1=True`, for
receivers behind something that removes the v2 headers, and only when no v2 header is present
(a request carrying v2 is always judged by v2). Dedupe on x-craftkit-delivery-id either way.

Secret rotation: during the overlap Craftkit signs with the new secret and, in the `-previous`
headers, with the old one, so a receiver still holding the old secret keeps verifying. A receiver
switching its own secret can pass both (`secret=[new, old]`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping

from craftkit_client.errors import WebhookVerificationError

TIMESTAMP = "x-craftkit-timestamp"
V2 = ("x-craftkit-signature-v2", "x-craftkit-signature-v2-previous")
V1 = ("x-craftkit-signature", "x-craftkit-signature-previous")


def verify_webhook(secret: str | Iterable[str], raw_body: bytes, headers: Mapping[str, str], *,
                   tolerance: float = 300, allow_v1: bool = False,
                   now: float | None = None) -> dict:
    """The delivery's event (the parsed body) when its signature holds; WebhookVerificationError
    saying why otherwise. `raw_body` is the request's bytes exactly as received (not re-encoded
    JSON); `headers` any mapping (names in any case); `now` Unix seconds, for tests."""
    if not isinstance(raw_body, (bytes, bytearray, memoryview)):
        raise TypeError("raw_body must be the request's raw bytes, not "
                        f"{type(raw_body).__name__}: the signature covers the exact bytes sent")
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance < float("inf")):
        raise ValueError(f"tolerance must be a finite number of seconds >= 0, not {tolerance!r}")
    body = bytes(raw_body)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise ValueError("secret must be a non-empty string (or a list of them)")
    lower = {str(name).lower(): value for name, value in headers.items()}
    if any(name in lower for name in V2):
        stamp = lower.get(TIMESTAMP)
        _fresh_timestamp(stamp, tolerance, now)
        _check(secrets, f"{stamp}.".encode() + body, [lower.get(n) for n in V2], "v2")
    elif allow_v1 and any(name in lower for name in V1):
        _check(secrets, body, [lower.get(n) for n in V1], "v1")
    else:
        raise WebhookVerificationError(
            "no x-craftkit-signature-v2 header" + (" nor x-craftkit-signature" if allow_v1 else
            " (the body-only x-craftkit-signature is accepted only with allow_v1=True)"))
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError(f"the signed body is not JSON: {exc}") from None


def _fresh_timestamp(value: str | None, tolerance: float, now: float | None) -> int:
    """The header's Unix seconds when within `tolerance` of now. At most 12 digits (the year
    33658): a longer one overflows float arithmetic or int() itself (past 4,300 digits), which
    must be a refusal like any other, not an OverflowError the receiver does not expect. The
    signature is checked over the header as received, so `0` + a timestamp is not the same."""
    if value is None:
        raise WebhookVerificationError("no x-craftkit-timestamp header (v2 signs it)")
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise WebhookVerificationError(f"x-craftkit-timestamp is not Unix seconds: {value[:40]!r}")
    timestamp = int(value)
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        when = "old" if age > 0 else "in the future"
        raise WebhookVerificationError(
            f"timestamp {timestamp} is {abs(age):.0f} s {when}, beyond the {tolerance:g} s "
            "tolerance: refused as a possible replay (check this host's clock if it recurs)")
    return timestamp


def _check(secrets: list[str], message: bytes, signatures: list[str | None], scheme: str) -> None:
    """Every secret against every signature header, each compared in constant time."""
    given = [s.strip().lower() for s in signatures if s]
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        for signature in given:
            matched |= hmac.compare_digest(expected.encode(), signature.encode("ascii", "replace"))
    if not matched:
        raise WebhookVerificationError(f"{scheme} signature does not match the secret")
