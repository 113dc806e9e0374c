"""The console's token-digest command: the lines it prints are what a server accepts for the
tokens of a caller's file (the calls to status are tested against the stack, in integration)."""

from __future__ import annotations

import io

import pytest

from craftkit import admin
from craftkit.internal_auth import GATEWAY, TokenDirectory

OLD, NEW = "o" * 32, "n" * 32


def digest(capsys, *args: str) -> tuple[int, str, str]:
    code = admin.main(["token-digest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_printed_lines_let_a_server_accept_the_tokens_and_hold_none(tmp_path, capsys):
    (tmp_path / "token").write_text(f"{NEW}\n\n{OLD}\n")
    code, out, _ = digest(capsys, str(tmp_path / "token"))
    assert code == 0 and len(out.splitlines()) == 2
    assert NEW not in out and OLD not in out
    servers = tmp_path / "tokens"
    servers.mkdir()
    (servers / GATEWAY).write_text(out)
    directory = TokenDirectory(servers)
    assert directory.identify(NEW) == directory.identify(OLD) == GATEWAY
    assert directory.identify("x" * 32) is None


def test_standard_input_is_read_for_a_dash(tmp_path, capsys, monkeypatch):
    (tmp_path / "token").write_text(NEW)
    _, from_file, _ = digest(capsys, str(tmp_path / "token"))
    monkeypatch.setattr("sys.stdin", io.StringIO(NEW + "\n"))
    code, from_stdin, _ = digest(capsys, "-")
    assert code == 0 and from_stdin == from_file


@pytest.mark.parametrize("content, said", [
    ("", "holds no token"), ("short\n", "line 1: a token must be at least 16"),
    (f"{OLD}\nsha256:{'0' * 64}\n", "line 2 is a digest")])
def test_what_is_not_a_token_file_is_exit_2_saying_why(tmp_path, capsys, content, said):
    (tmp_path / "token").write_text(content)
    code, out, err = digest(capsys, str(tmp_path / "token"))
    assert (code, out) == (2, "") and said in err and OLD not in err
    code, _, err = digest(capsys, str(tmp_path / "missing"))
    assert code == 2 and "missing: No such file or directory" in err


def test_the_key_table_lines_up_and_says_never_and_dash_for_empty_values():
    keys = [{"id": "k-1", "prefix": "ck_live_abcd", "name": "", "scopes": ["render", "download"],
             "createdAt": "2026-11-24T00:00:00.000Z", "lastUsedAt": None, "revokedAt": None}]
    header, row = admin.key_table(keys).splitlines()
    assert header.split() == ["ID", "PREFIX", "NAME", "SCOPES", "CREATED", "LAST", "USED",
                              "REVOKED"]
    assert row.split() == ["k-1", "ck_live_abcd", "-", "render,download",
                           "2026-11-24T00:00:00.000Z", "never", "-"]
    assert header.index("SCOPES") == row.index("render,download")


def test_an_unknown_scope_is_refused_before_any_call(capsys):
    with pytest.raises(SystemExit) as exited:
        admin.main(["keys", "create", "--project", "p", "--scope", "admin"])
    assert exited.value.code == 2 and "invalid choice: 'admin'" in capsys.readouterr().err


@pytest.mark.parametrize("name, shown", [
    ("\x9b2J\x9bH", "\\u009b2J\\u009bH"),  # C1 CSI: clear the operator's screen, cursor home
    ("\u202efull ,revoked", "\\u202efull ,revoked"),  # right-to-left override: columns reorder
    ("a\u2028b", "a\\u2028b"), ("Größe ☃ 名前", "Größe ☃ 名前")])
def test_a_tenant_key_name_cannot_drive_the_operators_terminal(name, shown):
    # Key names come from tenants (POST /v1/keys); the table goes to an operator's terminal.
    keys = [{"id": "k-1", "prefix": "ck_live_abcd", "name": name, "scopes": ["download"],
             "createdAt": "2026-11-24T00:00:00.000Z", "lastUsedAt": None, "revokedAt": None}]
    row = admin.key_table(keys).splitlines()[1]
    assert f"ck_live_abcd  {shown}  download" in row
    assert row.isprintable()


def test_an_unreadable_tls_ca_file_is_exit_2_naming_the_setting(tmp_path, capsys, monkeypatch):
    (tmp_path / "admin").write_text(NEW)
    monkeypatch.setenv("INTERNAL_TOKEN_FILE", str(tmp_path / "admin"))
    monkeypatch.setenv("GRPC_TLS_CA_FILE", str(tmp_path / "missing-ca.pem"))
    code = admin.main(["keys", "list", "--project", "p"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: GRPC_TLS_CA_FILE") and "No such file or directory" in err
