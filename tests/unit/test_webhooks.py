import asyncio
import hashlib
import hmac
import json

import pytest

from services.webhooks.deliveries import backoff
from services.webhooks.signing import headers, payload
from services.webhooks.targets import TargetRefused, check_target


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/",
    "http://192.168.0.10/", "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/", "http://[fe80::1]/", "http://0.0.0.0/", "http://224.0.0.1/",
])
def test_private_loopback_and_link_local_targets_are_refused(url):
    with pytest.raises(TargetRefused, match="webhooks go to public hosts"):
        asyncio.run(check_target(url, allow_private=False))


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost",
                                 "https://user:pw@example.com/", "gopher://x/"])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(TargetRefused):
        asyncio.run(check_target(url, allow_private=True))


def test_public_addresses_pass_and_the_dev_switch_allows_private_ones():
    asyncio.run(check_target("https://93.184.215.14/hook", allow_private=False))
    asyncio.run(check_target("http://127.0.0.1:9/hook", allow_private=True))


def test_the_payload_is_the_seeds_and_the_signatures_verify():
    event = {"event": "render.succeeded", "renderId": "r", "projectId": "p", "templateId": "t",
             "status": "succeeded", "downloadUrl": "https://x/y.pdf", "errorMessage": None,
             "createdAt": "2026-05-03T10:14:00.000Z", "completedAt": "2026-05-03T10:14:00.150Z",
             "durationMs": 150}
    body = payload(event)
    assert list(json.loads(body)) == ["event", "renderId", "templateId", "status", "downloadUrl",
                                      "errorMessage", "createdAt", "completedAt"]
    sent = headers(event="render.succeeded", delivery_id="d", timestamp=1777802040, body=body,
                   secret="new", previous_secret="old")
    mac = lambda key, msg: hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()  # noqa: E731
    assert sent["x-craftkit-signature"] == mac("new", body)
    assert sent["x-craftkit-signature-previous"] == mac("old", body)
    assert sent["x-craftkit-signature-v2"] == mac("new", b"1777802040." + body)
    assert "x-craftkit-signature-previous" not in headers(
        event="e", delivery_id="d", timestamp=1, body=body, secret="new")


def test_backoff_doubles_with_jitter_up_to_the_cap():
    for attempt, nominal in ((1, 10), (2, 20), (3, 40), (10, 3600), (30, 3600)):
        delay = backoff(attempt, 10, 3600)
        assert 0.8 * nominal <= delay <= 1.2 * nominal


def test_the_default_schedule_retries_for_at_least_24_hours(monkeypatch):
    from services.webhooks.settings import Settings
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    settings = Settings.from_env()
    # the last attempt comes at the latest one (jittered) capped delay before giving up
    assert settings.give_up_seconds - 1.2 * settings.retry_cap_seconds >= 24 * 3600
