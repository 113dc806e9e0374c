"""Getting a PDF without a public bucket: DownloadService's presigned URLs and share links, against
the real status service, PostgreSQL and S3."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import psycopg
import pytest
from uuid6 import uuid7

from craftkit import errors
from craftkit.devstack import BUCKET
from craftkit.v1 import downloads_pb2 as D
from craftkit.v1 import downloads_pb2_grpc
from tests.integration.conftest import eventually, invoice, new_api, s3


@pytest.fixture
def downloads(stack):
    with stack.channel("status") as channel:
        yield downloads_pb2_grpc.DownloadServiceStub(channel)


def succeeded(api, **options) -> str:
    created = api.render(invoice(), **options).json()
    api.wait(created["id"])
    return created["id"]


def stored_pdf(stack, render_id: str, filename: str = "invoice.pdf") -> bytes:
    response = s3(stack).get_object(BUCKET, f"renders/{render_id}/{filename}")
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def render_row(stack, project_id: str, status: str) -> str:
    """A render of the project's invoice template recorded `status` and left there: never
    published to Kafka ("infinity": the sweeper never finds it stale), so no worker takes it."""
    render_id = str(uuid7())
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO renders (id, project_id, template_id, version_number, data, filename, "
            "status, published_at) SELECT %s, project_id, id, published_version, '{}', "
            "'invoice.pdf', %s, 'infinity' FROM templates WHERE project_id = %s "
            "AND slug = 'invoice'", (render_id, status, project_id))
    return render_id


def error_code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), errors.from_rpc_error(caught.value).code


def test_get_download_gives_a_url_serving_the_stored_pdf(stack, api, downloads):
    render_id = succeeded(api, filename="Q3 report.pdf")
    download = downloads.GetDownload(D.GetDownloadRequest(project_id=api.project_id,
                                                          render_id=render_id), timeout=10)
    assert download.filename == "Q3 report.pdf" and download.render_id == render_id
    assert "X-Amz-Expires=60" in download.url
    fetched = httpx.get(download.url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == stored_pdf(stack, render_id, "Q3 report.pdf")


@pytest.mark.parametrize("status, code", [("queued", "render_not_ready"),
                                          ("rendering", "render_not_ready"),
                                          ("failed", "render_failed")])
def test_no_download_of_a_render_without_a_pdf(stack, api, downloads, status, code):
    render_id = render_row(stack, api.project_id, status)
    got = error_code(lambda: downloads.GetDownload(
        D.GetDownloadRequest(project_id=api.project_id, render_id=render_id), timeout=10))
    assert got == (grpc.StatusCode.FAILED_PRECONDITION, code)
    got = error_code(lambda: downloads.CreateShareLink(
        D.CreateShareLinkRequest(project_id=api.project_id, render_id=render_id), timeout=10))
    assert got == (grpc.StatusCode.FAILED_PRECONDITION, code)


def test_another_projects_render_is_not_found(stack, api, downloads):
    render_id = succeeded(api)
    other = new_api(stack)
    try:
        for call in (
                lambda: downloads.GetDownload(D.GetDownloadRequest(
                    project_id=other.project_id, render_id=render_id), timeout=10),
                lambda: downloads.CreateShareLink(D.CreateShareLinkRequest(
                    project_id=other.project_id, render_id=render_id), timeout=10),
                lambda: downloads.ListShareLinks(D.ListShareLinksRequest(
                    project_id=other.project_id, render_id=render_id), timeout=10)):
            assert error_code(call) == (grpc.StatusCode.NOT_FOUND, "not_found")
    finally:
        other.close()


def open_link(downloads, token: str):
    return downloads.OpenShareLink(D.OpenShareLinkRequest(token=token), timeout=10)


def test_a_share_link_is_stored_hashed_and_counts_each_open(stack, api, downloads):
    render_id = succeeded(api)
    link = downloads.CreateShareLink(D.CreateShareLinkRequest(
        project_id=api.project_id, render_id=render_id, max_downloads=2), timeout=10)
    assert len(link.token) >= 40 and link.max_downloads == 2 and link.downloads == 0
    with psycopg.connect(stack.infra.database_url) as conn:
        stored = conn.execute("SELECT token_sha256 FROM share_links WHERE id = %s",
                              (link.id,)).fetchone()[0]
    assert link.token not in stored
    for _ in range(2):
        opened = open_link(downloads, link.token)
        assert httpx.get(opened.url, timeout=10).content == stored_pdf(stack, render_id)
    assert error_code(lambda: open_link(downloads, link.token)) == (
        grpc.StatusCode.FAILED_PRECONDITION, "link_expired")
    [listed] = downloads.ListShareLinks(D.ListShareLinksRequest(
        project_id=api.project_id, render_id=render_id), timeout=10).links
    assert (listed.id, listed.downloads, listed.token) == (link.id, 2, "")


def test_concurrent_opens_never_exceed_max_downloads(stack, api, downloads):
    render_id = succeeded(api)
    link = downloads.CreateShareLink(D.CreateShareLinkRequest(
        project_id=api.project_id, render_id=render_id, max_downloads=3), timeout=10)

    def attempt(_) -> bool:
        try:
            open_link(downloads, link.token)
            return True
        except grpc.RpcError:
            return False

    with ThreadPoolExecutor(12) as pool:
        assert sum(pool.map(attempt, range(12))) == 3


def test_revoked_and_expired_links_are_link_expired_unknown_ones_not_found(stack, api, downloads):
    render_id = succeeded(api)
    revoked = downloads.CreateShareLink(D.CreateShareLinkRequest(
        project_id=api.project_id, render_id=render_id), timeout=10)
    short = downloads.CreateShareLink(D.CreateShareLinkRequest(
        project_id=api.project_id, render_id=render_id, expires_in_seconds=1), timeout=10)
    open_link(downloads, revoked.token)
    after = downloads.RevokeShareLink(D.RevokeShareLinkRequest(
        project_id=api.project_id, render_id=render_id, link_id=revoked.id), timeout=10)
    assert after.revoked_at_ms > 0
    assert error_code(lambda: open_link(downloads, revoked.token))[1] == "link_expired"

    def expired() -> bool:
        try:
            open_link(downloads, short.token)
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.FAILED_PRECONDITION
        return False

    eventually(expired, timeout=10, what="the 1 s link expiring")
    assert error_code(lambda: open_link(downloads, "x" * 43)) == (grpc.StatusCode.NOT_FOUND,
                                                                  "not_found")


@pytest.mark.parametrize("fields, problem", [
    ({"expires_in_seconds": -1}, "expiresIn must be 1 to 7776000"),
    ({"expires_in_seconds": 90 * 86400 + 1}, "expiresIn must be 1 to 7776000"),
    ({"max_downloads": -5}, "maxDownloads must be 1 to 1000000"),
])
def test_out_of_range_link_terms_are_refused_and_change_nothing(stack, api, downloads, fields,
                                                                problem):
    render_id = succeeded(api)
    with pytest.raises(grpc.RpcError) as caught:
        downloads.CreateShareLink(D.CreateShareLinkRequest(
            project_id=api.project_id, render_id=render_id, **fields), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in caught.value.details()
    assert not downloads.ListShareLinks(D.ListShareLinksRequest(
        project_id=api.project_id, render_id=render_id), timeout=10).links


def test_revoking_another_renders_link_is_not_found(stack, api, downloads):
    first, second = succeeded(api), succeeded(api)
    link = downloads.CreateShareLink(D.CreateShareLinkRequest(
        project_id=api.project_id, render_id=first), timeout=10)
    for link_id in (link.id, str(uuid.uuid4()), "not-a-uuid"):
        assert error_code(lambda lid=link_id: downloads.RevokeShareLink(D.RevokeShareLinkRequest(
            project_id=api.project_id, render_id=second, link_id=lid), timeout=10)) == (
            grpc.StatusCode.NOT_FOUND, "not_found")
    open_link(downloads, link.token)  # still good
