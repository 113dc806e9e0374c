"""API keys over REST (services/gateway/routes/keys.py): made with a name and scopes and shown
once, listed without secrets, revoked for every gateway within KEY_CACHE_SECONDS; only full keys
manage keys, and a project keeps at least one full key."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from craftkit.v1 import projects_pb2, projects_pb2_grpc
from tests.integration.conftest import eventually, new_api

REVOCATION_DEADLINE = 10
"""KEY_CACHE_SECONDS (5 by default) and room for a loaded machine."""


def bearer(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}


def make(api, **body) -> dict:
    response = api.http.post("/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def keys(api, **params) -> list[dict]:
    response = api.http.get("/v1/keys", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_new_key_is_shown_once_and_does_what_its_scopes_allow(api):
    made = make(api, name="partner", scopes=["download"])
    assert (made["name"], made["scopes"], made["key"][:12]) == (
        "partner", ["download"], made["prefix"])
    assert made["lastUsedAt"] is None and made["revokedAt"] is None
    listed = api.http.get("/v1/keys").json()
    assert listed["nextCursor"] is None
    assert [k["id"] for k in listed["data"]][0] == made["id"]
    assert "key" not in listed["data"][0] and made["key"] not in str(listed)
    refused = api.http.get("/v1/templates", headers=bearer(made["key"]))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    assert "'full'" in refused.json()["error"]["message"]
    render = api.render({"customer": {"name": "Partner"}, "items": [], "total": 0}).json()
    read = api.http.get(f"/v1/renders/{render['id']}", headers=bearer(made["key"]))
    assert read.status_code == 200 and read.json()["id"] == render["id"]
    used = {k["id"]: k for k in keys(api)}[made["id"]]
    assert used["lastUsedAt"] is not None


def test_no_scopes_make_a_full_key(api):
    made = make(api, name="ci")
    assert made["scopes"] == ["full"]
    listed = httpx.get(f"{api.stack.base_url}/v1/keys", headers=bearer(made["key"]))
    assert listed.status_code == 200


ALLOWED = "full, render, download"


@pytest.mark.parametrize("body, said", [
    ({"scopes": ["admin"]}, ALLOWED), ({"scopes": []}, ALLOWED), ({"scopes": [None]}, ALLOWED),
    ({"scopes": "full"}, "scopes: Expected array"), ({"name": "x" * 201}, "name"),
    ({"name": 7}, "name: Expected string"), ({"owner": "me"}, "owner: Unrecognized key")])
def test_a_bad_body_is_400_saying_what_to_fix_and_makes_nothing(api, body, said):
    before = [k["id"] for k in keys(api)]
    response = api.http.post("/v1/keys", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and said in error["message"], error
    assert [k["id"] for k in keys(api)] == before


def test_pages_of_keys_follow_each_other(api):
    made = [make(api, name=f"k{i}")["id"] for i in range(3)]
    seen, cursor = [], None
    while True:
        page = api.http.get("/v1/keys", params={"limit": 2, "cursor": cursor or ""}).json()
        seen += [k["id"] for k in page["data"]]
        if not (cursor := page["nextCursor"]):
            break
    assert seen[:3] == made[::-1] and len(seen) == 4
    for params in ({"limit": 0}, {"limit": "many"}, {"cursor": str(uuid.uuid4())}):
        assert api.http.get("/v1/keys", params=params).status_code == 400


def test_a_key_revoked_through_rest_is_refused_by_every_gateway(stack, api):
    """One gateway revokes; another, which verified the key a moment before, refuses it within
    KEY_CACHE_SECONDS (polled with a deadline); the revoking one at once."""
    doomed = make(api, name="leaked", scopes=["render"])
    with stack.extra("gateway", {}) as other:
        other_url = f"http://127.0.0.1:{other.split(':')[1]}"
        assert httpx.get(f"{other_url}/v1/renders/{uuid.uuid4()}",
                         headers=bearer(doomed["key"])).status_code == 404  # cached there
        revoked = api.http.delete(f"/v1/keys/{doomed['id']}")
        assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None
        here = api.http.get(f"/v1/renders/{uuid.uuid4()}", headers=bearer(doomed["key"]))
        assert here.status_code == 401
        eventually(lambda: httpx.get(f"{other_url}/v1/renders/{uuid.uuid4()}",
                                     headers=bearer(doomed["key"])).status_code == 401,
                   timeout=REVOCATION_DEADLINE, what="the other gateway refusing the key")
    again = api.http.delete(f"/v1/keys/{doomed['id']}")
    assert (again.status_code, again.json()["revokedAt"]) == (200, revoked.json()["revokedAt"])
    assert {k["id"]: k for k in keys(api)}[doomed["id"]]["revokedAt"] == again.json()["revokedAt"]


def test_a_key_may_revoke_itself_but_not_the_projects_last_full_key(api):
    own = keys(api)[-1]  # the project's first key, the one api.http sends
    refused = api.http.delete(f"/v1/keys/{own['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert "last" in refused.json()["error"]["message"]
    spare = make(api, name="spare")
    assert api.http.delete(f"/v1/keys/{own['id']}").status_code == 200
    assert api.http.get("/v1/keys").status_code == 401
    assert httpx.get(f"{api.stack.base_url}/v1/keys",
                     headers=bearer(spare["key"])).status_code == 200


def test_another_projects_key_is_404_and_keeps_working(api):
    other = new_api(api.stack)
    try:
        theirs = keys(other)[0]["id"]
        for key_id in (theirs, str(uuid.uuid4()), "not-an-id"):
            assert api.http.delete(f"/v1/keys/{key_id}").status_code == 404
        assert other.http.get("/v1/keys").status_code == 200
        assert theirs not in {k["id"] for k in keys(api)}
    finally:
        other.close()


def test_a_revocation_does_not_wait_for_the_projects_other_writes(stack, api):
    # Every insert of a row naming the project (a render, a template, a key) holds the lock a
    # foreign key check takes on the project's row until its transaction ends. Revocations of
    # one project take turns on that row, but must not queue behind (or stall) its renders.
    made = make(api, name="partner", scopes=["download"])
    with psycopg.connect(stack.infra.database_url) as writer:
        writer.execute("SELECT 1 FROM projects WHERE id = %s FOR KEY SHARE", (api.project_id,))
        revoked = api.http.delete(f"/v1/keys/{made['id']}")
        writer.rollback()
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revokedAt"] is not None



def active_full_keys(stack, project_id: str) -> int:
    with stack.channel("status") as channel:
        listed = projects_pb2_grpc.ProjectServiceStub(channel).ListApiKeys(
            projects_pb2.ListApiKeysRequest(project_id=project_id), timeout=10)
    return sum(1 for k in listed.keys if not k.revoked_at_ms and "full" in k.scopes)



def revocations_waiting(stack) -> int:
    """Revocations blocked on a lock: on the key's row, or on their turn (the project's row)."""
    with psycopg.connect(stack.infra.database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
            "(query LIKE 'UPDATE api_keys SET revoked_at%' "
            "OR query LIKE 'SELECT 1 FROM projects WHERE id = % FOR NO KEY UPDATE')"
        ).fetchone()[0]


@pytest.mark.parametrize("who", ["each revokes itself", "each revokes the other"])
def test_two_last_full_keys_revoked_at_once_leave_one(stack, who):
    # Both revocations are held (the keys' rows locked by another writer until both wait), so
    # without taking turns each would have read the other key as active before either commits.
    # Both keys were just used: the gateway has them cached and asks nothing meanwhile.
    api = new_api(stack)
    first = {k["name"]: k["id"] for k in keys(api)}["default"]
    second = make(api, name="second")
    assert httpx.get(f"{stack.base_url}/v1/keys", headers=bearer(second["key"])).is_success
    targets = [first, second["id"]]
    if who == "each revokes the other":
        targets.reverse()
    with psycopg.connect(stack.infra.database_url) as writer, ThreadPoolExecutor(2) as pool:
        writer.execute("SELECT 1 FROM api_keys WHERE project_id = %s FOR UPDATE",
                       (api.project_id,))
        answers = [pool.submit(httpx.delete, f"{stack.base_url}/v1/keys/{target}",
                               headers=bearer(key), timeout=30)
                   for key, target in zip([api.key, second["key"]], targets)]
        eventually(lambda: revocations_waiting(stack) == 2, what="both revocations waiting")
        writer.rollback()
        codes = [a.result().status_code for a in answers]
    assert codes.count(200) == 1, [a.result().text for a in answers]
    assert active_full_keys(stack, api.project_id) == 1
    api.close()


@pytest.mark.parametrize("order", ["full first", "download first"])
def test_two_authorization_headers_are_401_whichever_comes_first(api, order):
    # A proxy in front may read the other one than the gateway: no request means two keys.
    partner = make(api, name="partner", scopes=["download"])["key"]
    sent = [api.key, partner] if order == "full first" else [partner, api.key]
    response = httpx.get(f"{api.stack.base_url}/v1/keys",
                         headers=[("authorization", f"Bearer {key}") for key in sent])
    assert response.status_code == 401, response.text
    assert "one Authorization header" in response.json()["error"]["message"]
