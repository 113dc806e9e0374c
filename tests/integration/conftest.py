"""Integration fixtures: real PostgreSQL, Kafka-protocol broker and S3 servers (embedded ones
started here, or the ones DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS / S3_ENDPOINT name), and every
service as its own process. Tests talk to them only over REST and gRPC."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import httpx
import pypdf
import pytest
from minio import Minio

from craftkit import demo
from craftkit.devstack import BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, SERVICES, Infra, Stack
from craftkit.v1 import status_pb2, status_pb2_grpc
from tests import leaks
from tests.integration import receiver as receivers

# Short leases and sweeps so recovery paths finish in seconds, not minutes.
FAST_RECOVERY = {"RENDER_LEASE_SECONDS": "3", "REDELIVER_AFTER_SECONDS": "2",
                 "SWEEP_INTERVAL_SECONDS": "1", "OUTBOX_RELAY_AFTER_SECONDS": "1",
                 "SYNC_TIMEOUT_SECONDS": "15", "RATE_LIMIT_PER_SECOND": "0",
                 "WORKER_SHUTDOWN_GRACE_SECONDS": "10", "RENDER_MAX_ROWS": "10000",
                 "WEBHOOK_RETRY_BASE_SECONDS": "0.3", "WEBHOOK_TIMEOUT_SECONDS": "2",
                 "WEBHOOK_BREAKER_AFTER_SECONDS": "4", "WEBHOOK_BREAKER_PAUSE_SECONDS": "3",
                 "DOWNLOAD_STALL_SECONDS": "10"}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_logs(tmp_path_factory):
    """Set up before any stack, so it ends after all of them: then every log the session's
    services wrote is read, and a secret in any line fails the run naming the file and line
    (tests.leaks says what counts)."""
    yield
    root = tmp_path_factory.getbasetemp()
    found = leaks.scan(leaks.service_logs(root), {**leaks.stack_secrets(root), **leaks.KNOWN})
    if found:
        pytest.fail(f"{len(found)} log line(s) hold a secret:\n" + "\n".join(found[:50]),
                    pytrace=False)


def start_stack(workdir: Path) -> Stack:
    infra = Infra(workdir).start()
    return Stack(infra, env_overrides=FAST_RECOVERY).start()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield stack
    finally:
        stack.stop()
        stack.infra.stop()


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """A stack of every service but the render worker: jobs wait in Kafka and renders stay
    queued until a test claims (StartRender, as a worker would), finishes or cancels them."""
    stack = Stack(Infra(tmp_path_factory.mktemp("idle")).start(), env_overrides=FAST_RECOVERY)
    names = [name for name in SERVICES if name != "render_worker"]
    try:
        for name in names:
            stack.start_service(name)
        stack.wait_ready(names=names)
        yield stack
    finally:
        stack.stop()
        stack.infra.stop()


class Api:
    """A project's view of the running system: its REST client and a gRPC status stub."""

    def __init__(self, stack: Stack, key: str, project_id: str) -> None:
        self.stack, self.key, self.project_id = stack, key, project_id
        self.http = httpx.Client(base_url=stack.base_url, timeout=30,
                                 headers={"authorization": f"Bearer {key}"})
        self.channel = stack.channel("status")  # calling as admin
        self.status = status_pb2_grpc.StatusServiceStub(self.channel)

    def render(self, data: dict, slug: str = "invoice", **options) -> httpx.Response:
        body = {"data": data, **({"options": options} if options else {})}
        return self.http.post(f"/v1/templates/{slug}/render", json=body)

    def wait(self, render_id: str, timeout: float = 60):
        """The render once terminal (WaitRender blocks server-side; no polling here). Waits for
        the channel too: after a test restarts status, the channel may still be in its reconnect
        backoff, where a call without wait_for_ready fails at once with UNAVAILABLE."""
        self.status.WaitRender(status_pb2.WaitRenderRequest(
            project_id=self.project_id, render_id=render_id, timeout_ms=int(timeout * 1000)),
            timeout=timeout + 5, wait_for_ready=True)
        return self.grpc_render(render_id)

    def grpc_render(self, render_id: str):
        return self.status.GetRender(status_pb2.GetRenderRequest(
            project_id=self.project_id, render_id=render_id, include_transitions=True), timeout=10,
            wait_for_ready=True)

    def close(self) -> None:
        self.http.close()
        self.channel.close()


def new_api(stack: Stack) -> Api:
    with stack.channel("status") as channel:
        project_id, key = demo.create_project(channel, f"test-{uuid.uuid4().hex[:8]}")
    leaks.remember(key, f"the API key of project {project_id}")
    return Api(stack, key, project_id)


@pytest.fixture
def receiver():
    """A real HTTP server on loopback that records the webhooks it receives."""
    server = receivers.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def api(stack):
    api = new_api(stack)
    yield api
    api.close()


def invoice(name: str | None = None, rows: int = 1) -> dict:
    """The seeds' invoice body, made unique so the dedupe window does not merge tests."""
    return {"customer": {"name": name or f"Acme {uuid.uuid4().hex[:8]}"},
            "items": [{"name": f"Widget {i}", "qty": 5, "price": 9.99} for i in range(rows)],
            "total": round(49.95 * rows, 2)}


def unrenderable_invoice() -> dict:
    """An invoice body the manifest accepts but the render fails: more table rows than
    RENDER_MAX_ROWS (10,000 in these tests). (A row taller than a page no longer fails: it
    splits across pages.)"""
    return invoice(rows=10_001)


def s3(stack: Stack) -> Minio:
    endpoint = stack.infra.s3_endpoint.split("://", 1)[1]
    return Minio(endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False,
                 region="us-east-1")


def objects(stack: Stack, render_id: str) -> list:
    return list(s3(stack).list_objects(BUCKET, prefix=f"renders/{render_id}/", recursive=True))


def pdf_text(content: bytes) -> tuple[str, int]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def eventually(predicate, timeout: float = 30, what: str = "condition"):
    """Polls a real observable (a health status, a row's state) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)
