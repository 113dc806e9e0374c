"""Internal gRPC as a process inside the network sees it (craftkit.internal_auth): the issue's four
attacks, each refused without a token, with a wrong one and with a caller's token that does not
grant the method; health open to probes; a token rotated while the services run."""

from __future__ import annotations

import secrets
import shutil
import threading
import uuid
from pathlib import Path

import grpc
import pytest

from craftkit import service
from craftkit.demo import sample_assets
from craftkit.devstack import health
from craftkit.internal_auth import ADMIN, GATEWAY, RENDER_WORKER, ClientSecurity, digest_line
from craftkit.v1 import (enqueue_pb2, enqueue_pb2_grpc, projects_pb2, projects_pb2_grpc, render_pb2,
                         status_pb2, status_pb2_grpc, templates_pb2, templates_pb2_grpc,
                         webhooks_pb2, webhooks_pb2_grpc)
from tests.integration.conftest import eventually, invoice, new_api

UNAUTHENTICATED, PERMISSION_DENIED = (grpc.StatusCode.UNAUTHENTICATED,
                                      grpc.StatusCode.PERMISSION_DENIED)


@pytest.fixture
def wrong_token(tmp_path) -> Path:
    path = tmp_path / "wrong"
    path.write_text(secrets.token_urlsafe(32) + "\n")
    return path


def channel(stack, name: str, caller: str | Path | None) -> grpc.Channel:
    """A channel to service `name` calling as an identity of the stack, with the token in a file,
    or without any token (None)."""
    if caller is None:
        return grpc.insecure_channel(stack.address(name))
    path = caller if isinstance(caller, Path) else stack.tokens_dir / caller
    return service.blocking_channel(stack.address(name), ClientSecurity(str(path), ""))


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


@pytest.fixture
def victim(api):
    """A project with a finished render and an asset (the demo invoice's logo.png): what the
    attacks were after."""
    render = api.render(invoice(), sync=True).json()
    template = api.http.get("/v1/templates/invoice").json()
    return {"project_id": api.project_id, "render_id": render["id"],
            "template_id": template["id"]}


