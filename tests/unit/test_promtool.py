"""tests/promtool.py: which promtool the alert tests get, and what a machine without apt hears.
(The download itself is exercised by `make promtool`, which every `make test` runs.)"""

from __future__ import annotations

import pytest

from tests import debian, promtool


def test_a_promtool_on_path_is_used_and_remembered(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    system = bin_dir / "promtool"
    system.write_text("#!/bin/sh\necho 'promtool, version 2.42.0'\n")
    system.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    dest = tmp_path / "venv-promtool"
    assert promtool.install(dest) == system
    assert promtool.executable(dest) == system
    system.unlink()  # removed since: the choice no longer holds
    assert promtool.executable(dest) is None


def test_without_apt_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no promtool, no apt-get, no dpkg-deb
    with pytest.raises(debian.InstallError, match="apt-get not found.*package manager"):
        promtool.install(tmp_path / "dest")
    assert promtool.executable(tmp_path / "dest") is None
