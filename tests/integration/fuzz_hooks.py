"""schemathesis hooks for tests/integration/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Webhook endpoints the fuzzer saves would receive a delivery for every render it completes, and the
test stack lets endpoints point anywhere (WEBHOOKS_ALLOW_PRIVATE_TARGETS=1): a generated
`https://example.org` or `http://10.0.0.1` must never be dialled from a test. A URL the gateway
would accept is therefore pointed at a closed loopback port before it is sent; a URL it refuses is
sent as generated, so the refusals stay fuzzed.

Generated Idempotency-Keys repeat (deterministic generation favours "0" and the like), and a
repeated key with the same body is, rightly, answered with the first response: a webhook created
and deleted long ago, which the stateful checks then find missing. A valid key is therefore made
unique per request; an invalid one is sent as generated.
"""

from __future__ import annotations

import itertools

import schemathesis

from craftkit import errors
from craftkit.inputs import check_idempotency_key
from services.webhooks.targets import TargetRefused, check_url

DISCARD = "http://127.0.0.1:9/fuzzed"
"""Loopback's discard port: nothing listens there, so a delivery fails at once, locally."""
SENT = itertools.count()


def contained(body: object) -> object:
    """`body` with its `url` made harmless when the gateway would save it."""
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        try:
            check_url(body["url"])
        except TargetRefused:
            return body
        return {**body, "url": DISCARD}
    return body


def fresh_key(headers: dict) -> None:
    """A valid Idempotency-Key in `headers` replaced by one never sent before."""
    for name, value in headers.items():
        if name.lower() == "idempotency-key" and isinstance(value, str):
            try:
                check_idempotency_key(value)
            except errors.InvalidRequest:
                return
            headers[name] = f"fuzz-{next(SENT)}"
            return


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every phase (examples, coverage, fuzzing, stateful) sends through here."""
    if "/webhooks" in case.operation.path and case.method.upper() in ("POST", "PATCH", "PUT"):
        case.body = contained(case.body)
    if case.headers:
        fresh_key(case.headers)
