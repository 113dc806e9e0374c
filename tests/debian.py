"""Debian packages for the test tools, unpacked without root (tests/chromium.py, tests/promtool.py).

`make test` must work for a developer who cannot `apt-get install`: `apt-get download` (any user
may) fetches the packages and `dpkg-deb -x` unpacks them under a directory of ours. apt reads
package lists of its own there, refreshed here, so neither root's `apt-get update` nor the
machine's possibly stale lists matter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


class InstallError(Exception):
    """A step that failed, with what to do about it."""


def apt(state: Path, what: str) -> list[str]:
    """apt's options for lists and cache under `state` (no root-owned directory or lock is
    touched), once the lists there are fresh. `what` names the tool in the error when this
    machine has no apt."""
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise InstallError(f"{tool} not found: unpacking {what} needs Debian's apt tools; "
                               f"install {what} with the system's package manager instead")
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    settings = {"Dir::State::Lists": state / "lists", "Dir::Cache": state / "cache",
                "Debug::NoLocking": "1"}
    if os.geteuid() == 0:  # root would hand downloads to user _apt, who cannot write here
        settings["APT::Sandbox::User"] = "root"
    options = [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]
    run(["apt-get", *options, "update"], "refreshing package lists")
    return options


def unpack(options: list[str], names: list[str], root: Path) -> None:
    """Downloads the packages `names` and unpacks them all into `root` (replaced whole)."""
    with tempfile.TemporaryDirectory(dir=root.parent) as work:
        debs = Path(work)
        run(["apt-get", *options, "download", *names], "downloading " + " ".join(names),
            cwd=debs)
        unpacked = debs / "root"
        for deb in sorted(debs.glob("*.deb")):
            run(["dpkg-deb", "-x", str(deb), str(unpacked)], f"unpacking {deb.name}")
        shutil.rmtree(root, ignore_errors=True)
        unpacked.rename(root)


def run(cmd: list[str], step: str, cwd: Path | None = None) -> str:
    """`cmd`'s output; InstallError naming `step` when it fails."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{step} failed: {exc}") from exc
    if done.returncode != 0:
        raise InstallError(f"{step} failed ({cmd[0]} exited {done.returncode}):\n"
                           f"{(done.stderr or done.stdout)[-2000:]}")
    return done.stdout


def main(argv: list[str], install: Callable[[Path, bool], Path], default: str, tool: str,
         tests: str) -> int:
    """`python -m tests.<tool> [DEST] [--unpack]`: `install(dest, unpack)`, then one line saying
    which executable `tests` use, or why there is none."""
    unpack = "--unpack" in argv
    paths = [arg for arg in argv if arg != "--unpack"]
    dest = Path(paths[0] if paths else default).resolve()
    try:
        path = install(dest, unpack)
    except InstallError as exc:
        print(f"could not install {tool} for {tests} (no root needed, but Debian's package "
              f"servers must be reachable): {exc}", file=sys.stderr)
        return 1
    print(f"{tests} use {path}")
    return 0
