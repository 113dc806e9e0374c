"""tests.leaks: the scan that fails the integration run when a service logged a secret."""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

import pytest

from craftkit import logs
from tests import leaks

KEY = "ck_live_" + "k" * 43
SECRET = "whsec_" + "w" * 43
TOKEN = "t0ken-of-the-gateway-" + "x" * 22


@pytest.fixture
def root():
    """Where the planted logs go: not under pytest's basetemp, which the integration tests'
    own scan reads at the end of a whole `make test` session (and would find these secrets)."""
    with tempfile.TemporaryDirectory(prefix="leaks-") as directory:
        yield Path(directory)


def stack_dir(root):
    workdir = root / "stack0"
    (workdir / "internal-tokens").mkdir(parents=True)
    (workdir / "internal-tokens" / "gateway").write_text(TOKEN + "\n")
    return workdir


def test_a_logged_secret_fails_naming_file_and_line(root):
    workdir = stack_dir(root)
    (workdir / "status.log").write_text(
        "clean line\n"
        f'{{"event": "token {TOKEN}"}}\n'
        f"webhook {SECRET} made\n"
        "db postgresql://craftkit:hunter2@db/craftkit\n"
        "S3 said craftkit-secret\n"
        "and postgresql://craftkit:[redacted]@db/craftkit is fine\n")
    (workdir / "gateway.log").write_text(f"key {KEY} and remembered-one\n")
    (workdir / "s3.log").write_text(f"not ours: {TOKEN}\n")  # the S3 server's own log
    leaks.remember("remembered-one", "the API key of project p")
    try:
        found = leaks.scan(leaks.service_logs(root),
                           {**leaks.stack_secrets(root), **leaks.KNOWN})
    finally:
        leaks.KNOWN.pop("remembered-one")
    assert found == [
        f"{workdir}/gateway.log:1: an API key, the API key of project p",
        f"{workdir}/status.log:2: the internal token of gateway",
        f"{workdir}/status.log:3: a webhook secret",
        f"{workdir}/status.log:4: a password in a URL",
        f"{workdir}/status.log:5: the S3 secret key",
    ]


def test_a_line_written_through_craftkit_logs_is_clean(root):
    """Redaction and the scan agree: the shapes a service might log by mistake are masked."""
    workdir = stack_dir(root)
    buffer = io.StringIO()
    top = logging.getLogger()
    handlers, level = top.handlers[:], top.level
    try:
        logs.setup("webhooks", "json", stream=buffer)
        logging.getLogger("x").warning("sent %s with %s to https://r/h?auth=%s, Bearer %s",
                                       KEY, SECRET, TOKEN, TOKEN)
    finally:
        top.handlers, top.level = handlers, level
    (workdir / "webhooks.log").write_text(buffer.getvalue())
    assert "[redacted]" in buffer.getvalue()
    assert leaks.scan(leaks.service_logs(root), leaks.stack_secrets(root)) == []