ATTACKS = {
    # GetRender(project_id="") returned another project's render.
    "read a render": ("status", lambda ch, v: status_pb2_grpc.StatusServiceStub(ch).GetRender(
        status_pb2.GetRenderRequest(project_id=v["project_id"], render_id=v["render_id"]),
        timeout=10), RENDER_WORKER),
    # CreateApiKey(<their project id>) minted a working REST key. The gateway may call it now
    # (POST /v1/keys, behind a full key of that project); a worker may not.
    "mint a key": ("status", lambda ch, v: projects_pb2_grpc.ProjectServiceStub(ch).CreateApiKey(
        projects_pb2.CreateApiKeyRequest(project_id=v["project_id"]), timeout=10),
                   RENDER_WORKER),
    # GetAssetData read their asset (every caller may call it now: workers render, the gateway
    # previews; PrepareVersionPreview is what the gateway alone may call to reach one).
    "read an asset": ("status", lambda ch, v: templates_pb2_grpc.TemplateServiceStub(ch)
                      .GetAssetData(templates_pb2.GetAssetDataRequest(
                          project_id=v["project_id"], template_id=v["template_id"],
                          name="logo.png"), timeout=10), None),
    "prepare a preview": ("status", lambda ch, v: templates_pb2_grpc.TemplateServiceStub(ch)
                          .PrepareVersionPreview(templates_pb2.PrepareVersionPreviewRequest(
                              project_id=v["project_id"], slug="invoice", number=1,
                              data_json="{}"), timeout=10), RENDER_WORKER),
    # EnqueueRender + StartRender + FinishRender(download_url=evil) signed a lie to their receiver.
    "enqueue": ("enqueue", lambda ch, v: enqueue_pb2_grpc.EnqueueServiceStub(ch).EnqueueRender(
        enqueue_pb2.EnqueueRenderRequest(project_id=v["project_id"], template_slug="invoice",
                                         data_json='{"customer": {"name": "x"}}'), timeout=10),
                RENDER_WORKER),
    "finish a render": ("status", lambda ch, v: status_pb2_grpc.StatusServiceStub(ch)
                        .FinishRender(status_pb2.FinishRenderRequest(
                            project_id=v["project_id"], render_id=v["render_id"], attempt=1,
                            succeeded=True, download_url="https://attacker.example/evil.pdf"),
                            timeout=10), GATEWAY),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_issues_attacks_are_refused_to_strangers_and_to_callers_without_the_right(
        stack, victim, wrong_token, attack):
    name, call, other_caller = ATTACKS[attack]
    callers = [(None, UNAUTHENTICATED, "needs credentials"),
               (wrong_token, UNAUTHENTICATED, "not one of")]
    if other_caller is not None:  # None: every identity may call it
        callers.append((other_caller, PERMISSION_DENIED, f"caller '{other_caller}'"))
    for caller, code, said in callers:
        with channel(stack, name, caller) as ch:
            error = refused(lambda ch=ch: call(ch, victim))
        assert (error.code(), said in error.details()) == (code, True), error.details()


def test_a_caller_acts_only_for_the_project_it_names(stack, victim):
    """GetRender without a project id is refused; naming another project finds nothing, also a
    real one with a render and an asset of its own; the worker reads an asset only for the
    template's own project."""
    other = new_api(stack)
    try:
        other_render = other.render(invoice(), sync=True).json()["id"]
    finally:
        other.close()
    with channel(stack, "status", GATEWAY) as ch:
        status = status_pb2_grpc.StatusServiceStub(ch)
        for project_id, render_id in ((other.project_id, victim["render_id"]),
                                      (victim["project_id"], other_render)):
            error = refused(lambda p=project_id, r=render_id: status.GetRender(
                status_pb2.GetRenderRequest(project_id=p, render_id=r), timeout=10))
            assert error.code() == grpc.StatusCode.NOT_FOUND
    with channel(stack, "status", GATEWAY) as ch:
        status = status_pb2_grpc.StatusServiceStub(ch)
        error = refused(lambda: status.GetRender(status_pb2.GetRenderRequest(
            render_id=victim["render_id"]), timeout=10))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "project_id is required" in error.details()
        error = refused(lambda: status.GetRender(status_pb2.GetRenderRequest(
            project_id=str(uuid.uuid4()), render_id=victim["render_id"]), timeout=10))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert status.GetRender(status_pb2.GetRenderRequest(
            project_id=victim["project_id"], render_id=victim["render_id"]), timeout=10).id
    with channel(stack, "status", RENDER_WORKER) as ch:
        templates = templates_pb2_grpc.TemplateServiceStub(ch)

        def asset(project_id: str):
            return templates.GetAssetData(templates_pb2.GetAssetDataRequest(
                project_id=project_id, template_id=victim["template_id"], name="logo.png"),
                timeout=10)

        assert refused(lambda: asset(str(uuid.uuid4()))).code() == grpc.StatusCode.NOT_FOUND
        assert refused(lambda: asset(other.project_id)).code() == grpc.StatusCode.NOT_FOUND
        assert asset(victim["project_id"]).data == sample_assets("invoice")["logo.png"]


def test_only_the_admin_creates_projects_and_a_worker_no_keys(stack, api):
    for caller in (GATEWAY, RENDER_WORKER):
        with channel(stack, "status", caller) as ch:
            error = refused(lambda ch=ch: projects_pb2_grpc.ProjectServiceStub(ch).CreateProject(
                projects_pb2.CreateProjectRequest(name="mine"), timeout=10))
        assert error.code() == PERMISSION_DENIED
    with channel(stack, "status", RENDER_WORKER) as ch:
        error = refused(lambda: projects_pb2_grpc.ProjectServiceStub(ch).CreateApiKey(
            projects_pb2.CreateApiKeyRequest(project_id=api.project_id), timeout=10))
    assert error.code() == PERMISSION_DENIED
    with channel(stack, "status", ADMIN) as ch:
        key = projects_pb2_grpc.ProjectServiceStub(ch).CreateApiKey(
            projects_pb2.CreateApiKeyRequest(project_id=api.project_id), timeout=10).api_key
    response = api.http.get("/v1/templates", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_health_needs_no_token(stack):
    for name in ("status", "enqueue", "webhooks"):
        assert health(stack.address(name)) == "SERVING"


def list_endpoints(address: str, token: Path, project_id: str):
    with service.blocking_channel(address, ClientSecurity(str(token), "")) as ch:
        return webhooks_pb2_grpc.WebhookServiceStub(ch).ListEndpoints(
            webhooks_pb2.ListEndpointsRequest(project_id=project_id), timeout=10)


def accepted(address: str, token: Path, project_id: str) -> bool:
    try:
        list_endpoints(address, token, project_id)
    except grpc.RpcError as exc:
        assert exc.code() == UNAUTHENTICATED, exc.details()
        return False
    return True


def test_a_token_rotates_without_a_restart(stack, api, tmp_path):
    """On a webhooks service of its own (its own INTERNAL_TOKENS_DIR, digests as the stack's
    servers have), in the README's order: the new token's digest added as a second line is
    accepted beside the old one; once the old digest is removed, the old token is refused."""
    digests = tmp_path / "digests"
    shutil.copytree(stack.digests_dir, digests)
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text((stack.tokens_dir / ADMIN).read_text())
    new.write_text(secrets.token_urlsafe(32) + "\n")
    assert old.read_text().strip() not in (digests / ADMIN).read_text()
    settings = {"INTERNAL_TOKENS_DIR": str(digests), "WEBHOOKS_GROUP": "webhooks-rotation"}
    with stack.extra("webhooks", settings) as address:
        assert accepted(address, old, api.project_id)
        assert not accepted(address, new, api.project_id)
        (digests / ADMIN).write_text(f"{digest_of(old)}\n{digest_of(new)}\n")
        eventually(lambda: accepted(address, new, api.project_id), timeout=10,
                   what="the new token accepted")
        assert accepted(address, old, api.project_id)
        (digests / ADMIN).write_text(f"{digest_of(new)}\n")
        eventually(lambda: not accepted(address, old, api.project_id), timeout=10,
                   what="the old token refused")
        assert accepted(address, new, api.project_id)


def test_the_stacks_servers_hold_digests_only(stack):
    """Dev mirrors production: what status, enqueue and webhooks read as INTERNAL_TOKENS_DIR is
    the digest of each caller's token, never the token (every other test here calls them)."""
    for name in ("status", "enqueue", "webhooks"):
        directory = Path(stack.env(name)["INTERNAL_TOKENS_DIR"])
        for identity in (GATEWAY, RENDER_WORKER, ADMIN):
            token = (stack.tokens_dir / identity).read_text().strip()
            assert (directory / identity).read_text() == f"{digest_line(token)}\n"


def digest_of(token_file: Path) -> str:
    return digest_line(token_file.read_text().strip())


GET_RENDER = "/craftkit.v1.StatusService/GetRender"


def raw_call(stack, path: str, body, metadata, stream: bool = False):
    """Calls `path` with raw bytes (or, stream=True, a request stream `body` yields), returning
    the error's (code, details) or ("OK", reply bytes). The deadline is only there to turn a hang
    into a failure."""
    with grpc.insecure_channel(stack.address("status")) as ch:
        kind = ch.stream_unary if stream else ch.unary_unary
        try:
            return "OK", kind(path)(body, metadata=metadata, timeout=30)
        except grpc.RpcError as exc:
            return exc.code().name, exc.details()


def bearer_of(stack, identity: str) -> tuple[str, str]:
    return "authorization", f"Bearer {(stack.tokens_dir / identity).read_text().split()[0]}"


def test_a_stranger_is_refused_before_it_sends_a_request(stack):
    """A call with no token that never sends its message is refused at once rather than held
    open (thousands of them cost a server ~14 KB each); nor is its body read."""
    never_sent = threading.Event()

    def nothing():
        never_sent.wait()
        yield from ()

    try:
        code, details = raw_call(stack, GET_RENDER, nothing(), [], stream=True)
    finally:
        never_sent.set()
    assert (code, "needs credentials" in details) == ("UNAUTHENTICATED", True), details


def test_bytes_that_are_not_the_request_message_are_invalid_argument(stack):
    assert raw_call(stack, GET_RENDER, b"\xff\xff\xff\xff", [])[0] == "UNAUTHENTICATED"
    code, details = raw_call(stack, GET_RENDER, b"\xff\xff\xff\xff", [bearer_of(stack, GATEWAY)])
    assert (code, "not a /craftkit.v1.StatusService/GetRender request" in details) == (
        "INVALID_ARGUMENT", True), details


def test_two_authorization_entries_are_refused_whatever_their_order(stack, victim):
    request = status_pb2.GetRenderRequest(project_id=victim["project_id"],
                                          render_id=victim["render_id"]).SerializeToString()
    right, wrong = bearer_of(stack, GATEWAY), ("authorization", "Bearer " + "x" * 32)
    for metadata in ([right, wrong], [wrong, right], [bearer_of(stack, RENDER_WORKER), right]):
        code, details = raw_call(stack, GET_RENDER, request, metadata)
        assert (code, "not several" in details) == ("UNAUTHENTICATED", True), details


def test_a_workers_text_with_nul_is_stored_or_refused_never_unknown(stack, victim):
    """PostgreSQL's text refuses NUL: a failure reason quoting one no longer fails the call
    inside PostgreSQL (UNKNOWN); it reaches the render's lookup (NOT_FOUND for a render that does
    not exist) and would be stored with U+FFFD. A NUL in an object key or URL is
    INVALID_ARGUMENT."""
    nowhere = str(uuid.uuid4())  # the text reaches PostgreSQL before the row is looked up
    with channel(stack, "status", RENDER_WORKER) as ch:
        status = status_pb2_grpc.StatusServiceStub(ch)
        for call in (
                lambda: status.FinishRender(status_pb2.FinishRenderRequest(
                    project_id=victim["project_id"], render_id=nowhere, attempt=1,
                    error_message="bad byte \x00 here"), timeout=10),
                lambda: status.ReleaseRender(status_pb2.ReleaseRenderRequest(
                    project_id=victim["project_id"], render_id=nowhere, attempt=1,
                    reason="bad byte \x00 here"), timeout=10),
                lambda: status.ReleaseRender(status_pb2.ReleaseRenderRequest(
                    project_id=victim["project_id"], render_id=nowhere, attempt=99,
                    reason="bad byte \x00 here"), timeout=10)):
            assert refused(call).code() == grpc.StatusCode.NOT_FOUND
        error = refused(lambda: status.FinishRender(status_pb2.FinishRenderRequest(
            project_id=victim["project_id"], render_id=nowhere, attempt=1, succeeded=True,
            object_key="renders/x\x00.pdf", download_url="https://s3.example/x"), timeout=10))
        assert (error.code(), "object_key contains NUL" in error.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT, True), error.details()


def test_an_endpoint_for_a_project_that_does_not_exist_is_invalid_argument(stack):
    with channel(stack, "webhooks", GATEWAY) as ch:
        error = refused(lambda: webhooks_pb2_grpc.WebhookServiceStub(ch).CreateEndpoint(
            webhooks_pb2.CreateEndpointRequest(project_id=str(uuid.uuid4()),
                                               url="https://hooks.example.com/craftkit"),
            timeout=10))
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT,
                                               "project_id names no project")


def test_wait_render_wakes_for_a_render_id_in_capitals(api):
    """Project and render ids are UUIDs in any case; a wait named in capitals is woken when the
    render finishes, not only at its timeout (which here is past the call's deadline)."""
    created = api.render(invoice(rows=4000)).json()  # a second or so of rendering
    waited = api.status.WaitRender(status_pb2.WaitRenderRequest(
        project_id=api.project_id.upper(), render_id=created["id"].upper(),
        timeout_ms=600_000), timeout=120)
    assert waited.status == render_pb2.RENDER_STATUS_SUCCEEDED


def test_the_worker_token_cannot_point_a_render_at_another_file(stack, victim):
    """FinishRender takes only the render's own folder and the public address S3_PUBLIC_BASE_URL
    gives it: a caller holding the worker's token cannot make a tenant's webhook name a file of
    its choosing, nor another render's PDF."""
    rid = victim["render_id"]

    def read() -> render_pb2.Render:
        with channel(stack, "status", ADMIN) as ch:
            return status_pb2_grpc.StatusServiceStub(ch).GetRender(status_pb2.GetRenderRequest(
                project_id=victim["project_id"], render_id=rid), timeout=10)

    before = read()
    with channel(stack, "status", RENDER_WORKER) as ch:
        status = status_pb2_grpc.StatusServiceStub(ch)
        base = before.download_url[:-len(before.object_key) - 1]
        other = f"renders/{uuid.uuid4()}/invoice.pdf"
        for key, url, field in (
                (before.object_key, "https://attacker.example/evil.pdf", "download_url"),
                (other, f"{base}/{other}", "object_key"),
                (f"renders/{rid}/../x.pdf", f"{base}/renders/{rid}/../x.pdf", "object_key")):
            error = refused(lambda key=key, url=url: status.FinishRender(
                status_pb2.FinishRenderRequest(project_id=victim["project_id"], render_id=rid,
                                               attempt=1, succeeded=True, object_key=key,
                                               download_url=url), timeout=10))
            assert (error.code(), field in error.details()) == (
                grpc.StatusCode.INVALID_ARGUMENT, True), error.details()
    after = read()
    assert (after.object_key, after.download_url) == (before.object_key, before.download_url)
    assert before.download_url.startswith("http")
