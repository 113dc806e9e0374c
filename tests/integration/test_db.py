"""`python -m craftkit.db migrate` and `craftkit-migrate` against the real PostgreSQL the fixtures
start: what a Kubernetes migration Job runs for every release, maybe twice at once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from craftkit import db
from tests.integration.conftest import eventually

MIGRATIONS = sorted(p.name for p in resources.files("craftkit.migrations").iterdir()
                    if p.name.endswith(".sql"))
VERSION = db.number(MIGRATIONS[-1])


@pytest.fixture
def empty_database(stack):
    """The URL of a new, empty database on the stack's PostgreSQL server (dropped after)."""
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.infra.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_conninfo(stack.infra.database_url, dbname=name)
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def start(command: list[str], url: str) -> subprocess.Popen:
    return subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def waiting_for_migration_lock(conn: psycopg.Connection) -> int:
    """How many sessions of this database wait for the migration lock."""
    return conn.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
    ).fetchone()[0]


def test_two_concurrent_runs_take_turns_and_a_rerun_changes_nothing(empty_database):
    console = str(Path(sys.executable).parent / "craftkit-migrate")
    with psycopg.connect(empty_database, autocommit=True) as holder:
        # Both runs are made to wait on the lock together, so they really overlap.
        holder.execute("SELECT pg_advisory_lock(%s)", (db.MIGRATION_LOCK,))
        runs = [start([sys.executable, "-m", "craftkit.db", "migrate"], empty_database),
                start([console], empty_database)]
        eventually(lambda: waiting_for_migration_lock(holder) == 2, timeout=30,
                   what="both migration runs waiting for the advisory lock")
        holder.execute("SELECT pg_advisory_unlock(%s)", (db.MIGRATION_LOCK,))
        results = [finish(run) for run in runs]

        assert [code for code, _, _ in results] == [0, 0], results
        outputs = sorted(out.strip() for _, out, _ in results)
        assert outputs == [f"already at version {VERSION}",
                           f"applied {len(MIGRATIONS)} migration(s), now at version {VERSION}"]
        rows = holder.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
        assert [name for name, in rows] == MIGRATIONS
        assert holder.execute("SELECT to_regclass('renders') IS NOT NULL").fetchone()[0]

        code, out, err = finish(start([console], empty_database))
        assert (code, out.strip()) == (0, f"already at version {VERSION}"), err
        count = holder.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert count == len(MIGRATIONS)


def blocked_on_a_lock(conn: psycopg.Connection) -> bool:
    """Whether another session of this database waits for a lock inside a statement."""
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()[0] == 1


def test_a_run_killed_midway_keeps_whole_migrations_only_and_the_next_run_finishes(empty_database):
    with psycopg.connect(empty_database, autocommit=True) as observer:
        with psycopg.connect(empty_database) as blocker:
            # Uncommitted, so 0002's own CREATE TABLE template_assets waits for it: the run is
            # caught inside that migration's transaction, 0001 already committed.
            blocker.execute("CREATE TABLE template_assets (id int)")
            run = start([sys.executable, "-m", "craftkit.db", "migrate"], empty_database)
            eventually(lambda: blocked_on_a_lock(observer), timeout=30,
                       what="the run waiting inside migration 0002")
            run.kill()
            run.communicate(timeout=10)
            blocker.rollback()

        code, out, err = finish(start([sys.executable, "-m", "craftkit.db", "migrate"],
                                      empty_database))
        assert code == 0, err
        assert out.strip() == (f"applied {len(MIGRATIONS) - 1} migration(s), "
                               f"now at version {VERSION}")
        assert "0001_init.sql" not in err and "0002_assets.sql" in err
        rows = observer.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
        assert [name for name, in rows] == MIGRATIONS


def test_a_database_migrated_by_a_newer_release_is_named_and_left_alone(empty_database):
    assert db.migrate(empty_database).version == VERSION
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future.sql')")

    code, out, err = finish(start([sys.executable, "-m", "craftkit.db", "migrate"], empty_database))

    assert (code, out.strip()) == (0, "already at version 9999")
    assert "9999_from_the_future.sql" in err and "newer release" in err


def migrate_until(url: str, last: str) -> None:
    """Applies the migrations up to and including `last`, as an older release would have."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations ("
                     "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        for name in MIGRATIONS[:MIGRATIONS.index(last) + 1]:
            with conn.transaction():
                conn.execute(resources.files("craftkit.migrations").joinpath(name).read_text())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))


def test_keys_made_before_scopes_keep_full_scope_and_get_distinct_ids(empty_database):
    migrate_until(empty_database, "0005_render_attempts.sql")
    project = uuid.uuid4()
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("INSERT INTO projects (id, name) VALUES (%s, 'old')", (project,))
        for digest in ("a" * 64, "b" * 64):
            conn.execute("INSERT INTO api_keys (key_sha256, project_id, prefix) "
                         "VALUES (%s, %s, 'ck_live_old')", (digest, project))
    db.migrate(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        rows = conn.execute("SELECT id, name, scopes, last_used_at FROM api_keys").fetchall()
        assert [r[1:] for r in rows] == [("", ["full"], None)] * 2 and rows[0][0] != rows[1][0]
        for scopes in ([], ["full", "admin"], [None]):
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute("UPDATE api_keys SET scopes = %s::text[]", (scopes,))
