"""The migration command's answers when it cannot do its job (the real runs are in
tests/integration/test_db.py)."""

from __future__ import annotations

import pytest

from craftkit import db


def test_migration_numbers_come_from_the_file_names():
    assert db.number("0005_render_attempts.sql") == 5
    assert db.number("0012_x.sql") == 12
    assert db.number("notes.sql") == 0


def test_without_database_url_it_names_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert db.main(["migrate"]) == 2
    assert "DATABASE_URL is required" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["host=db password=hunter2 port", "hunter2"])
def test_a_malformed_database_url_is_refused_without_quoting_it(monkeypatch, capsys, url):
    monkeypatch.setenv("DATABASE_URL", url)

    assert db.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "DATABASE_URL is neither a postgresql:// URI" in err and "hunter2" not in err


def test_an_unreachable_database_is_exit_1_with_the_reason_and_no_password(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://craftkit:hunter2@127.0.0.1:1/craftkit")

    assert db.main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach PostgreSQL at DATABASE_URL" in err and "Connection refused" in err
    assert "hunter2" not in err


def test_an_unknown_command_is_refused_with_usage(capsys):
    with pytest.raises(SystemExit) as exit:
        db.main(["migrate-all"])
    assert exit.value.code == 2
    assert "invalid choice: 'migrate-all'" in capsys.readouterr().err
