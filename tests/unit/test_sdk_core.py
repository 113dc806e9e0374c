"""craftkit_client's shared core: which failures are retried and how (the same Idempotency-Key
and bytes; never a call that may have reached the server unless it can be resent), how error
answers read, the polling cadence, atomic downloads, and sync/async parity. The server is
httpx.MockTransport here: these are the failures the real stack will not produce on demand (a
503, a connection cut mid-download); tests/integration/test_sdk.py covers the rest."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import stat

import httpx
import pytest

from craftkit_client import (AsyncClient, Client, Conflict, NetworkError, RateLimited, RetryPolicy,
                             ServerError, UnexpectedAnswer, ValidationError, _async,
                             _client)
from craftkit_client._core import poll_delays

RENDER = {"id": "01a2", "status": "queued", "pollUrl": "http://api/v1/renders/01a2",
          "downloadUrl": None, "errorMessage": None, "createdAt": "2026-11-23T11:11:51.967Z"}
QUICK = RetryPolicy(initial_interval=0.001, max_interval=0.001)


class Server:
    """Answers each request with the next of `answers` (a Response, or an exception to raise),
    the last repeating, and keeps what it received."""

    def __init__(self, *answers) -> None:
        self.answers, self.requests = list(answers), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(server: Server, retry: RetryPolicy = QUICK) -> Client:
    return Client("http://api", "ck_live_test", retry=retry, transport=httpx.MockTransport(server))


def error(status: int, code: str, **headers) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"{code} happened"}},
                          headers=headers)


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(_client.time, "sleep", waits.append)
    return waits


def test_a_create_retried_after_a_503_sends_the_same_idempotency_key_and_bytes(slept):
    server = Server(error(503, "unavailable"), httpx.Response(202, json=RENDER))
    render = client(server).renders.create("invoice", {"total": 49.95})
    assert render.id == "01a2" and len(server.requests) == 2
    first, second = server.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.content == second.content == b'{"data":{"total":49.95}}'


def test_each_creating_call_gets_its_own_key_unless_given_one():
    server = Server(httpx.Response(202, json=RENDER))
    c = client(server)
    c.renders.create("invoice", {})
    c.renders.create("invoice", {})
    c.renders.create("invoice", {}, idempotency_key="mine")
    keys = [r.headers["idempotency-key"] for r in server.requests]
    assert keys[0] != keys[1] and keys[2] == "mine"


def test_a_call_that_cannot_be_resent_is_not_retried_once_it_may_have_arrived(slept):
    server = Server(error(503, "unavailable"), httpx.Response(200, json=RENDER))
    with pytest.raises(ServerError) as failed:
        client(server).renders.cancel("01a2")
    assert failed.value.code == "unavailable" and len(server.requests) == 1

    cut = Server(httpx.ReadTimeout("slow"), httpx.Response(200, json={}))
    with pytest.raises(NetworkError, match="PATCH /v1/webhooks/w1: ReadTimeout"):
        client(cut).webhooks.update("w1", enabled=False)
    assert len(cut.requests) == 1


def test_a_connection_never_made_is_retried_for_any_call(slept):
    server = Server(httpx.ConnectError("refused"), httpx.Response(200, json=RENDER))
    assert client(server).renders.cancel("01a2").id == "01a2"
    assert len(server.requests) == 2


def test_429_waits_retry_after_and_without_it_is_raised_at_once(slept):
    server = Server(error(429, "rate_limited", **{"retry-after": "2"}),
                    httpx.Response(200, json=RENDER))
    assert client(server).renders.get("01a2").id == "01a2"
    assert slept and slept[0] >= 2

    bare = Server(error(429, "rate_limited"))
    with pytest.raises(RateLimited) as limited:
        client(bare).renders.get("01a2")
    assert limited.value.retry_after is None and len(bare.requests) == 1


def test_retries_are_bounded_in_count_and_in_time(slept):
    server = Server(error(503, "unavailable"))
    with pytest.raises(ServerError):
        client(server, RetryPolicy(max_attempts=3, initial_interval=0.001)).renders.get("x")
    assert len(server.requests) == 3 and len(slept) == 2

    slept.clear()
    patient = Server(error(429, "rate_limited", **{"retry-after": "60"}))
    with pytest.raises(RateLimited) as limited:
        client(patient, RetryPolicy(max_elapsed=30)).renders.get("x")
    assert limited.value.retry_after == 60 and len(patient.requests) == 1 and not slept


def test_errors_carry_code_message_issues_and_request_id_and_read_well():
    issues = {"formErrors": ["Unrecognized key(s) in object: 'extra'"],
              "fieldErrors": {"items.0.qty": ["Expected integer, received float"]}}
    server = Server(httpx.Response(400, headers={"x-request-id": "req-7"}, json={"error": {
        "code": "invalid_input_data", "message": "data does not match", "issues": issues}}))
    with pytest.raises(ValidationError) as invalid:
        client(server).render("invoice", {"extra": 1})
    err = invalid.value
    assert (err.status, err.code, err.issues, err.request_id) == (
        400, "invalid_input_data", issues, "req-7")
    assert str(err) == ("400 invalid_input_data: data does not match (request id req-7)\n"
                        "  Unrecognized key(s) in object: 'extra'\n"
                        "  items.0.qty: Expected integer, received float")


def test_an_answer_that_is_not_the_envelope_keeps_its_status_and_an_excerpt():
    server = Server(httpx.Response(502, text="<html><body>Bad gateway from the proxy</body>"))
    with pytest.raises(ServerError) as failed:
        client(server, RetryPolicy(max_attempts=1)).templates.list()
    assert failed.value.code == "http_502" and "Bad gateway from the proxy" in str(failed.value)


def test_the_poll_cadence_is_the_seeds_200_ms_times_1_5_capped_at_1_s():
    assert [round(d, 3) for d in itertools.islice(poll_delays(), 7)] == [
        0.2, 0.3, 0.45, 0.675, 1.0, 1.0, 1.0]


class CutStream(httpx.SyncByteStream):
    """A PDF body whose connection breaks after the first chunk."""

    def __iter__(self):
        yield b"%PDF-1.4 first chunk"
        raise httpx.ReadError("connection reset")


def test_a_download_cut_short_leaves_no_file_and_a_complete_one_replaces_atomically(tmp_path):
    dest = tmp_path / "invoice.pdf"
    cut = Server(httpx.Response(200, stream=CutStream()))
    with pytest.raises(NetworkError, match="ReadError"):
        client(cut).renders.download("01a2", dest)
    assert list(tmp_path.iterdir()) == []

    dest.write_bytes(b"an older file")
    whole = Server(httpx.Response(200, content=b"%PDF-1.4 all of it"))
    assert client(whole).renders.download("01a2", dest) == 18
    assert dest.read_bytes() == b"%PDF-1.4 all of it" and list(tmp_path.iterdir()) == [dest]


def test_a_download_refused_raises_its_error_and_writes_nothing(tmp_path):
    server = Server(error(409, "render_not_ready"))
    with pytest.raises(Conflict) as refused:
        client(server).renders.download("01a2", tmp_path / "x.pdf")
    assert refused.value.code == "render_not_ready"
    assert list(tmp_path.iterdir()) == []


def test_the_client_without_url_or_key_says_where_they_come_from(monkeypatch, tmp_path):
    monkeypatch.delenv("CRAFTKIT_API_URL", raising=False)
    monkeypatch.delenv("CRAFTKIT_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="no CRAFTKIT_API_URL: .*dev.env"):
        Client()


NAMESPACES = ("renders", "templates", "webhooks", "keys", "share_links")


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_the_async_client_has_every_method_of_the_sync_one_with_the_same_parameters(namespace):
    sync = type(getattr(client(Server()), namespace))
    asyn = getattr(_async, sync.__name__)
    public = sorted(n for n in vars(sync) if not n.startswith("_"))
    assert public == sorted(n for n in vars(asyn) if not n.startswith("_"))
    for name in public:
        method = getattr(asyn, name)
        assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method), name
        assert (inspect.signature(getattr(sync, name)).parameters ==
                inspect.signature(method).parameters), name
    assert (inspect.signature(Client.render).parameters ==
            inspect.signature(AsyncClient.render).parameters)


def test_ids_slugs_and_names_stay_one_path_segment_each():
    """A name holding `/`, `..` or `?` cannot send the request to another route."""
    server = Server(httpx.Response(200, content=b"\x89PNG"))
    assert client(server).templates.get_asset("in voice", "../keys?x=1") == b"\x89PNG"
    assert server.requests[0].url.raw_path == b"/v1/templates/in%20voice/assets/..%2Fkeys%3Fx%3D1"


@pytest.mark.parametrize("answer", [
    httpx.Response(200, text="<html><body>Sign in to the corporate proxy</body></html>"),
    httpx.Response(200, json={"id": "01a2", "status": ["queued"]}),
    httpx.Response(200, json={"id": "01a2", "status": "queued", "createdAt": 1764000000}),
    httpx.Response(200, json={"id": "01a2", "status": "queued", "createdAt": "yesterday"}),
    httpx.Response(200, json=["01a2"]),
    httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000),
], ids=["html", "list-status", "number-time", "bad-time", "array", "deep"])
def test_a_success_answer_that_is_not_the_apis_is_unexpected_answer_never_a_bare_exception(
        answer):
    """The client may be pointed at anything: what it cannot read is one error of its own."""
    with pytest.raises(UnexpectedAnswer, match="GET /v1/renders/01a2: the 200 answer"):
        client(Server(answer)).renders.get("01a2")


@pytest.mark.parametrize("body", [{"data": "01a2"}, {"data": [], "nextCursor": {"a": 1}},
                                  {"data": [{"id": 7}]}, {"renders": []}])
def test_a_page_of_another_shape_is_unexpected_answer(body):
    with pytest.raises(UnexpectedAnswer):
        client(Server(httpx.Response(200, json=body))).renders.list()


def test_the_async_client_reads_answers_the_same_way():
    server = Server(httpx.Response(200, json={"id": 1}))
    http = AsyncClient("http://api", "ck_live_test", retry=QUICK,
                       transport=httpx.MockTransport(server))
    with pytest.raises(UnexpectedAnswer, match="Render.id is a JSON int, not str"):
        asyncio.run(http.renders.get("01a2"))


def test_dot_segments_stay_names_and_never_climb_to_another_route():
    """`..` as a key id must not become DELETE /v1, nor `.` a render id GET /v1/renders."""
    server = Server(httpx.Response(200, json={"id": "k1"}))
    api = client(server)
    api.keys.revoke("..")
    api.renders.get(".")
    api.templates.get_asset("invoice", "..")
    assert [r.url.raw_path for r in server.requests] == [
        b"/v1/keys/%2E%2E", b"/v1/renders/%2E", b"/v1/templates/invoice/assets/%2E%2E"]


@pytest.mark.parametrize("key", ["ck_live_secret\r", " ck_live_secret\n"])
def test_a_key_with_a_line_end_around_it_is_sent_without_it(key):
    server = Server(httpx.Response(200, json=RENDER))
    Client("http://api", key, transport=httpx.MockTransport(server)).renders.get("01a2")
    assert server.requests[0].headers["authorization"] == "Bearer ck_live_secret"


@pytest.mark.parametrize("key", ["ck_live_sec\nret", "ck_live_sec ret", "ck_live_ключ"])
def test_a_key_no_key_can_be_is_refused_without_printing_it(key):
    with pytest.raises(ValueError, match="CRAFTKIT_API_KEY holds") as refused:
        Client("http://api", key)
    assert "sec" not in str(refused.value) and "ключ" not in str(refused.value)


@pytest.mark.parametrize("url", ["localhost:8080", "http://[::1", "ftp://api", "http://",
                                 "not a url"])
def test_a_base_url_that_is_not_http_is_refused_at_once(url):
    with pytest.raises(ValueError, match="CRAFTKIT_API_URL is not an http"):
        Client(url, "ck_live_key")


def test_a_downloaded_file_gets_the_umasks_mode_like_any_new_file(tmp_path):
    umask = os.umask(0o022)
    try:
        dest = tmp_path / "invoice.pdf"
        client(Server(httpx.Response(200, content=b"%PDF-1.4"))).renders.download("01a2", dest)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_a_key_from_the_environment_is_never_sent_to_a_url_from_the_directorys_dev_env(
        monkeypatch, tmp_path):
    """A repository cloned from a stranger may hold .craftkit/dev.env naming its own server."""
    monkeypatch.delenv("CRAFTKIT_API_URL", raising=False)
    monkeypatch.setenv("CRAFTKIT_API_KEY", "ck_live_mine")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".craftkit").mkdir()
    (tmp_path / ".craftkit" / "dev.env").write_text("CRAFTKIT_API_URL=https://attacker.test\n")
    with pytest.raises(ValueError, match="dev.env's URL is used only with its own key"):
        Client()
    with pytest.raises(ValueError, match="dev.env's URL is used only with its own key"):
        Client(api_key="ck_live_typed")
    assert Client("https://mine.test").base_url == "https://mine.test"
    (tmp_path / ".craftkit" / "dev.env").write_text(
        "CRAFTKIT_API_URL=http://localhost:8080\nCRAFTKIT_API_KEY=ck_test_dev\n")
    monkeypatch.delenv("CRAFTKIT_API_KEY")
    assert Client().base_url == "http://localhost:8080"


def test_iterating_ends_when_the_server_hands_back_a_cursor_it_gave_before():
    """A broken or hostile server must not keep `renders.iter` (`craftkit renders list --all`)
    paging for ever."""
    server = Server(httpx.Response(200, json={"data": [RENDER], "nextCursor": "c1"}),
                    httpx.Response(200, json={"data": [RENDER], "nextCursor": "c2"}),
                    httpx.Response(200, json={"data": [RENDER], "nextCursor": "c1"}))
    with pytest.raises(UnexpectedAnswer, match="cursor 'c1' twice"):
        list(client(server).renders.iter())
    assert len(server.requests) == 3
    done = Server(httpx.Response(200, json={"data": [RENDER], "nextCursor": "c1"}),
                  httpx.Response(200, json={"data": [RENDER], "nextCursor": None}))
    assert len(list(client(done).renders.iter())) == 2
