"""Idempotency-Key storage (services/status/idempotency.py) over real gRPC and PostgreSQL: a key is
reserved once, replayed after Finish, refused for another request, freed by Abandon, by expiry and
(for the same request) by a lease that ran out; keys are per project."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import grpc
import psycopg
import pytest

from craftkit import db
from craftkit.config import Database
from craftkit.v1 import idempotency_pb2 as I
from craftkit.v1 import idempotency_pb2_grpc
from services.status.idempotency import sweep_once
from tests.integration.conftest import new_api

Outcome = I.BeginResponse


@pytest.fixture
def keys(stack):
    with stack.channel("status") as channel:
        yield idempotency_pb2_grpc.IdempotencyServiceStub(channel)


def fingerprint(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def begin(keys, project: str, key: str, body: str = "body") -> I.BeginResponse:
    return keys.Begin(I.BeginRequest(project_id=project, key=key, fingerprint=fingerprint(body),
                                     lease_ms=60_000), timeout=10)


def finish(keys, project: str, key: str, lease_id: str, status: int = 202, body: bytes = b"{}"):
    return keys.Finish(I.FinishRequest(project_id=project, key=key, lease_id=lease_id,
                                       response=I.StoredResponse(
                                           status=status, body=body,
                                           headers={"location": "/v1/renders/x"})), timeout=10)


def sql(stack, statement: str, *params) -> None:
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        conn.execute(statement, params)


def test_a_finished_key_replays_its_response(api, keys):
    key = str(uuid.uuid4())
    first = begin(keys, api.project_id, key)
    assert first.outcome == Outcome.NEW
    assert begin(keys, api.project_id, key).outcome == Outcome.IN_USE
    finish(keys, api.project_id, key, first.lease_id, body=b'{"id":"r1"}')
    again = begin(keys, api.project_id, key)
    assert again.outcome == Outcome.REPLAY
    assert (again.response.status, again.response.body) == (202, b'{"id":"r1"}')
    assert dict(again.response.headers) == {"location": "/v1/renders/x"}


def test_the_same_key_with_another_request_is_reused(api, keys):
    key = str(uuid.uuid4())
    first = begin(keys, api.project_id, key, "one")
    assert begin(keys, api.project_id, key, "two").outcome == Outcome.REUSED
    finish(keys, api.project_id, key, first.lease_id)
    assert begin(keys, api.project_id, key, "two").outcome == Outcome.REUSED


def test_abandon_frees_the_key_and_only_its_holder_can(api, keys):
    key = str(uuid.uuid4())
    first = begin(keys, api.project_id, key)
    keys.Abandon(I.AbandonRequest(project_id=api.project_id, key=key,
                                  lease_id=str(uuid.uuid4())), timeout=10)
    assert begin(keys, api.project_id, key).outcome == Outcome.IN_USE
    keys.Abandon(I.AbandonRequest(project_id=api.project_id, key=key, lease_id=first.lease_id),
                 timeout=10)
    assert begin(keys, api.project_id, key).outcome == Outcome.NEW


def test_a_lease_that_ran_out_lets_the_same_request_take_the_key_over(stack, api, keys):
    key = str(uuid.uuid4())
    dead = begin(keys, api.project_id, key)  # its gateway "dies": no Finish, no Abandon
    sql(stack, "UPDATE idempotency_keys SET lease_until = now() - interval '1 s' "
               "WHERE project_id = %s AND key = %s", api.project_id, key)
    assert begin(keys, api.project_id, key, "another").outcome == Outcome.REUSED
    taken = begin(keys, api.project_id, key)
    assert taken.outcome == Outcome.NEW and taken.lease_id != dead.lease_id
    with pytest.raises(grpc.RpcError) as late:
        finish(keys, api.project_id, key, dead.lease_id)
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finish(keys, api.project_id, key, taken.lease_id, body=b"taken")
    assert begin(keys, api.project_id, key).response.body == b"taken"


def test_an_expired_key_is_free_again_and_swept(stack, api, keys):
    key = str(uuid.uuid4())
    finish(keys, api.project_id, key, begin(keys, api.project_id, key, "old").lease_id)
    sql(stack, "UPDATE idempotency_keys SET expires_at = now() - interval '1 s' "
               "WHERE project_id = %s AND key = %s", api.project_id, key)
    assert begin(keys, api.project_id, key, "new").outcome == Outcome.NEW
    stale = str(uuid.uuid4())
    finish(keys, api.project_id, stale, begin(keys, api.project_id, stale).lease_id)
    sql(stack, "UPDATE idempotency_keys SET expires_at = now() - interval '1 s' "
               "WHERE project_id = %s AND key = %s", api.project_id, stale)

    async def run_sweep() -> None:
        pool = db.pool(Database(url=stack.infra.database_url, pool_size=1))
        await pool.open()
        try:
            assert await sweep_once(pool) >= 1
        finally:
            await pool.close()

    asyncio.run(run_sweep())
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT key FROM idempotency_keys WHERE project_id = %s",
                            (api.project_id,)).fetchall()
    assert rows == [(key,)]


def test_keys_are_per_project(stack, api, keys):
    key = str(uuid.uuid4())
    finish(keys, api.project_id, key, begin(keys, api.project_id, key).lease_id)
    other = new_api(stack)
    try:
        assert begin(keys, other.project_id, key, "other body").outcome == Outcome.NEW
    finally:
        other.close()


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "nul\x00"])
def test_a_malformed_key_is_refused(api, keys, key):
    with pytest.raises(grpc.RpcError) as refused:
        begin(keys, api.project_id, key)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Idempotency-Key" in refused.value.details()
