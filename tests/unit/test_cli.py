"""The REST commands' parts that need no server: the help and its exit codes, the template
folder, tables that fit a terminal, issue lines, the progress line, and settings that are missing
(the commands against the stack are tests/integration/test_cli.py)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest

from craftkit import admin, cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = admin.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_help_lists_both_kinds_of_command_and_every_exit_status(capsys):
    with pytest.raises(SystemExit) as done:
        admin.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    rest, operator = out.index("REST commands"), out.index("Operator commands")
    for command in ("templates push DIR", "templates pull SLUG", "render SLUG --data FILE|-",
                    "renders list|get|download|cancel", "preview SLUG", "webhooks add"):
        assert rest < out.index(command) < operator, command
    assert operator < out.index("projects create NAME") and "token-digest FILE" in out
    statuses = [line.split()[0] for line in out[out.index("exit status:"):].splitlines()[1:]
                if line.startswith("  ") and line.split()[0].isdigit()]
    assert statuses == ["0", "1", "2", "3", "4", "5"]
    assert max(len(line) for line in out.splitlines()) <= cli.WIDTH


@pytest.mark.parametrize("argv", [
    ["render", "invoice"],                                  # --data is required
    ["render", "invoice", "--data", "d.json", "--version", "0"],
    ["render", "invoice", "--data", "d.json", "--timeout", "nan"],
    ["preview", "invoice", "--data", "d.json", "--out", "x.pdf"],  # --version is required
    ["renders", "list", "--status", "done"],
    ["webhooks", "add", "http://x.example", "--event", "render.started"],
])
def test_bad_usage_is_exit_2_before_any_request(capsys, argv):
    with pytest.raises(SystemExit) as done:
        admin.main(argv)
    assert done.value.code == cli.USAGE
    assert "error:" in capsys.readouterr().err


def test_no_url_or_key_anywhere_is_exit_2_naming_the_settings(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .craftkit/dev.env here
    monkeypatch.delenv("CRAFTKIT_API_URL", raising=False)
    monkeypatch.delenv("CRAFTKIT_API_KEY", raising=False)
    code, out, err = run(capsys, "renders", "list")
    assert (code, out) == (cli.USAGE, "")
    assert "CRAFTKIT_API_URL" in err and "--api-url" in err and "Traceback" not in err
    code, out, _ = run(capsys, "renders", "list", "--json", "--api-url", "http://127.0.0.1:9")
    assert code == cli.USAGE and "CRAFTKIT_API_KEY" in json.loads(out)["error"]["message"]


def folder(tmp_path, name="invoice-folder", **files):
    root = tmp_path / name
    root.mkdir()
    files = {"manifest.json": '{"fields": {}}', "layout.json": '{"body": []}', **files}
    for file, content in files.items():
        (root / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_a_folder_gives_its_slug_assets_and_documents(tmp_path):
    root = folder(tmp_path, **{"logo.png": b"png", "photo.JPG": b"jpg", "brand.ttf": b"ttf",
                               "brand-bold.otf": b"otf",
                               "notes.txt": "not an asset"})
    read = cli.read_folder(str(root), None)
    assert (read.slug, read.manifest, read.layout) == ("invoice-folder", {"fields": {}},
                                                       {"body": []})
    assert read.assets == {"brand-bold.otf": (b"otf", "font/otf"),
                           "brand.ttf": (b"ttf", "font/ttf"), "logo.png": (b"png", "image/png"),
                           "photo.JPG": (b"jpg", "image/jpeg")}
    (root / "template.json").write_text('{"slug": "invoice", "name": "Invoice"}')
    assert (cli.read_folder(str(root), None).slug, cli.read_folder(str(root), "x").slug) == (
        "invoice", "x")


@pytest.mark.parametrize("files, said", [
    ({"layout.json": None}, "has no layout.json"),
    ({"manifest.json": '{"fields": {},\n  oops}'}, "manifest "),
    ({"manifest.json": '{"fields": {},\n  oops}'}, "is not JSON: Expecting property name "
                                                   "enclosed in double quotes at line 2 column 3"),
    ({"template.json": "[]"}, "template.json must be an object"),
    ({"layout.json": b"\xff\xfe"}, "is not UTF-8 text"),
])
def test_a_folder_that_cannot_be_pushed_says_where(tmp_path, files, said):
    root = folder(tmp_path, **{k: v for k, v in files.items() if v is not None})
    for name, content in files.items():
        if content is None:
            (root / name).unlink()
    with pytest.raises(cli.Failure) as failed:
        cli.read_folder(str(root), None)
    assert failed.value.code == cli.USAGE and said in failed.value.message


def test_asset_names_from_the_api_must_be_plain_file_names():
    assert cli.safe_file_name("logo.png")
    for name in ("../logo.png", "a/b.png", ".hidden.png", "layout.json", "logo\x1b[2J.png"):
        assert not cli.safe_file_name(name), name


def test_tables_fit_80_columns_by_cutting_the_free_text_column():
    rows = [("0196a1b2-0000-7000-8000-000000000001", "succeeded", "t" * 60,
             "2026-11-24 08:17:32", 17)]
    text = cli.table(("ID", "STATUS", "TEMPLATE", "CREATED", "MS"), rows, flexible=2)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "t…" in text and text.splitlines()[1].split()[1] == "succeeded"
    short = cli.table(("ID", "URL"), [("1", None), ("2", "x\x1b[31m")])
    assert short.splitlines()[1:] == ["1   -", "2   x\\u001b[31m"]


def test_issues_print_one_line_per_path():
    issues = {"formErrors": ["Unrecognized key(s) in object: 'extra'"],
              "fieldErrors": {"layout.body.0.asset": ["no asset logo.png", "second"],
                              "manifest.fields.total.type": ["Invalid enum value"]}}
    assert cli.issue_lines(issues) == [
        "Unrecognized key(s) in object: 'extra'", "layout.body.0.asset: no asset logo.png",
        "layout.body.0.asset: second", "manifest.fields.total.type: Invalid enum value"]
    assert cli.issue_lines(None) == []


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Render:
    status = "rendering"


def test_the_progress_line_shows_on_a_terminal_only():
    shown, piped = Terminal(), io.StringIO()
    for stream in (shown, piped):
        progress = cli.Progress("render of invoice", stream)
        progress(Render())
        progress.done()
    assert "render of invoice: rendering (" in shown.getvalue()
    assert shown.getvalue().endswith("\r\x1b[K") and piped.getvalue() == ""


def test_timestamps_show_in_utc_to_the_second():
    moment = datetime(2026, 11, 24, 9, 17, 32, 500000, tzinfo=timezone.utc)
    assert cli.when(moment) == "2026-11-24 09:17:32" and cli.when(None) is None


@pytest.mark.parametrize("status, code, exit_status", [
    (400, "invalid_template", cli.REFUSED), (401, "unauthorized", cli.REFUSED),
    (409, "not_cancellable", cli.REFUSED), (409, "render_failed", cli.RENDER_FAILED),
    (410, "render_expired", cli.RENDER_FAILED), (503, "unavailable", cli.UNREACHABLE),
    (502, "http_502", cli.UNREACHABLE)])
def test_each_api_error_gets_the_exit_status_of_its_kind(status, code, exit_status):
    from craftkit_client.errors import error_class
    failed = cli.failure(error_class(status)(status, code, "said", None, "req-1"))
    assert (failed.code, failed.error, failed.message) == (exit_status, code, "said")
    assert failed.document()["error"] == {"code": code, "message": "said", "issues": [],
                                          "status": status, "requestId": "req-1"}



@pytest.fixture
def server(monkeypatch):
    """What the API answers the commands: `server.answer(request) -> httpx.Response` (the CLI
    may be pointed at anything: a proxy's page, a hostile or broken server)."""
    import httpx

    import craftkit_client

    real = craftkit_client.Client

    class Server:
        answer = None
        requests: list = []

        def __call__(self, request):
            self.requests.append(request)
            return self.answer(request)

    hostile = Server()
    monkeypatch.setattr(craftkit_client, "Client", lambda url, key: real(
        url, key, transport=httpx.MockTransport(hostile),
        retry=craftkit_client.RetryPolicy(max_attempts=1)))
    return hostile


API = ("--api-url", "http://api.test", "--api-key", "ck_test_key")


@pytest.mark.parametrize("body", [b"<html>Sign in</html>", b'{"id": 5, "status": "queued"}',
                                  b'{"id": "r1", "status": "queued", "createdAt": 1}'])
def test_an_answer_that_is_not_the_apis_is_exit_5_and_a_line_not_a_traceback(
        capsys, server, body):
    import httpx
    server.answer = lambda request: httpx.Response(200, content=body)
    code, out, err = run(capsys, "renders", "get", "r1", *API)
    assert code == cli.UNREACHABLE and out == ""
    assert err.startswith("error: unexpected_answer: GET /v1/renders/r1: the 200 answer")
    code, out, err = run(capsys, "renders", "list", "--json", *API)
    assert code == cli.UNREACHABLE
    assert json.loads(out)["error"]["code"] == "unexpected_answer"


def test_escape_sequences_from_the_server_never_reach_the_terminal_raw(capsys, server):
    """A tenant's names and the server's messages are strangers' text: a terminal must show
    them, not obey them (retitle the window, clear the screen, hide a line)."""
    import httpx
    evil = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
    server.answer = lambda request: httpx.Response(404, json={"error": {
        "code": f"not_found{evil}", "message": f"no template {evil}"}})
    code, out, err = run(capsys, "renders", "get", "r1", *API)
    assert code == cli.REFUSED and err.startswith("error: not_found\\u001b]0;pwned")
    server.answer = lambda request: httpx.Response(200, json={
        "id": f"r1{evil}", "status": f"cancelled{evil}", "pollUrl": "http://api.test/x"})
    code, out, err = run(capsys, "renders", "cancel", "r1", *API)
    assert code == cli.OK and out.startswith("render r1\\u001b]0;pwned\\u0007\\u001b[2J")
    code, out, err = run(capsys, "renders", "cancel", "r1", "--json", *API)
    assert json.loads(out)["status"] == f"cancelled{evil}"
    for printed in (out, err):
        assert not any(c in printed for c in "\x1b\x07\x9b\u202e")


def test_the_progress_line_shows_a_status_from_the_server_as_text():
    class Evil:
        status = "rendering\x1b]0;pwned\x07"
    shown = Terminal()
    cli.Progress("render of invoice", shown)(Evil())
    assert "rendering\\u001b]0;pwned\\u0007 (" in shown.getvalue()


def template_server(server, *, slug="foo", assets=("logo.png",)):
    """Answers `templates pull foo`: the template (under `slug`), its assets, their bytes."""
    import httpx

    def answer(request):
        path = request.url.path
        if path == "/v1/templates/foo":
            return httpx.Response(200, json={"id": "t1", "slug": slug, "name": "Foo",
                                             "publishedVersion": 1, "versions": [
                                                 {"number": 1, "manifest": {"m": 1},
                                                  "layout": {"l": 1}}]})
        if path == "/v1/templates/foo/assets":
            return httpx.Response(200, json={"assets": [{"name": n} for n in assets]})
        return httpx.Response(200, content=b"\x89PNG from the server")
    server.answer = answer


def test_pull_replaces_symbolic_links_in_the_folder_never_writing_through_them(
        capsys, server, tmp_path):
    template_server(server)
    outside, folder = tmp_path / "outside", tmp_path / "foo"
    outside.mkdir(), folder.mkdir()
    (outside / "bashrc").write_text("mine")
    (folder / "logo.png").symlink_to(outside / "bashrc")
    (folder / "manifest.json").symlink_to(outside / "new-file")
    code, out, err = run(capsys, "templates", "pull", "foo", "--dir", str(folder), *API)
    assert code == cli.OK, err
    assert (outside / "bashrc").read_text() == "mine" and not (outside / "new-file").exists()
    assert (folder / "logo.png").read_bytes() == b"\x89PNG from the server"
    assert not (folder / "logo.png").is_symlink()
    assert json.loads((folder / "manifest.json").read_text()) == {"m": 1}


def test_pull_writes_under_the_slug_asked_for_whatever_slug_the_server_answers(
        capsys, server, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    template_server(server, slug=str(elsewhere))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "templates", "pull", "foo", *API)
    assert code == cli.OK, err
    assert not elsewhere.exists() and (tmp_path / "foo" / "logo.png").exists()


def test_pull_refuses_an_unsafe_asset_name_before_writing_anything(capsys, server, tmp_path):
    template_server(server, assets=("logo.png", "../evil.png"))
    code, out, err = run(capsys, "templates", "pull", "foo", "--dir", str(tmp_path / "f"), *API)
    assert code == cli.REFUSED and "unsafe_asset_name" in err
    assert not (tmp_path / "f").exists() and not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize("link", ["logo.png", "manifest.json"])
def test_push_refuses_a_link_out_of_the_folder_before_reading_it(tmp_path, link):
    """A folder from a template author must not send the user's files (a private key named
    logo.png, any JSON file as the manifest) to the server."""
    root = folder(tmp_path)
    secret = tmp_path / "id_rsa"
    secret.write_text('{"private": "key"}')
    (root / link).unlink(missing_ok=True)
    (root / link).symlink_to(secret)
    with pytest.raises(cli.Failure) as failed:
        cli.read_folder(str(root), None)
    assert failed.value.code == cli.USAGE and "outside the folder" in failed.value.message


def test_push_takes_a_link_to_a_file_inside_the_folder(tmp_path):
    root = folder(tmp_path, **{"logo-v1.png": b"png"})
    (root / "logo.png").symlink_to(root / "logo-v1.png")
    assert cli.read_folder(str(root), None).assets["logo.png"] == (b"png", "image/png")


@pytest.mark.parametrize("argv", [
    ["renders", "list", "--json", "--limit", "0"],
    ["renders", "list", "--json", "--bogus"],
    ["render", "invoice", "--json"],  # --data is required
    ["keys", "list", "--json"],  # an operator command: --project is required
])
def test_bad_usage_with_json_still_prints_one_json_document(capsys, argv):
    """A script piping --json to a JSON parser gets a document for a bad argument too."""
    with pytest.raises(SystemExit) as done:
        admin.main(argv)
    out, err = capsys.readouterr()
    assert done.value.code == cli.USAGE and "error:" in err
    assert json.loads(out)["error"]["code"] == "usage"
