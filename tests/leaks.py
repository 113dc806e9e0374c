"""The secrets scan of the integration tests: after the session, every log the session's stacks'
services wrote is read, and a line holding a secret fails the run naming the file and line.

What counts as a secret: every value `remember`ed (the API keys the fixtures created), the
internal tokens of each stack (its `internal-tokens` directory), the S3 secret key and the database
password the services were given, and anything shaped like a whole API key or webhook secret
(tests create more through REST than the fixtures see)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from craftkit.devstack import S3_SECRET_KEY, SERVICES

SHAPES = {
    "an API key": re.compile(r"ck_live_[A-Za-z0-9_\-]{43}"),
    "a webhook secret": re.compile(r"whsec_[A-Za-z0-9_\-]{43}"),
    "a password in a URL": re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@\"]+:(?!\[redacted\])"
                                      r"[^\s@/\"]+@"),
}
"""Secret shapes: a whole key as the status and webhooks services make them."""
KNOWN: dict[str, str] = {}
"""Secret -> what it is, remembered by the fixtures that create them."""


def remember(secret: str, what: str) -> None:
    KNOWN[secret] = what


def service_logs(root: Path) -> list[Path]:
    """The logs of our services under `root` (the session's temporary directory): each stack's
    <service>.log, <service>-extra.log and supervisor.log; not the broker's or S3's."""
    names = {f"{name}.log" for name in SERVICES} | {f"{name}-extra.log" for name in SERVICES}
    names.add("supervisor.log")
    return sorted(path for path in root.rglob("*.log") if path.name in names)


def stack_secrets(root: Path) -> dict[str, str]:
    """The internal tokens of every stack under `root`, the S3 secret key and the database
    password the services got (the environment's, when set)."""
    found = {}
    for directory in root.rglob("internal-tokens"):
        for path in directory.iterdir():
            for line in path.read_text().splitlines():
                if line.strip():
                    found[line.strip()] = f"the internal token of {path.name}"
    found[os.environ.get("S3_SECRET_KEY", S3_SECRET_KEY)] = "the S3 secret key"
    password = urlsplit(os.environ.get("DATABASE_URL", "")).password
    if password:
        found[password] = "the database password"
    return found


def scan(paths: Iterable[Path], secrets: dict[str, str]) -> list[str]:
    """`file:line: what` for each line of `paths` holding a secret of `secrets` or one shaped
    like one."""
    known = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)
                                if s) or r"(?!)")
    found = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as log:
            for number, line in enumerate(log, 1):
                what = {secrets[m.group()] for m in known.finditer(line)}
                what |= {what for what, shape in SHAPES.items() if shape.search(line)}
                if what:
                    found.append(f"{path}:{number}: {', '.join(sorted(what))}")
    return found
