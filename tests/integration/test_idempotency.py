"""Idempotency-Key storage (services/status/idempotency.py) over real gRPC and PostgreSQL: a key is
reserved once, replayed after Finish, refused for another request, freed by Abandon, by expiry and
(for the same request) by a lease that ran out; keys are per project."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest

from craftkit import db
from craftkit.config import Database
from craftkit.v1 import idempotency_pb2 as I
from craftkit.v1 import idempotency_pb2_grpc
from services.status.idempotency import sweep_once
from tests.integration.conftest import eventually, invoice, new_api

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


# ------------------------------------------------------------------ over REST (the gateway)

def post(api, path: str, key: str, body: dict | None = None, **kwargs):
    return api.http.post(path, json=body, headers={"idempotency-key": key}, **kwargs)


def webhook_ids(api) -> list[str]:
    return [w["id"] for w in api.http.get("/v1/webhooks").json()["webhooks"]]


def renders_of(stack, project_id: str) -> int:
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM renders WHERE project_id = %s",
                            (project_id,)).fetchone()[0]


def test_a_retry_replays_the_first_response_and_creates_nothing(api, receiver):
    key = str(uuid.uuid4())
    body = {"url": f"{receiver.base}/hook"}
    first = post(api, "/v1/webhooks", key, body)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = post(api, "/v1/webhooks", key, body)
    assert (again.status_code, again.content) == (201, first.content)  # the same secret, once
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert webhook_ids(api) == [first.json()["id"]]


def test_a_new_api_key_is_shown_once_and_replayed_to_a_retry(api):
    key, body = str(uuid.uuid4()), {"name": "partner", "scopes": ["download"]}
    first = post(api, "/v1/keys", key, body)
    assert first.status_code == 201, first.text
    again = post(api, "/v1/keys", key, body)
    assert (again.status_code, again.content) == (201, first.content)
    names = [k["name"] for k in api.http.get("/v1/keys").json()["data"]]
    assert names.count("partner") == 1


def test_a_stored_response_keeps_no_secret_readable_in_the_database(stack, api):
    """API keys and inbound hook tokens are stored only hashed; the response that shows one
    must not keep it in clear for 24 h beside them (a backup or a read replica would hold live
    keys). Neither the Idempotency-Key nor the body is readable in the row."""
    key = str(uuid.uuid4())
    made = post(api, "/v1/keys", key, {"name": "partner", "scopes": ["full"]})
    assert made.status_code == 201, made.text
    secret = made.json()["key"]
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT key, body FROM idempotency_keys WHERE project_id = %s",
                            (api.project_id,)).fetchall()
    assert len(rows) == 1
    assert rows[0][0] != key and secret.encode() not in bytes(rows[0][1])
    again = post(api, "/v1/keys", key, {"name": "partner", "scopes": ["full"]})
    assert (again.status_code, again.json()["key"]) == (201, secret)


def test_two_idempotency_key_headers_are_refused_and_nothing_is_made(stack, api):
    """A proxy in front may read the last header where the gateway read the first."""
    first = api.http.post("/v1/templates/invoice/render", json={"data": invoice()},
                          headers=[("idempotency-key", str(uuid.uuid4())),
                                   ("idempotency-key", str(uuid.uuid4()))])
    assert first.status_code == 400, first.text
    assert "one Idempotency-Key" in first.json()["error"]["message"]
    assert renders_of(stack, api.project_id) == 0


def largest_version(limit: int = 1024 * 1024) -> bytes:
    """A version whose body is `limit` bytes of JSON (MAX_BODY_BYTES), mostly 3-byte characters:
    its 201 echoes all of it, plus the version's own fields."""
    def body(tail: str) -> bytes:
        blocks = [{"type": "text", "text": "中" * 10_000} for _ in range(34)]
        blocks.append({"type": "text", "text": tail})
        return json.dumps({"manifest": {"fields": {}}, "layout": {"body": blocks}},
                          separators=(",", ":"), ensure_ascii=False).encode()
    room = limit - len(body(""))
    return body("中" * (room // 3) + "x" * (room % 3))


def test_the_largest_response_is_replayed_and_nothing_is_made_twice(api):
    """A version at the body limit answers more than 1 MiB: it was not stored, the key stayed
    held (409) until its lease ran out, and then the retry made a second version."""
    assert api.http.post("/v1/templates", json={"slug": "big"}).status_code == 201
    key, body = str(uuid.uuid4()), largest_version()
    headers = {"idempotency-key": key, "content-type": "application/json"}
    first = api.http.post("/v1/templates/big/versions", content=body, headers=headers)
    assert first.status_code == 201, first.text
    assert len(first.content) > 1024 * 1024
    again = api.http.post("/v1/templates/big/versions", content=body, headers=headers)
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (201, "true"), \
        again.text[:200]
    assert again.content == first.content
    versions = api.http.get("/v1/templates/big").json()["versions"]
    assert [v["number"] for v in versions] == [1]


def test_a_render_is_replayed_with_its_location(stack, api):
    key = str(uuid.uuid4())
    body = {"data": invoice()}
    first = post(api, "/v1/templates/invoice/render", key, body)
    assert first.status_code == 202, first.text
    again = post(api, "/v1/templates/invoice/render", key, body)
    assert (again.status_code, again.content) == (202, first.content)
    assert again.headers["location"] == first.headers["location"]
    assert renders_of(stack, api.project_id) == 1


def test_a_validation_error_is_stored_and_replayed(api):
    key = str(uuid.uuid4())
    body = {"data": {"customer": {"name": "Acme"}, "items": [], "total": "free"}}
    first = post(api, "/v1/templates/invoice/render", key, body)
    assert first.status_code == 400 and first.json()["error"]["code"] == "invalid_input_data"
    again = post(api, "/v1/templates/invoice/render", key, body)
    assert (again.status_code, again.content) == (400, first.content)
    assert again.headers["idempotent-replayed"] == "true"


def test_the_same_key_with_another_body_is_422(api):
    key = str(uuid.uuid4())
    assert post(api, "/v1/templates", key, {"slug": "first"}).status_code == 201
    reused = post(api, "/v1/templates", key, {"slug": "second"})
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    other_path = post(api, "/v1/webhooks", key, {"slug": "first"})
    assert other_path.json()["error"]["code"] == "idempotency_key_reused"
    assert api.http.get("/v1/templates/second").status_code == 404


def test_concurrent_requests_with_one_key_make_one_render(stack, api):
    key = str(uuid.uuid4())
    body = {"data": invoice()}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(api, "/v1/templates/invoice/render", key, body),
                                range(8)))
    accepted = [a for a in answers if a.status_code == 202]
    in_use = [a for a in answers if a.status_code == 409]
    assert len(accepted) + len(in_use) == 8, [a.text for a in answers]
    assert accepted and {a.json()["id"] for a in accepted} == {accepted[0].json()["id"]}
    assert {a.json()["error"]["code"] for a in in_use} <= {"idempotency_key_in_use"}
    assert renders_of(stack, api.project_id) == 1


