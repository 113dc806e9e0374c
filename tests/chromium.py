"""Debian's Chromium for the browser tests, installed without root.

When /usr/bin/chromium is absent, this unpacks Debian's `chromium` package and the libraries this
machine lacks under DEST with no root (tests/debian.py; the Makefile passes .venv/chromium).
`DEST/chromium` is then a small launcher that points LD_LIBRARY_PATH at the unpacked libraries.

    python -m tests.chromium .venv/chromium            # idempotent; DEST/.installed names the browser
    python -m tests.chromium .venv/chromium --unpack   # unpack even when /usr/bin/chromium exists

Playwright never downloads a browser: tests/browser.py launches the executable this gives.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tests import debian
from tests.debian import InstallError, apt, run, unpack

SYSTEM = Path("/usr/bin/chromium")
PACKAGE = "chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
"""What this machine's closed network needs (env: machines/python.md): without the background
networking flags Chromium keeps dialling Google's hosts and logs each refusal."""

LAUNCHER = """#!/bin/sh
# Debian's Chromium unpacked by tests/chromium.py: its libraries are beside it, not in /usr/lib.
here=$(dirname "$(readlink -f "$0")")
export LD_LIBRARY_PATH="$here/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/root/usr/lib/chromium/chromium" "$@"
"""


def executable(dest: Path) -> Path | None:
    """The Chromium `install(dest)` chose, while it is still there."""
    try:
        path = Path((dest / ".installed").read_text().strip())
    except FileNotFoundError:
        return None
    return path if path.exists() else None


def install(dest: Path, *, system: Path | None = SYSTEM) -> Path:
    """Installs Chromium under DEST unless `system` exists; returns the executable. Idempotent:
    a second call only checks that the first one's choice is still there."""
    dest.mkdir(parents=True, exist_ok=True)
    if system is not None and system.exists():
        (dest / ".installed").write_text(f"{system}\n")
        return system
    launcher = dest / "chromium"
    if executable(dest) == launcher:
        return launcher
    options = apt(dest / "apt", "chromium")
    unpack(options, missing_packages(options), dest / "root")
    shutil.rmtree(dest / "apt", ignore_errors=True)  # the lists (~20 MB) are not needed again
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    check(launcher)
    (dest / ".installed").write_text(f"{launcher}\n")
    return launcher


def missing_packages(options: list[str]) -> list[str]:
    """chromium and every package `apt-get install chromium` would add to this machine."""
    out = run(["apt-get", *options, "install", "--dry-run", "--no-install-recommends", PACKAGE],
               "resolving chromium's dependencies")
    names = [line.split()[1] for line in out.splitlines() if line.startswith("Inst ")]
    return names if PACKAGE in names else [*names, PACKAGE]


def check(chromium: Path) -> None:
    """Fails unless the browser starts headless and renders a page (a missing library shows here,
    not in the first browser test)."""
    with tempfile.TemporaryDirectory() as profile:
        out = run([str(chromium), *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                    "data:text/html,<p>craftkit-ok</p>"], "starting the unpacked Chromium")
    if "craftkit-ok" not in out:
        raise InstallError(f"the unpacked Chromium rendered no page: {out[-500:]}")


def main(argv: list[str] | None = None) -> int:
    return debian.main(sys.argv[1:] if argv is None else argv,
                       lambda dest, unpack: install(dest, system=None if unpack else SYSTEM),
                       ".venv/chromium", "Chromium", "browser tests")


if __name__ == "__main__":
    sys.exit(main())
