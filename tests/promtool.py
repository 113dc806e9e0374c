"""Prometheus's `promtool` for tests/unit/test_alert_rules.py (the alerts evaluated by Prometheus's
own rule engine), installed without root.

The promtool on PATH when there is one; else Debian's `prometheus` package (about 19 MB: promtool
is a static Go binary) unpacked under DEST with no root (tests/debian.py; the Makefile passes
.venv/promtool), keeping only promtool.

    python -m tests.promtool .venv/promtool            # idempotent; DEST/.installed names it
    python -m tests.promtool .venv/promtool --unpack   # unpack even when one is on PATH
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests import debian
from tests.debian import InstallError, apt, run, unpack

PACKAGE = "prometheus"
INSTALL_DIR = Path(__file__).resolve().parent.parent / ".venv" / "promtool"


def executable(dest: Path = INSTALL_DIR) -> Path | None:
    """The promtool `install(dest)` chose, while it is still there."""
    try:
        path = Path((dest / ".installed").read_text().strip())
    except FileNotFoundError:
        return None
    return path if path.exists() else None


def install(dest: Path, *, system: str | None = "promtool") -> Path:
    """Installs promtool under DEST unless `system` is found on PATH; returns the executable.
    Idempotent: a second call only checks that the first one's choice is still there."""
    dest.mkdir(parents=True, exist_ok=True)
    found = shutil.which(system) if system else None
    if found:
        path = Path(found)
    elif executable(dest) == dest / "promtool":
        return dest / "promtool"
    else:
        unpack(apt(dest / "apt", "promtool"), [PACKAGE], dest / "root")
        path = dest / "promtool"
        (dest / "root" / "usr" / "bin" / "promtool").rename(path)
        shutil.rmtree(dest / "root")  # Prometheus itself and its web assets: not needed
        shutil.rmtree(dest / "apt", ignore_errors=True)
    if "promtool" not in run([str(path), "--version"], f"running {path} --version"):
        raise InstallError(f"{path} --version does not name promtool")
    (dest / ".installed").write_text(f"{path}\n")
    return path


def main(argv: list[str] | None = None) -> int:
    return debian.main(sys.argv[1:] if argv is None else argv,
                       lambda dest, unpack: install(dest, system=None if unpack else "promtool"),
                       str(INSTALL_DIR), "promtool", "alert tests")


if __name__ == "__main__":
    sys.exit(main())
