"""tests/chromium.py: which Chromium the browser tests get, and what a machine without apt hears.
(The download itself is exercised by `make chromium`, which every `make test` runs.)"""

from __future__ import annotations

import pytest

from tests import chromium


def test_a_system_chromium_is_used_and_remembered(tmp_path):
    system = tmp_path / "usr-bin-chromium"
    system.write_text("#!/bin/sh\n")
    dest = tmp_path / "venv-chromium"
    assert chromium.install(dest, system=system) == system
    assert chromium.executable(dest) == system
    system.unlink()  # removed since: the choice no longer holds
    assert chromium.executable(dest) is None


def test_without_apt_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg-deb
    with pytest.raises(chromium.InstallError, match="apt-get not found.*package manager"):
        chromium.install(tmp_path / "dest", system=None)
    assert chromium.executable(tmp_path / "dest") is None
