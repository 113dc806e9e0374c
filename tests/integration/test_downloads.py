"""Getting a PDF without a public bucket: DownloadService's presigned URLs and share links, against
the real status service, PostgreSQL and S3."""

from __future__ import annotations

import io
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import grpc
import httpx
import psutil
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from uuid6 import uuid7

from craftkit import errors
from craftkit.devstack import BUCKET, Infra, Stack
from craftkit.v1 import downloads_pb2 as D
from craftkit.v1 import downloads_pb2_grpc
from tests.integration.conftest import FAST_RECOVERY, eventually, invoice, new_api, s3


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


def render_row(stack, project_id: str, status: str, filename: str = "invoice.pdf") -> str:
    """A render of the project's invoice template recorded `status` and left there: never
    published to Kafka ("infinity": the sweeper never finds it stale), so no worker takes it."""
    render_id = str(uuid7())
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO renders (id, project_id, template_id, version_number, data, filename, "
            "status, published_at) SELECT %s, project_id, id, published_version, '{}', %s, %s, "
            "'infinity' FROM templates WHERE project_id = %s AND slug = 'invoice'",
            (render_id, filename, status, project_id))
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


# --- DOWNLOAD_URL_MODE=presigned --------------------------------------------------------------

PRESIGNED_TTL = 3


@pytest.fixture(scope="module")
def presigned(stack, tmp_path_factory):
    """A second set of the five services started with DOWNLOAD_URL_MODE=presigned and a 3 s TTL,
    on a database of its own (on the same PostgreSQL server), topics and consumer groups of its
    own (on the same broker) and the same S3, with no public base: a private bucket's setup."""
    database = f"presigned_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.infra.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    infra = Infra(tmp_path_factory.mktemp("presigned"),
                  database_url=make_conninfo(stack.infra.database_url, dbname=database),
                  kafka_bootstrap=stack.infra.kafka_bootstrap,
                  s3_endpoint=stack.infra.s3_endpoint).start()
    second = Stack(infra, env_overrides={
        **FAST_RECOVERY, "DOWNLOAD_URL_MODE": "presigned",
        "DOWNLOAD_URL_TTL_SECONDS": str(PRESIGNED_TTL), "S3_PUBLIC_BASE_URL": "",
        "KAFKA_JOBS_TOPIC": f"{database}.jobs", "KAFKA_EVENTS_TOPIC": f"{database}.events",
        "WORKER_GROUP": f"{database}-workers", "WEBHOOKS_GROUP": f"{database}-webhooks"})
    try:
        second.start()
        api = new_api(second)
        yield api
        api.close()
    finally:
        second.stop()
        with psycopg.connect(stack.infra.database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')


def test_presigned_download_urls_work_expire_and_are_fresh_at_each_get(presigned):
    created = presigned.render(invoice()).json()
    assert created["downloadUrl"] is None
    presigned.wait(created["id"])
    first = presigned.http.get(created["pollUrl"]).json()["downloadUrl"]
    assert "X-Amz-Signature=" in first and f"X-Amz-Expires={PRESIGNED_TTL}" in first
    pdf = httpx.get(first, timeout=10)  # no key, no header: the URL is the credential
    assert pdf.status_code == 200
    assert pdf.content == stored_pdf(presigned.stack, created["id"])
    eventually(lambda: httpx.get(first, timeout=10).status_code == 403, timeout=30,
               what="the presigned URL expiring")

    # The gateway's cache of finished renders never hands out a URL past its life.
    again = presigned.http.get(created["pollUrl"]).json()["downloadUrl"]
    assert again != first and httpx.get(again, timeout=10).status_code == 200


def test_webhooks_carry_a_presigned_download_url(presigned, receiver):
    hook = presigned.http.post("/v1/webhooks", json={"url": f"{receiver.base}/presigned"})
    assert hook.status_code == 201
    created = presigned.render(invoice()).json()
    [delivery] = eventually(lambda: receiver.at("/presigned"), timeout=60, what="the webhook")
    url = json.loads(delivery.body)["downloadUrl"]
    assert "X-Amz-Signature=" in url
    assert httpx.get(url, timeout=10).content == stored_pdf(presigned.stack, created["id"])


# --- REST: GET /v1/renders/{id}/download ------------------------------------------------------

def test_download_streams_the_stored_pdf_with_its_headers(stack, api):
    render_id = succeeded(api)
    response = api.http.get(f"/v1/renders/{render_id}/download")
    stored = stored_pdf(stack, render_id)
    assert response.status_code == 200 and response.content == stored
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(stored))
    assert response.headers["accept-ranges"] == "bytes" and response.headers["etag"]
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf")