def test_concurrent_creates_with_one_key_make_one_webhook(api, receiver):
    key, body = str(uuid.uuid4()), {"url": f"{receiver.base}/hook"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(api, "/v1/webhooks", key, body), range(8)))
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1 and webhook_ids(api) == list(created)


def test_a_5xx_is_not_stored_and_a_retry_after_the_backend_returns_runs(stack, api):
    key = str(uuid.uuid4())
    body = {"data": invoice()}
    stack.kill_service("enqueue", signal.SIGTERM)
    try:
        down = post(api, "/v1/templates/invoice/render", key, body)
        assert down.status_code == 503, down.text
    finally:
        stack.start_service("enqueue")
        stack.wait_ready(names=["enqueue"], timeout=60)
    retried = eventually(lambda: (r := post(api, "/v1/templates/invoice/render", key, body))
                         .status_code != 503 and r, what="the gateway reaching enqueue again")
    assert retried.status_code == 202, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert renders_of(stack, api.project_id) == 1


def test_another_projects_same_key_is_independent(stack, api):
    key = str(uuid.uuid4())
    assert post(api, "/v1/templates", key, {"slug": "mine"}).status_code == 201
    other = new_api(stack)
    try:
        theirs = post(other, "/v1/templates", key, {"slug": "theirs"})
        assert theirs.status_code == 201, theirs.text
        assert "idempotent-replayed" not in theirs.headers
    finally:
        other.close()


@pytest.mark.parametrize("key", ["x" * 256, b"caf\xc3\xa9"])
def test_a_malformed_key_is_400_naming_the_header(api, key):
    answer = api.http.post("/v1/templates", json={"slug": "never"},
                           headers={"idempotency-key": key})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and "Idempotency-Key" in error["message"]
    assert api.http.get("/v1/templates/never").status_code == 404


def test_without_a_key_nothing_changes(api):
    assert api.http.post("/v1/templates", json={"slug": "plain"}).status_code == 201
    again = api.http.post("/v1/templates", json={"slug": "plain"})
    assert again.status_code == 409 and "idempotent-replayed" not in again.headers
