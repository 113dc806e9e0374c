"""Retention: after RENDER_RETENTION_DAYS the PDF and the request's data are deleted and the render
row stays readable, marked expired; the database allows exactly that change to a terminal row."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from craftkit import db
from craftkit.config import Database, Storage
from craftkit.devstack import BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, Infra, Stack
from craftkit.v1 import render_pb2 as S
from craftkit.v1 import status_pb2
from services.render_worker.storage import PdfStore
from services.status.retention import Retention
from tests.integration.conftest import (FAST_RECOVERY, eventually, invoice, new_api, objects,
                                        unrenderable_invoice)

# 0.00002 days is 1.7 s: fractional days are the setting's own unit, no test-only knob.
RETENTION = {**FAST_RECOVERY, "RENDER_RETENTION_DAYS": "0.00002"}


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory):
    stack = Stack(Infra(tmp_path_factory.mktemp("retention")).start(), env_overrides=RETENTION)
    try:
        stack.start()
        api = new_api(stack)
        yield api
        api.close()
    finally:
        stack.stop()
        stack.infra.stop()


def row(stack, render_id: str) -> dict:
    with psycopg.connect(stack.infra.database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM renders WHERE id = %s", (render_id,)).fetchone()


def test_an_expired_render_keeps_its_row_without_pdf_data_or_url(short_lived):
    api = short_lived
    created = api.render(invoice("Expiring Ltd"), sync=True).json()
    assert created["status"] == "succeeded", created
    done = api.grpc_render(created["id"])
    assert done.download_url and done.expired_at_ms == 0

    expired = eventually(lambda: (r := api.grpc_render(created["id"])).expired_at_ms and r,
                         what="the render expiring")
    assert objects(api.stack, created["id"]) == []
    assert expired.status == S.RENDER_STATUS_SUCCEEDED and expired.download_url == ""
    assert expired.expired_at_ms >= expired.completed_at_ms == done.completed_at_ms
    assert expired.object_key == done.object_key and expired.duration_ms == done.duration_ms
    stored = row(api.stack, created["id"])
    assert stored["data"] == {} and stored["download_url"] is None
    with psycopg.connect(api.stack.infra.database_url) as conn:  # nor a hash of the data
        assert conn.execute("SELECT count(*) FROM render_dedupe WHERE render_id = %s",
                            (created["id"],)).fetchone() == (0,)
    shown = api.http.get(created["pollUrl"]).json()
    assert shown["status"] == "succeeded" and shown["downloadUrl"] is None
    assert shown["expiredAt"] is not None and shown["expiredAt"] >= shown["completedAt"]
    # The transition history is the render's, untouched.
    assert [t.status for t in expired.transitions] == [
        S.RENDER_STATUS_QUEUED, S.RENDER_STATUS_RENDERING, S.RENDER_STATUS_SUCCEEDED]


def test_the_same_request_after_expiry_renders_again(short_lived):
    """The dedupe hands back the first request's render only while its PDF exists: an expired
    one has none to give (RENDER_RETENTION_DAYS shorter than DEDUPE_WINDOW_SECONDS made every
    identical request within the window a render with downloadUrl null and downloads 410)."""
    api = short_lived
    data = invoice("Asked Twice Ltd")
    first = api.render(data, sync=True).json()
    assert first["status"] == "succeeded", first
    eventually(lambda: api.grpc_render(first["id"]).expired_at_ms, what="the render expiring")

    again = api.render(data, sync=True).json()
    assert again["id"] != first["id"] and again["status"] == "succeeded", again
    assert again["expiredAt"] is None and again["downloadUrl"]
    assert api.http.get(f"/v1/renders/{again['id']}/download").status_code == 200


def test_failed_renders_lose_their_data_too(short_lived):
    api = short_lived
    failed = api.render(unrenderable_invoice(), sync=True).json()
    assert failed["status"] == "failed"
    eventually(lambda: api.grpc_render(failed["id"]).expired_at_ms, what="the render expiring")
    stored = row(api.stack, failed["id"])
    assert stored["data"] == {} and stored["error_message"] == failed["errorMessage"]


def finished(api, render_id: str) -> None:
    """Claims and fails a queued render the way a worker would (no worker runs on `idle`)."""
    claim = api.status.StartRender(status_pb2.StartRenderRequest(
        project_id=api.project_id, render_id=render_id, worker_id="test"), timeout=10)
    api.status.FinishRender(status_pb2.FinishRenderRequest(
        project_id=api.project_id, render_id=render_id, attempt=claim.attempt, succeeded=False,
        error_message="failed on purpose"), timeout=10)


@pytest.mark.parametrize("change", [
    "data = '{}'",  # without marking it expired
    "expired_at = now()",  # keeping the data
    "expired_at = now(), data = '{\"a\": 1}'",
    "expired_at = now(), data = '{}', error_message = 'rewritten'",
    "expired_at = now(), data = '{}', completed_at = now()",
    "expired_at = now(), data = '{}', status = 'succeeded'",
    "expired_at = now(), data = '{}', object_key = 'renders/elsewhere.pdf'",
])
def test_the_database_refuses_every_other_change_to_a_terminal_render(idle, change):
    api = new_api(idle)
    try:
        created = api.render(invoice()).json()
        finished(api, created["id"])
    finally:
        api.close()
    with psycopg.connect(idle.infra.database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute(f"UPDATE renders SET {change} WHERE id = %s", (created["id"],))


def test_the_database_allows_retention_once_and_only_on_terminal_renders(idle):
    api = new_api(idle)
    try:
        terminal = api.render(invoice()).json()["id"]
        finished(api, terminal)
        queued = api.render(invoice()).json()["id"]
    finally:
        api.close()
    expire = ("UPDATE renders SET expired_at = now(), data = '{}', download_url = NULL "
              "WHERE id = %s")
    with psycopg.connect(idle.infra.database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute(expire, (queued,))
        conn.execute(expire, (terminal,))
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute(expire, (terminal,))  # once: expired_at never moves
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute("DELETE FROM renders WHERE id = %s", (terminal,))


async def test_replicas_running_retention_at_once_share_the_work_without_clashing(idle):
    """Two status replicas' retention loops, on the same database at the same moment: each
    batch skips the rows the other holds, so every render expires once and neither pass fails
    (a second UPDATE of an expired row would be refused by the guard)."""
    api = new_api(idle)
    try:
        for _ in range(24):
            finished(api, api.render(invoice()).json()["id"])
    finally:
        api.close()
    store = PdfStore(Storage(endpoint=idle.infra.s3_endpoint, access_key=S3_ACCESS_KEY,
                             secret_key=S3_SECRET_KEY, bucket=BUCKET, region="us-east-1",
                             public_base_url=""))
    pools = [db.pool(Database(idle.infra.database_url, pool_size=2)) for _ in range(2)]
    for pool in pools:
        await pool.open()
    try:
        replicas = [Retention(pool, store, days=0, batch=5) for pool in pools]
        with psycopg.connect(idle.infra.database_url) as conn:
            due = conn.execute("SELECT count(*) FROM renders WHERE completed_at IS NOT NULL "
                               "AND expired_at IS NULL").fetchone()[0]
        expired = 0
        while counts := [n for n in await asyncio.gather(*(r.expire() for r in replicas)) if n]:
            expired += sum(counts)
        assert expired == due >= 24
    finally:
        for pool in pools:
            await pool.close()
