"""ProjectService over real gRPC and PostgreSQL: keys with names and scopes, listed without their
secret, revoked for good, and Authenticate naming the key and its scopes."""

from __future__ import annotations

import hashlib
import uuid

import grpc
import pytest

from craftkit.v1 import projects_pb2, projects_pb2_grpc
from tests.integration.conftest import eventually, new_api


@pytest.fixture
def projects(stack):
    with stack.channel("status") as channel:
        yield projects_pb2_grpc.ProjectServiceStub(channel)


def create(projects, project_id: str, *scopes: str,
           name: str = "") -> projects_pb2.CreateApiKeyResponse:
    return projects.CreateApiKey(projects_pb2.CreateApiKeyRequest(
        project_id=project_id, name=name, scopes=scopes), timeout=10)


def authenticate(projects, key: str) -> projects_pb2.Project:
    return projects.Authenticate(projects_pb2.AuthenticateRequest(
        key_sha256=hashlib.sha256(key.encode()).hexdigest()), timeout=10)


def revoke(projects, project_id: str, key_id: str, keep: bool = False) -> projects_pb2.ApiKey:
    return projects.RevokeApiKey(projects_pb2.RevokeApiKeyRequest(
        project_id=project_id, key_id=key_id, keep_a_full_key=keep), timeout=10)


def listed(projects, project_id: str, limit: int = 0, cursor: str = ""):
    return projects.ListApiKeys(projects_pb2.ListApiKeysRequest(
        project_id=project_id, limit=limit, cursor=cursor), timeout=10)


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_a_key_carries_its_name_and_scopes_and_authenticate_names_them(projects, api):
    created = create(projects, api.project_id, "download", "render", "download", name="partner")
    assert list(created.key.scopes) == ["render", "download"]
    assert (created.key.name, created.key.prefix) == ("partner", created.api_key[:12])
    found = authenticate(projects, created.api_key)
    assert (found.id, found.key_id, list(found.scopes)) == (
        api.project_id, created.key.id, ["render", "download"])
    first = authenticate(projects, api.key)
    assert list(first.scopes) == ["full"] and first.key_id not in ("", created.key.id)


def test_no_scopes_means_full_and_an_unknown_scope_is_refused_naming_the_allowed(projects, api):
    assert list(create(projects, api.project_id).key.scopes) == ["full"]
    before = len(listed(projects, api.project_id).keys)
    error = refused(lambda: create(projects, api.project_id, "render", "admin"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'admin'" in error.details() and "full, render, download" in error.details()
    assert len(listed(projects, api.project_id).keys) == before


def test_the_list_shows_keys_newest_first_without_secrets_and_marks_use(projects, api):
    key = create(projects, api.project_id, "download", name="reader")
    shown = listed(projects, api.project_id).keys
    assert [k.name for k in shown] == ["reader", "default"]
    assert shown[0].last_used_at_ms == 0
    everything = str(listed(projects, api.project_id))
    assert key.api_key not in everything
    assert hashlib.sha256(key.api_key.encode()).hexdigest() not in everything
    authenticate(projects, key.api_key)
    assert listed(projects, api.project_id).keys[0].last_used_at_ms >= key.key.created_at_ms


def test_pages_follow_each_other_across_inserts(projects, api):
    made = [create(projects, api.project_id, name=f"k{i}").key.id for i in range(5)]
    first = authenticate(projects, api.key).key_id
    pages, cursor = [], ""
    while True:
        page = listed(projects, api.project_id, limit=2, cursor=cursor)
        pages.append([k.id for k in page.keys])
        create(projects, api.project_id, name="newer")  # newest: before the first page
        if not (cursor := page.next_cursor):
            break
    assert pages == [made[4:2:-1], made[2:0:-1], [made[0], first]]


def test_a_cursor_from_another_project_or_made_up_is_refused(projects, api):
    other = new_api(api.stack)
    try:
        cursor = listed(projects, other.project_id).keys[0].id
    finally:
        other.close()
    for bad in (cursor, str(uuid.uuid4()), "not-a-cursor"):
        error = refused(lambda bad=bad: listed(projects, api.project_id, cursor=bad))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "cursor" in error.details()


def test_a_revoked_key_stops_working_and_revoking_again_answers_the_same(projects, api):
    key = create(projects, api.project_id, "render")
    revoked = revoke(projects, api.project_id, key.key.id)
    assert revoked.revoked_at_ms > 0
    assert revoke(projects, api.project_id, key.key.id).revoked_at_ms == revoked.revoked_at_ms
    error = refused(lambda: authenticate(projects, key.api_key))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    shown = {k.id: k for k in listed(projects, api.project_id).keys}
    assert shown[key.key.id].revoked_at_ms == revoked.revoked_at_ms


def test_another_projects_key_is_not_found_and_stays_valid(projects, api):
    other = new_api(api.stack)
    try:
        their_key = authenticate(projects, other.key).key_id
        for key_id in (their_key, str(uuid.uuid4()), "nope"):
            error = refused(lambda key_id=key_id: revoke(projects, api.project_id, key_id))
            assert error.code() == grpc.StatusCode.NOT_FOUND
        assert authenticate(projects, other.key).id == other.project_id
    finally:
        other.close()


def test_the_last_full_key_is_kept_when_asked_and_revoked_by_the_operator(projects, api):
    first = authenticate(projects, api.key).key_id
    create(projects, api.project_id, "render")
    error = refused(lambda: revoke(projects, api.project_id, first, keep=True))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "full" in error.details()
    assert authenticate(projects, api.key).key_id == first
    second = create(projects, api.project_id, "full")
    assert revoke(projects, api.project_id, first, keep=True).revoked_at_ms > 0
    assert revoke(projects, api.project_id, second.key.id).revoked_at_ms > 0
    eventually(lambda: refused(lambda: authenticate(projects, second.api_key)).code()
               == grpc.StatusCode.UNAUTHENTICATED, what="the operator's revocation")
