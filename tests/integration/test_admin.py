"""The `craftkit` console against the running stack: a project and keys that work on REST, keys
listed and revoked, and errors that say which setting to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from craftkit.devstack import ROOT, free_port
from craftkit.internal_auth import ADMIN, GATEWAY
from tests.integration.conftest import eventually

CONSOLE = str(Path(sys.executable).parent / "craftkit")
REVOCATION_DEADLINE = 10
"""KEY_CACHE_SECONDS (5 by default) and room for a loaded machine."""


def craftkit(stack, *args: str, identity: str = ADMIN, command=(CONSOLE,),
             **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STATUS_ADDRESS": stack.address("status"),
           "INTERNAL_TOKEN_FILE": str(stack.tokens_dir / identity), **env}
    return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def as_json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def works(stack, key: str) -> bool:
    response = httpx.get(f"{stack.base_url}/v1/templates", timeout=10,
                         headers={"authorization": f"Bearer {key}"})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def test_a_project_and_its_keys_from_the_console_work_on_rest(stack):
    project = as_json(craftkit(stack, "projects", "create", "Operator's first", "--json"))
    assert works(stack, project["apiKey"])
    partner = as_json(craftkit(stack, "keys", "create", "--project", project["projectId"],
                               "--name", "partner", "--scope", "download", "--json"))
    assert (partner["name"], partner["scopes"], partner["key"][:12]) == (
        "partner", ["download"], partner["prefix"])
    listed = as_json(craftkit(stack, "keys", "list", "--project", project["projectId"], "--json"))
    assert [(k["id"], k["name"], k["scopes"]) for k in listed["data"]] == [
        (partner["id"], "partner", ["download"]), (project["keyId"], "default", ["full"])]
    assert partner["key"] not in json.dumps(listed)
    table = craftkit(stack, "keys", "list", "--project", project["projectId"])
    assert table.returncode == 0 and partner["id"] in table.stdout and "partner" in table.stdout


def test_a_key_revoked_from_the_console_is_refused_by_the_gateway(stack):
    project = as_json(craftkit(stack, "projects", "create", "Revoking", "--json"))
    assert works(stack, project["apiKey"])  # now in the gateway's key cache
    revoked = craftkit(stack, "keys", "revoke", "--project", project["projectId"],
                       project["keyId"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    eventually(lambda: not works(stack, project["apiKey"]), timeout=REVOCATION_DEADLINE,
               what="the revoked key refused")
    again = as_json(craftkit(stack, "keys", "revoke", "--project", project["projectId"],
                             project["keyId"], "--json"))
    assert again["revokedAt"] is not None


def test_python_m_craftkit_admin_is_the_same_command(stack):
    project = as_json(craftkit(stack, "projects", "create", "by module", "--json",
                               command=(sys.executable, "-m", "craftkit.admin")))
    assert works(stack, project["apiKey"])


def test_the_console_says_what_to_fix(stack, tmp_path):
    denied = craftkit(stack, "projects", "create", "mine", identity=GATEWAY)
    assert denied.returncode == 2 and "INTERNAL_TOKEN_FILE" in denied.stderr
    assert "not the admin token" in denied.stderr
    (tmp_path / "wrong").write_text("w" * 32 + "\n")
    wrong = craftkit(stack, "projects", "create", "mine",
                     INTERNAL_TOKEN_FILE=str(tmp_path / "wrong"))
    assert wrong.returncode == 2 and "refused the token of INTERNAL_TOKEN_FILE" in wrong.stderr
    missing = craftkit(stack, "projects", "create", "mine", INTERNAL_TOKEN_FILE="/nonexistent")
    assert missing.returncode == 2 and "INTERNAL_TOKEN_FILE /nonexistent" in missing.stderr
    nowhere = f"127.0.0.1:{free_port()}"
    down = craftkit(stack, "keys", "list", "--project", "x", STATUS_ADDRESS=nowhere)
    assert down.returncode == 5 and f"STATUS_ADDRESS={nowhere}" in down.stderr
    unknown = craftkit(stack, "keys", "create", "--project", "not-a-project")
    assert unknown.returncode == 1 and "not a project id" in unknown.stderr
    absent = craftkit(stack, "keys", "list", "--project", "00000000-0000-0000-0000-000000000000")
    assert absent.returncode == 1 and "NOT_FOUND: no project" in absent.stderr
    gone = craftkit(stack, "keys", "revoke", "--project", "00000000-0000-0000-0000-000000000000",
                    "00000000-0000-0000-0000-000000000001")
    assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr
    scope = craftkit(stack, "keys", "create", "--project", "x", "--scope", "admin")
    assert scope.returncode == 2 and "full, render, download" in scope.stderr.replace("'", "")
