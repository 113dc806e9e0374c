"""schemathesis hooks for tests/integration/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Webhook endpoints the fuzzer saves would receive a delivery for every render it completes, and the
test stack lets endpoints point anywhere (WEBHOOKS_ALLOW_PRIVATE_TARGETS=1): a generated
`https://example.org` or `http://10.0.0.1` must never be dialled from a test. A URL the gateway
would accept is therefore pointed at a closed loopback port before it is sent; a URL it refuses is
sent as generated, so the refusals stay fuzzed.
"""

from __future__ import annotations

import schemathesis

from services.webhooks.targets import TargetRefused, check_url

DISCARD = "http://127.0.0.1:9/fuzzed"
"""Loopback's discard port: nothing listens there, so a delivery fails at once, locally."""


def contained(body: object) -> object:
    """`body` with its `url` made harmless when the gateway would save it."""
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        try:
            check_url(body["url"])
        except TargetRefused:
            return body
        return {**body, "url": DISCARD}
    return body


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every phase (examples, coverage, fuzzing, stateful) sends through here."""
    if "/webhooks" in case.operation.path and case.method.upper() in ("POST", "PATCH", "PUT"):
        case.body = contained(case.body)
