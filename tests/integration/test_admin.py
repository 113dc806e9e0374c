"""The operator's console against the running stack: a project and keys that work on REST, and
nothing for a caller that is not the admin."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx

from craftkit.devstack import ROOT
from craftkit.internal_auth import ADMIN, GATEWAY


def admin(stack, *args: str, identity: str = ADMIN) -> subprocess.CompletedProcess:
    env = {**os.environ, "STATUS_ADDRESS": stack.address("status"),
           "INTERNAL_TOKEN_FILE": str(stack.tokens_dir / identity)}
    return subprocess.run([sys.executable, "-m", "craftkit.admin", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def works(stack, key: str) -> bool:
    response = httpx.get(f"{stack.base_url}/v1/templates", timeout=10,
                         headers={"authorization": f"Bearer {key}"})
    return response.status_code == 200


def test_create_project_and_key_print_keys_that_work(stack):
    created = admin(stack, "create-project", "Operator's first")
    assert created.returncode == 0, created.stderr
    project_id = re.search(r"project id: (\S+)", created.stdout).group(1)
    first = re.search(r"api key: +(\S+)", created.stdout).group(1)
    another = admin(stack, "create-key", project_id)
    assert another.returncode == 0, another.stderr
    second = re.search(r"api key: +(\S+)", another.stdout).group(1)
    assert first != second and works(stack, first) and works(stack, second)


def test_the_console_refuses_clearly(stack):
    denied = admin(stack, "create-project", "mine", identity=GATEWAY)
    assert denied.returncode == 1
    assert "PERMISSION_DENIED" in denied.stderr and "'gateway'" in denied.stderr
    unknown = admin(stack, "create-key", "not-a-project")
    assert unknown.returncode == 1 and "not a project id" in unknown.stderr
    missing = admin(stack, "create-key", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
