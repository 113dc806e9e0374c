"""schemathesis against the real stack's own OpenAPI document: every operation, generated valid
and invalid requests (examples, coverage, fuzzing), then the document's links walked as
create -> read -> delete sequences (stateful). Fails on any 5xx, any answer whose status, content
type or body the document does not describe, and a deleted resource still served or a created one
not found.

Deterministic (derandomized generation: the same cases every run), so a failure here fails again on the next
run and in CI. The command to reproduce one by hand is printed with the report.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import new_api

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "use_after_free", "ensure_resource_availability"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
MAX_EXAMPLES = 100
"""Per operation and phase: about two minutes for the whole surface on a shared two-core box."""

OWN_GATEWAY = {"AUTH_FAILURE_RATE_PER_SECOND": "0", "PREVIEW_RATE_PER_SECOND": "0",
               "PREVIEW_SECONDS_PER_SECOND": "0"}
"""The fuzzer talks to a gateway process of its own with its per-process limits off: its
thousands of made-up keys and previews would otherwise leave the shared gateway answering 429 to
the fuzzer itself (leaving handlers untested) and, for a while, to the tests after it."""


def schemathesis_command(base_url: str, key: str) -> list[str]:
    return [str(Path(sys.executable).parent / "schemathesis"), "run",
            f"{base_url}/v1/openapi.json",
            "--header", f"Authorization: Bearer {key}",
            "--checks", ",".join(CHECKS),
            "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
            "--workers", "1", "--request-timeout", "30", "--no-color"]


def remove_webhooks(api) -> None:
    """Deletes the endpoints the fuzzer saved, so the webhooks service does not keep retrying
    deliveries to them (a closed loopback port) while the tests after this one run."""
    while True:
        listed = api.http.get("/v1/webhooks")
        endpoints = listed.raise_for_status().json()["webhooks"]
        if not endpoints:
            return
        for endpoint in endpoints:
            api.http.delete(f"/v1/webhooks/{endpoint['id']}").raise_for_status()


@pytest.mark.timeout(900)
def test_every_operation_answers_as_its_document_says(stack, tmp_path):
    api = new_api(stack)  # a project of its own: its renders and keys disturb no other test
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.fuzz_hooks",
           "PYTHONPATH": str(ROOT)}  # run in tmp_path: its crash cache starts empty every run
    try:
        with stack.extra("gateway", OWN_GATEWAY) as address:
            document = httpx.get(f"http://{address}/v1/openapi.json", timeout=30).json()
            command = schemathesis_command(f"http://{address}", api.key)
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=840)
    finally:
        remove_webhooks(api)
        api.close()
    replay = shlex.join(["PYTHONPATH=.", "SCHEMATHESIS_HOOKS=tests.integration.fuzz_hooks",
                         *command])
    assert done.returncode == 0, (f"{done.stdout[-30000:]}\n{done.stderr[-5000:]}\n"
                                  f"reproduce against a running stack: {replay}")
    operations = sum(method in METHODS for ops in document["paths"].values() for method in ops)
    assert f"Tested: {operations}\n" in done.stdout, done.stdout[-3000:]  # none skipped
