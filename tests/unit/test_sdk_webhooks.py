"""craftkit_client.verify_webhook against deliveries signed by the webhooks service's own code
(services/webhooks/signing.py), so the two cannot disagree on a scheme."""

from __future__ import annotations

import pytest

from craftkit_client import WebhookVerificationError, verify_webhook
from services.webhooks import signing

SECRET, OLD = "whsec_new", "whsec_old"
NOW = 1_790_000_000
EVENT = {"event": "render.succeeded", "renderId": "0193c2c3-0000-7000-8000-000000000001",
         "templateId": "1f2e3d4c", "status": "succeeded", "downloadUrl": None,
         "errorMessage": None, "createdAt": "2026-05-03T10:14:00.000Z",
         "completedAt": "2026-05-03T10:14:00.150Z"}


def delivery(*, timestamp: int = NOW, secret: str = SECRET,
             previous: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = signing.payload(EVENT)
    return body, signing.headers(event="render.succeeded", delivery_id="d-1", timestamp=timestamp,
                                 body=body, secret=secret, previous_secret=previous)


def v1_only(headers: dict[str, str]) -> dict[str, str]:
    """What a receiver behind a proxy that drops unknown headers might get: no v2."""
    return {k: v for k, v in headers.items() if "-v2" not in k}


def refusal(*args, **kwargs) -> str:
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(*args, **kwargs)
    return str(refused.value)


def test_a_fresh_v2_delivery_verifies_to_its_event():
    body, headers = delivery()
    assert verify_webhook(SECRET, body, headers, now=NOW + 299) == EVENT


def test_header_names_are_matched_in_any_case():
    body, headers = delivery()
    titled = {name.title(): value for name, value in headers.items()}
    assert verify_webhook(SECRET, body, titled, now=NOW) == EVENT


def test_stale_and_future_timestamps_are_refused_as_replays():
    body, headers = delivery()
    assert "301 s old" in refusal(SECRET, body, headers, now=NOW + 301)
    assert "in the future" in refusal(SECRET, body, headers, now=NOW - 301)
    assert verify_webhook(SECRET, body, headers, tolerance=3600, now=NOW + 3000) == EVENT


def test_a_tampered_body_timestamp_or_wrong_secret_is_refused():
    body, headers = delivery()
    tampered = body.replace(b"succeeded", b"failed")
    assert "does not match" in refusal(SECRET, tampered, headers, now=NOW)
    # A replay with a fresh timestamp header: v2 covers the timestamp, so it no longer matches.
    assert "does not match" in refusal(SECRET, body, {**headers, "x-craftkit-timestamp":
                                                      str(NOW + 600)}, now=NOW + 600)
    assert "does not match" in refusal("whsec_other", body, headers, now=NOW)


def test_during_a_rotation_the_old_and_the_new_secret_both_verify():
    body, headers = delivery(previous=OLD)
    assert verify_webhook(SECRET, body, headers, now=NOW) == EVENT
    assert verify_webhook(OLD, body, headers, now=NOW) == EVENT
    assert verify_webhook(["whsec_unrelated", OLD], body, headers, now=NOW) == EVENT
    assert "does not match" in refusal("whsec_unrelated", body, headers, now=NOW)


def test_the_body_only_v1_scheme_is_accepted_only_when_asked():
    body, headers = delivery(previous=OLD)
    assert "allow_v1=True" in refusal(SECRET, body, v1_only(headers), now=NOW)
    assert verify_webhook(SECRET, body, v1_only(headers), allow_v1=True) == EVENT
    assert verify_webhook(OLD, body, v1_only(headers), allow_v1=True) == EVENT
    assert "v1 signature does not match" in refusal(SECRET, body + b" ", v1_only(headers),
                                                    allow_v1=True)


def test_a_request_carrying_v2_is_judged_by_v2_even_when_v1_is_allowed():
    """No downgrade: a stale delivery with an intact v1 signature stays refused."""
    body, headers = delivery()
    assert "old" in refusal(SECRET, body, headers, allow_v1=True, now=NOW + 10_000)


def test_missing_or_malformed_headers_and_a_text_body_are_refused_with_the_reason():
    body, headers = delivery()
    assert "no x-craftkit-signature-v2" in refusal(SECRET, body, {}, now=NOW)
    no_time = {k: v for k, v in headers.items() if k != "x-craftkit-timestamp"}
    assert "no x-craftkit-timestamp" in refusal(SECRET, body, no_time, now=NOW)
    assert "not Unix seconds" in refusal(SECRET, body, {**headers, "x-craftkit-timestamp":
                                                        "1e9"}, now=NOW)
    with pytest.raises(TypeError, match="raw bytes"):
        verify_webhook(SECRET, body.decode(), headers, now=NOW)
    with pytest.raises(ValueError, match="secret"):
        verify_webhook("", body, headers, now=NOW)


@pytest.mark.parametrize("stamp", ["1" + "0" * 400, "1" + "0" * 5000])
def test_a_huge_timestamp_is_a_refusal_not_an_overflow(stamp):
    """A receiver catches WebhookVerificationError to answer 400: anything else is its 500."""
    body, headers = delivery()
    assert "not Unix seconds" in refusal(SECRET, body, {**headers, "x-craftkit-timestamp": stamp},
                                         now=NOW)


def test_the_signature_covers_the_timestamp_header_as_sent():
    body, headers = delivery()
    padded = {**headers, "x-craftkit-timestamp": f"0{NOW}"}
    assert "v2 signature does not match" in refusal(SECRET, body, padded, now=NOW)


@pytest.mark.parametrize("tolerance", [float("nan"), float("inf"), -1])
def test_a_tolerance_that_would_let_any_timestamp_through_is_refused(tolerance):
    # NaN compares false with everything, so `age > tolerance` never held: a delivery from any
    # time verified.
    body, headers = delivery()
    with pytest.raises(ValueError, match="tolerance"):
        verify_webhook(SECRET, body, headers, tolerance=tolerance, now=NOW + 10**9)
