"""Who may call what: the table against the protos and against what the gateway and the worker
really call; token files (tokens and digests) read, compared and re-read."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from craftkit import internal_auth
from craftkit.config import ConfigError
from craftkit.internal_auth import (ADMIN, ALLOWED, GATEWAY, RENDER_WORKER, UNSCOPED,
                                    TokenDirectory, TokenFile, bearer, check_project_id,
                                    digest_line)
from craftkit.v1 import (downloads_pb2, enqueue_pb2, idempotency_pb2, inbound_pb2,
                         projects_pb2, status_pb2, templates_pb2, webhooks_pb2)
from craftkit.errors import InvalidRequest

ROOT = Path(__file__).parents[2]
MODULES = (downloads_pb2, enqueue_pb2, idempotency_pb2, inbound_pb2, projects_pb2, status_pb2,
           templates_pb2, webhooks_pb2)
METHODS = {f"/{service.full_name}/{method.name}": method
           for module in MODULES for service in module.DESCRIPTOR.services_by_name.values()
           for method in service.methods}
STUBS = {"status": "StatusService", "enqueue": "EnqueueService", "templates": "TemplateService",
         "projects": "ProjectService", "inbound": "InboundHookService",
         "webhooks": "WebhookService", "idempotency": "IdempotencyService",
         "downloads": "DownloadService"}


def called(path: str) -> set[str]:
    """The methods a module (or a package's modules) calls through its stubs
    (self.status.StartRender, backends.x.Y)."""
    files = [ROOT / path] if path.endswith(".py") else sorted((ROOT / path).rglob("*.py"))
    source = "\n".join(f.read_text() for f in files)
    return {f"/craftkit.v1.{STUBS[stub]}/{method}"
            for stub, method in re.findall(r"\.(\w+)\.([A-Z]\w+)\b", source) if stub in STUBS}


def allowed_to(identity: str) -> set[str]:
    return {method for method, identities in ALLOWED.items() if identity in identities}


def test_every_method_has_a_row_and_every_row_a_method():
    assert set(ALLOWED) == set(METHODS)


def test_the_gateway_and_the_worker_may_call_exactly_what_they_call():
    assert allowed_to(GATEWAY) == called("services/gateway")
    assert allowed_to(RENDER_WORKER) == called("services/render_worker/worker.py")
    assert allowed_to(ADMIN) == set(METHODS)
    assert ALLOWED["/craftkit.v1.ProjectService/CreateProject"] == {ADMIN}


def test_every_method_but_the_documented_few_takes_a_project_id():
    unscoped = {name for name, method in METHODS.items()
                if "project_id" not in method.input_type.fields_by_name}
    assert unscoped == UNSCOPED


@pytest.mark.parametrize("project_id, said", [
    ("", "project_id is required"), ("x' OR 1=1", "not a project id"),
    ("00000000-0000-0000-0000-00000000000G", "not a project id")])
def test_a_missing_or_malformed_project_id_is_refused(project_id, said):
    with pytest.raises(InvalidRequest, match=said):
        check_project_id("/craftkit.v1.StatusService/GetRender",
                         status_pb2.GetRenderRequest(project_id=project_id, render_id="r"))
    check_project_id("/craftkit.v1.ProjectService/Authenticate",
                     projects_pb2.AuthenticateRequest())  # documented exception


@pytest.mark.parametrize("metadata, token", [
    ((("authorization", "Bearer abc"),), "abc"), ((("authorization", "bearer  abc "),), "abc"),
    ((("authorization", "Basic abc"),), None), ((("authorization", "Bearer "),), None),
    ((("x-other", "Bearer abc"),), None), (None, None),
    ((("authorization", "Bearer abc"), ("authorization", "Bearer def")), None)])
def test_bearer_reads_only_a_bearer_authorization(metadata, token):
    assert bearer(metadata) == token


TOKEN_A, TOKEN_B, TOKEN_C = "a" * 32, "b" * 32, "c" * 32


@pytest.fixture
def tokens(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(internal_auth, "RECHECK_SECONDS", 0.0)  # re-check at every call
    (tmp_path / GATEWAY).write_text(f"{TOKEN_A}\n")
    (tmp_path / ADMIN).write_text(f"{TOKEN_B}\n\n")
    (tmp_path / "..data").mkdir()  # what a Kubernetes Secret volume holds beside its keys
    return tmp_path


def test_tokens_identify_their_caller_and_nothing_else(tokens):
    directory = TokenDirectory(tokens)
    assert (directory.identify(TOKEN_A), directory.identify(TOKEN_B)) == (GATEWAY, ADMIN)
    assert directory.identify(TOKEN_C) is None
    assert directory.identify(TOKEN_A[:-1]) is None and directory.identify("") is None


def test_a_rotation_is_seen_without_a_restart(tokens):
    directory = TokenDirectory(tokens)
    (tokens / GATEWAY).write_text(f"{TOKEN_A}\n{TOKEN_C}\n")
    assert (directory.identify(TOKEN_A), directory.identify(TOKEN_C)) == (GATEWAY, GATEWAY)
    (tokens / GATEWAY).write_text(f"{TOKEN_C}\n")
    assert (directory.identify(TOKEN_A), directory.identify(TOKEN_C)) == (None, GATEWAY)


def test_a_bad_file_keeps_the_tokens_read_before(tokens):
    directory = TokenDirectory(tokens)
    (tokens / GATEWAY).write_text("short\n")
    assert directory.identify(TOKEN_A) == GATEWAY


@pytest.mark.parametrize("content, said", [("", "holds no token"), ("short\n", "at least 16")])
def test_a_server_does_not_start_without_usable_tokens(tmp_path, content, said):
    (tmp_path / ADMIN).write_text(content)
    with pytest.raises(ConfigError, match=said):
        TokenDirectory(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        TokenDirectory(tmp_path / "missing")


def test_a_caller_sends_the_first_line_and_follows_the_file(tokens):
    own = TokenFile(tokens / GATEWAY)
    assert own.token() == TOKEN_A
    (tokens / GATEWAY).write_text(f"{TOKEN_C}\n{TOKEN_A}\n")
    assert own.token() == TOKEN_C
    with pytest.raises(ConfigError, match="is empty"):
        TokenFile(_empty(tokens))


def _empty(directory: Path) -> Path:
    path = directory / "empty"
    path.write_text("\n")
    return path


def test_a_refusal_reads_no_request():
    """Stream-unary, whatever the method: it answers before the caller sends anything."""
    refusal = internal_auth._refusal(InvalidRequest("no"))
    assert refusal.stream_unary is not None and refusal.request_deserializer is None


def test_a_token_in_two_callers_files_is_refused(tokens):
    (tokens / RENDER_WORKER).write_text(f"{TOKEN_C}\n{TOKEN_A}\n")
    with pytest.raises(ConfigError, match="same token is in 'gateway' and 'render-worker'"):
        TokenDirectory(tokens)


def test_a_server_accepts_digests_and_tokens_mixed(tokens):
    """What production mounts (digests) and what a simple setup writes (tokens), side by side
    during a rotation; a digest written in capitals is the same digest."""
    (tokens / GATEWAY).write_text(f"{digest_line(TOKEN_A)}\n")
    capitals = "sha256:" + digest_line(TOKEN_C).removeprefix("sha256:").upper()
    (tokens / ADMIN).write_text(f"{TOKEN_B}\n{capitals}\n")
    directory = TokenDirectory(tokens)
    assert [directory.identify(t) for t in (TOKEN_A, TOKEN_B, TOKEN_C)] == [GATEWAY, ADMIN, ADMIN]
    assert directory.identify(digest_line(TOKEN_A)) is None  # the digest is no password


@pytest.mark.parametrize("line", [
    "sha256:", "sha256:" + "0" * 63, "sha256:" + "0" * 65, "sha256:" + "g" * 64,
    "sha256: " + "0" * 64, "sha256:" + "0" * 62 + " 0"])
def test_a_malformed_digest_names_its_file_and_line(tokens, line):
    (tokens / ADMIN).write_text(f"{TOKEN_B}\n{line}\n")
    with pytest.raises(ConfigError, match=rf"{tokens / ADMIN} line 2: a digest line is sha256: "
                                          "and 64 hex digits"):
        TokenDirectory(tokens)


def test_a_token_and_its_digest_in_two_callers_files_is_refused(tokens):
    (tokens / RENDER_WORKER).write_text(f"{digest_line(TOKEN_A)}\n")
    with pytest.raises(ConfigError, match="same token is in 'gateway' and 'render-worker'"):
        TokenDirectory(tokens)


def test_a_caller_cannot_send_a_digest(tokens):
    """A caller's file mounted from the digests by mistake: said at start, not a refusal at the
    first call."""
    (tokens / GATEWAY).write_text(f"{digest_line(TOKEN_A)}\n")
    with pytest.raises(ConfigError, match=rf"{tokens / GATEWAY} line 1 is a digest"):
        TokenFile(tokens / GATEWAY)


def test_the_digest_is_what_the_readmes_shell_recipe_prints():
    """README: `printf %s "$token" | sha256sum` makes the digest without Craftkit installed."""
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        pytest.skip("no sha256sum here")
    printed = subprocess.run([sha256sum], input=TOKEN_A, capture_output=True, text=True,
                             check=True).stdout.split()[0]
    assert digest_line(TOKEN_A) == f"sha256:{printed}"