def test_a_range_request_gets_206_with_those_bytes(stack, api):
    render_id = succeeded(api)
    stored = stored_pdf(stack, render_id)
    path = f"/v1/renders/{render_id}/download"
    middle = api.http.get(path, headers={"range": "bytes=100-199"})
    assert middle.status_code == 206 and middle.content == stored[100:200]
    assert middle.headers["content-range"] == f"bytes 100-199/{len(stored)}"
    assert middle.headers["content-length"] == "100"
    tail = api.http.get(path, headers={"range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == stored[-50:]
    outside = api.http.get(path, headers={"range": f"bytes={len(stored) + 10}-"})
    assert outside.status_code == 416 and outside.content == b""


def test_if_none_match_with_the_etag_is_304_and_if_range_is_honoured(stack, api):
    render_id = succeeded(api)
    path = f"/v1/renders/{render_id}/download"
    etag = api.http.get(path).headers["etag"]
    cached = api.http.get(path, headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    changed = api.http.get(path, headers={"if-none-match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == stored_pdf(stack, render_id)
    # If-Range: the range while the client's part is of this file, else the whole file.
    part = api.http.get(path, headers={"range": "bytes=0-9", "if-range": etag})
    assert part.status_code == 206 and part.content == stored_pdf(stack, render_id)[:10]
    whole = api.http.get(path, headers={"range": "bytes=0-9", "if-range": '"stale"'})
    assert whole.status_code == 200 and whole.content == stored_pdf(stack, render_id)


@pytest.mark.parametrize("headers", [
    {"range": b"bytes=0-\xff"}, {"if-none-match": b'"\xe9"'},
    {"range": b"bytes=0-9", "if-range": b"\xe9t\xe9"}, {"range": b"bytes=0-9", "if-range": b"junk"},
    {"range": b"bytes=0-9", "if-range": b"Tue, 99 Foo 2026 25:61:61 GMT"}])
def test_malformed_conditional_or_range_headers_get_the_whole_pdf(stack, api, headers):
    """A Range or validator no server could parse (non-ASCII bytes, an If-Range neither an ETag
    nor a date) is ignored as RFC 9110 says: the whole PDF, never a 500 or a 503 to retry."""
    render_id = succeeded(api)
    response = api.http.get(f"/v1/renders/{render_id}/download", headers=headers)
    assert response.status_code == 200, response.text
    assert response.content == stored_pdf(stack, render_id)


def test_head_answers_the_headers_alone(stack, api):
    render_id = succeeded(api)
    response = api.http.head(f"/v1/renders/{render_id}/download")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(stored_pdf(stack, render_id)))
    assert response.headers["content-type"] == "application/pdf"


@pytest.mark.parametrize("status, code", [("queued", "render_not_ready"),
                                          ("rendering", "render_not_ready"),
                                          ("failed", "render_failed")])
def test_a_render_without_a_pdf_is_409(stack, api, status, code):
    render_id = render_row(stack, api.project_id, status)
    response = api.http.get(f"/v1/renders/{render_id}/download")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == code and status in error["message"]


def test_another_projects_render_is_404_and_no_key_is_401(stack, api):
    render_id = succeeded(api)
    other = new_api(stack)
    try:
        assert other.http.get(f"/v1/renders/{render_id}/download").status_code == 404
        assert other.http.post(f"/v1/renders/{render_id}/share-links", json={}).status_code == 404
        assert other.http.get(f"/v1/renders/{render_id}/share-links").status_code == 404
    finally:
        other.close()
    assert httpx.get(f"{stack.base_url}/v1/renders/{render_id}/download").status_code == 401


def succeeded_row(stack, project_id: str, filename: str, content: bytes) -> str:
    """A succeeded render whose PDF is `content` at renders/<id>/<filename>, recorded directly:
    names the render path refuses (a newline) still cannot break the download's headers."""
    render_id = render_row(stack, project_id, "queued", filename)
    key = f"renders/{render_id}/{filename}"
    s3(stack).put_object(BUCKET, key, io.BytesIO(content), len(content),
                         content_type="application/pdf")
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        conn.execute("UPDATE renders SET status = 'rendering', attempt = 1 WHERE id = %s",
                     (render_id,))
        conn.execute("UPDATE renders SET status = 'succeeded', object_key = %s, completed_at = "
                     "now(), duration_ms = 1 WHERE id = %s", (key, render_id))
    return render_id


@pytest.mark.parametrize("filename", [
    'Rechnung "März" 2026.pdf', "請求書.pdf", 'x.pdf"\r\nSet-Cookie: a=b; "',
    "a%22b\\c;d,e.pdf"])
def test_filenames_reach_the_client_exactly_and_inject_nothing(stack, api, filename):
    render_id = succeeded_row(stack, api.project_id, filename, b"%PDF-1.4 test")
    response = api.http.get(f"/v1/renders/{render_id}/download")
    assert response.status_code == 200 and response.content == b"%PDF-1.4 test"
    assert "set-cookie" not in response.headers
    disposition = response.headers["content-disposition"]
    assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == filename


def test_an_s3_failure_is_503_never_s3s_answer(stack, api):
    render_id = succeeded_row(stack, api.project_id, "gone.pdf", b"%PDF")
    s3(stack).remove_object(BUCKET, f"renders/{render_id}/gone.pdf")
    response = api.http.get(f"/v1/renders/{render_id}/download")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


# --- REST: share links ------------------------------------------------------------------------

def share(api, render_id: str, **body) -> dict:
    response = api.http.post(f"/v1/renders/{render_id}/share-links", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_share_link_downloads_without_a_key_until_its_downloads_run_out(stack, api):
    render_id = succeeded(api)
    link = share(api, render_id, maxDownloads=2)
    assert set(link) == {"id", "url", "expiresAt", "maxDownloads", "downloads", "createdAt"}
    assert link["url"].startswith(f"{stack.base_url}/s/") and link["maxDownloads"] == 2
    assert link["downloads"] == 0
    stored = stored_pdf(stack, render_id)
    for _ in range(2):
        opened = httpx.get(link["url"], timeout=10)  # no Authorization header
        assert opened.status_code == 200 and opened.content == stored
        assert opened.headers["content-type"] == "application/pdf"
    third = httpx.get(link["url"], timeout=10)
    assert third.status_code == 410 and third.headers["content-type"] == "application/json"
    assert third.json()["error"]["code"] == "link_expired"
    [listed] = api.http.get(f"/v1/renders/{render_id}/share-links").json()["links"]
    assert listed["downloads"] == 2 and "url" not in listed


def test_a_share_link_post_retried_with_its_idempotency_key_makes_one_link(api):
    render_id = succeeded(api)
    url = f"/v1/renders/{render_id}/share-links"
    first, again = (api.http.post(url, json={"maxDownloads": 3},
                                  headers={"idempotency-key": "share-once"}) for _ in range(2))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert [link["id"] for link in api.http.get(url).json()["links"]] == [first.json()["id"]]


def test_a_revoked_share_link_is_410(stack, api):
    render_id = succeeded(api)
    link = share(api, render_id)
    assert link["maxDownloads"] is None
    revoked = api.http.delete(f"/v1/renders/{render_id}/share-links/{link['id']}")
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    response = httpx.get(link["url"], timeout=10)
    assert response.status_code == 410 and response.json()["error"]["code"] == "link_expired"


def test_a_share_link_expires(stack, api):
    link = share(api, succeeded(api), expiresIn=1)
    eventually(lambda: httpx.get(link["url"], timeout=10).status_code == 410, timeout=15,
               what="the 1 s link expiring")


def test_an_unknown_share_link_is_404(stack):
    response = httpx.get(f"{stack.base_url}/s/{'A' * 43}", timeout=10)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body, field", [
    ({"expiresIn": 0}, "expiresIn"), ({"expiresIn": 90 * 86400 + 1}, "expiresIn"),
    ({"expiresIn": "7d"}, "expiresIn"), ({"expiresIn": 1.5}, "expiresIn"),
    ({"maxDownloads": 0}, "maxDownloads"), ({"maxDownloads": 2**40}, "maxDownloads"),
    ({"maxDownloads": True}, "maxDownloads"), ({"expires": 60}, "expires"),
])
def test_bad_share_link_terms_are_400_naming_the_field(stack, api, body, field):
    render_id = succeeded(api)
    response = api.http.post(f"/v1/renders/{render_id}/share-links", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["issues"]["fieldErrors"]
    assert api.http.get(f"/v1/renders/{render_id}/share-links").json()["links"] == []


def test_no_share_link_for_a_render_without_a_pdf(stack, api):
    render_id = render_row(stack, api.project_id, "queued")
    response = api.http.post(f"/v1/renders/{render_id}/share-links", json={})
    assert response.status_code == 409 and response.json()["error"]["code"] == "render_not_ready"


def test_a_large_pdf_streams_through_without_the_gateway_holding_it(stack, api):
    """A 48 MiB object, read by a client that stops after its first chunk: a gateway that
    buffered whole would hold it all by then; one that streams holds what the sockets buffer."""
    size = 48 * 1024 * 1024
    render_id = succeeded_row(stack, api.project_id, "big.pdf", b"%PDF" + b"\0" * (size - 4))
    gateway = psutil.Process(stack.processes["gateway"].pid)
    before = gateway.memory_info().rss
    with api.http.stream("GET", f"/v1/renders/{render_id}/download") as response:
        assert response.status_code == 200 and response.headers["content-length"] == str(size)
        chunks = response.iter_raw(64 * 1024)
        assert next(chunks).startswith(b"%PDF")
        # Watch the gateway's memory for a second while the client reads nothing more: a
        # buffering gateway reads the rest from S3 meanwhile (an observation window for
        # something that must not happen, not a wait for a step).
        grown = 0
        for _ in range(20):
            grown = max(grown, gateway.memory_info().rss - before)
            time.sleep(0.05)
        assert grown < size // 2, f"the gateway grew by {grown} bytes"
        received = 64 * 1024 + sum(len(chunk) for chunk in chunks)
    assert received == size


def test_a_client_going_away_mid_download_closes_the_gateways_s3_connection(stack, api):
    size = 48 * 1024 * 1024
    render_id = succeeded_row(stack, api.project_id, "abandoned.pdf", b"%PDF" + b"\0" * (size - 4))
    gateway = psutil.Process(stack.processes["gateway"].pid)
    s3_port = int(stack.infra.s3_endpoint.rsplit(":", 1)[1])

    def to_s3() -> int:
        return sum(1 for c in gateway.net_connections("tcp")
                   if c.raddr and c.raddr.port == s3_port and c.status == psutil.CONN_ESTABLISHED)

    with httpx.Client(base_url=stack.base_url, headers={"authorization": f"Bearer {api.key}"},
                      timeout=30) as client:
        with client.stream("GET", f"/v1/renders/{render_id}/download") as response:
            assert response.status_code == 200
            chunks = response.iter_raw(64 * 1024)  # held: dropping it would close the response
            next(chunks)
            streaming = to_s3()
            assert streaming >= 1
    # The client's connection is closed with most of 48 MiB unread: the gateway lets S3's go too.
    eventually(lambda: to_s3() < streaming, timeout=10, what="the S3 connection closed")


def test_an_expired_render_is_410_on_download_and_on_its_share_links(stack, api, downloads):
    render_id = succeeded(api)
    link = share(api, render_id)
    assert httpx.get(link["url"], timeout=10).status_code == 200
    with psycopg.connect(stack.infra.database_url) as conn:  # what retention does to the row
        conn.execute("UPDATE renders SET expired_at = clock_timestamp(), data = '{}', "
                     "download_url = NULL WHERE id = %s", (render_id,))
    download = api.http.get(f"/v1/renders/{render_id}/download")
    assert download.status_code == 410, download.text
    assert download.json()["error"]["code"] == "render_expired"
    opened = httpx.get(link["url"], timeout=10)
    assert opened.status_code == 410 and opened.json()["error"]["code"] == "link_expired"
    refused = api.http.post(f"/v1/renders/{render_id}/share-links", json={})
    assert refused.status_code == 410 and refused.json()["error"]["code"] == "render_expired"


def test_one_projects_stalled_downloads_leave_other_projects_downloading(stack, api):
    """Clients that open downloads of a large PDF and never read hold a gateway-to-S3 connection
    each: one project's stalled streams are capped (429 beyond DOWNLOAD_STREAMS_PER_PROJECT, 20
    by default), so they cannot take the whole pool and turn every project's download into 503."""
    size = 16 * 1024 * 1024
    render_id = succeeded_row(stack, api.project_id, "stall.pdf", b"%PDF" + b"\0" * (size - 4))
    host, port = stack.base_url.split("://", 1)[1].rsplit(":", 1)
    request = (f"GET /v1/renders/{render_id}/download HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Bearer {api.key}\r\n\r\n").encode()
    other = new_api(stack)
    other_id = succeeded(other)
    stalled = []
    try:
        for _ in range(20):
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect((host, int(port)))
            client.sendall(request)
            assert client.recv(12) == b"HTTP/1.1 200"  # streaming, and never read further
            stalled.append(client)
        one_more = api.http.get(f"/v1/renders/{render_id}/download")
        assert one_more.status_code == 429, one_more.status_code
        assert one_more.json()["error"]["code"] == "rate_limited"
        assert "retry-after" in one_more.headers
        response = other.http.get(f"/v1/renders/{other_id}/download")
        assert response.status_code == 200
        assert response.content == stored_pdf(stack, other_id)
    finally:
        other.close()
        for client in stalled:
            client.close()
    # The stalled clients gone, their project downloads again.
    eventually(lambda: api.http.head(f"/v1/renders/{render_id}/download").status_code == 200,
               timeout=15, what="the project's streams released")


def test_a_client_that_stops_reading_is_dropped_and_frees_its_s3_connection(stack, api):
    """A client that accepts no byte for DOWNLOAD_STALL_SECONDS (10 s in these tests) is cut off:
    it cannot hold a connection to S3, nor one of its project's streams, for as long as it likes
    (a share link's holder, with no key, could otherwise block the project's downloads)."""
    size = 16 * 1024 * 1024
    render_id = succeeded_row(stack, api.project_id, "idle.pdf", b"%PDF" + b"\0" * (size - 4))
    gateway = psutil.Process(stack.processes["gateway"].pid)
    s3_port = int(stack.infra.s3_endpoint.rsplit(":", 1)[1])
    host, port = stack.base_url.split("://", 1)[1].rsplit(":", 1)

    def to_s3() -> int:
        return sum(1 for c in gateway.net_connections("tcp")
                   if c.raddr and c.raddr.port == s3_port and c.status == psutil.CONN_ESTABLISHED)

    idle = socket.socket()
    idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        idle.connect((host, int(port)))
        idle.sendall((f"GET /v1/renders/{render_id}/download HTTP/1.1\r\nHost: {host}\r\n"
                      f"Authorization: Bearer {api.key}\r\n\r\n").encode())
        assert idle.recv(12) == b"HTTP/1.1 200"
        streaming = to_s3()
        assert streaming >= 1
        eventually(lambda: to_s3() < streaming, timeout=40, what="the idle client dropped")
        idle.settimeout(10)
        received = 12
        while chunk := idle.recv(1 << 20):  # what the buffers held, then the close
            received += len(chunk)
        assert received < size
    finally:
        idle.close()


def test_stalled_share_link_openers_leave_the_projects_own_downloads_alone(stack, api):
    """A share link's holders (anyone, no key) have their own DOWNLOAD_STREAMS_PER_PROJECT: 20
    of them stalled get the 21st a 429, and the project's keyed downloads still stream."""
    size = 16 * 1024 * 1024
    render_id = succeeded_row(stack, api.project_id, "shared.pdf", b"%PDF" + b"\0" * (size - 4))
    token = share(api, render_id)["url"].rsplit("/", 1)[1]
    host, port = stack.base_url.split("://", 1)[1].rsplit(":", 1)
    stalled = []
    try:
        for _ in range(20):
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect((host, int(port)))
            client.sendall(f"GET /s/{token} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            assert client.recv(12) == b"HTTP/1.1 200"
            stalled.append(client)
        assert httpx.get(f"{stack.base_url}/s/{token}", timeout=10).status_code == 429
        own = api.http.head(f"/v1/renders/{render_id}/download")
        assert own.status_code == 200, own.text
    finally:
        for client in stalled:
            client.close()
