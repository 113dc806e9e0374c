"""PostgreSQL: the connection pool every DB-owning process uses, and the migrations
(`python -m craftkit.db migrate`, or the `craftkit-migrate` console command)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from craftkit.config import ConfigError, Database, env_str
from craftkit.retry import RetryPolicy

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6372616674
"""The advisory lock key that serialises migrations (any constant would do; this is "craft")."""

# While the database is away (a restart, a failover): background loops wait this way.
RETRY = RetryPolicy(initial=0.2, maximum=5.0)


def pool(settings: Database) -> AsyncConnectionPool:
    """An unopened pool (open it with `await pool.open()`); rows come back as dicts."""
    return AsyncConnectionPool(
        settings.url,
        min_size=min(2, settings.pool_size),
        max_size=settings.pool_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        # Well under the callers' 10 s RPC deadline, so a database that is down is reported as
        # UNAVAILABLE (503, retry) rather than timing out the caller.
        timeout=3,
        open=False,
    )


async def ping(pool: AsyncConnectionPool) -> bool:
    """True when the pool can run a query within 3 s."""
    async with pool.connection(timeout=3) as conn:
        await conn.execute("SELECT 1")
    return True


@dataclass(frozen=True)
class Migrated:
    """What one `migrate` run did."""
    applied: list[str]
    """The migrations this run applied, in order (empty: another run or an earlier one did)."""
    version: int
    """The number of the newest migration the database has: 5 for `0005_render_attempts.sql`."""
    unknown: list[str]
    """Migrations the database has that this release does not ship (it runs older code)."""


class MigrationFailed(RuntimeError):
    """A migration's SQL failed; nothing of that migration stays applied."""


def migrate(url: str) -> Migrated:
    """Applies the migrations not yet applied, in order, each in its own transaction.

    Safe to run at once from many processes (a Kubernetes Job, every test stack): a PostgreSQL
    advisory lock makes them take turns, and a later one finds everything applied. A run killed
    midway leaves no half-applied migration: its transaction rolls back and the lock goes with
    its session."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            return _apply(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def _apply(conn: psycopg.Connection) -> Migrated:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    files = sorted((p for p in resources.files("craftkit.migrations").iterdir()
                    if p.name.endswith(".sql")), key=lambda p: p.name)
    applied = []
    for path in files:
        if path.name in done:
            continue
        try:
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
        except psycopg.Error as e:
            raise MigrationFailed(f"migration {path.name} failed and was rolled back: {e}") from e
        log.info("applied migration %s", path.name)
        applied.append(path.name)
    names = done | set(applied)
    return Migrated(applied=applied, version=max(map(number, names), default=0),
                    unknown=sorted(names - {p.name for p in files}))


def number(name: str) -> int:
    """A migration's number, from the digits its file name starts with (`0005_x.sql` -> 5)."""
    digits = name.split("_", 1)[0]
    return int(digits) if digits.isdigit() else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m craftkit.db migrate`: brings the database at DATABASE_URL to this release's
    schema. Exit 0 when it is there (applied now, or already), 1 when PostgreSQL cannot be reached
    or a migration fails, 2 for a missing or malformed setting or bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m craftkit.db",
                                     description="Database tasks; DATABASE_URL names the database.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the migrations this release ships, once each "
                                        "(safe to run concurrently and again)")
    parser.parse_args(argv)
    return _migrate_command(parser.prog)


def migrate_command() -> int:
    """The `craftkit-migrate` console command: the same as `python -m craftkit.db migrate`."""
    argparse.ArgumentParser(prog="craftkit-migrate", description=(
        "Apply the migrations this release ships to the database at DATABASE_URL, once each "
        "(safe to run concurrently and again).")).parse_args()
    return _migrate_command("craftkit-migrate")


def _migrate_command(prog: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        url = env_str("DATABASE_URL")
        conninfo_to_dict(url)
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except psycopg.ProgrammingError:
        # psycopg's message quotes the string around the mistake, which may be the password.
        print(f"{prog}: DATABASE_URL is neither a postgresql:// URI nor a 'key=value' "
              "connection string", file=sys.stderr)
        return 2
    try:
        result = migrate(url)
    except psycopg.OperationalError as e:
        print(f"{prog}: cannot reach PostgreSQL at DATABASE_URL: {e}".rstrip(), file=sys.stderr)
        return 1
    except MigrationFailed as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    if result.unknown:
        print(f"{prog}: the database has migrations this release does not ship "
              f"({', '.join(result.unknown)}): it was migrated by a newer release", file=sys.stderr)
    if result.applied:
        print(f"applied {len(result.applied)} migration(s), now at version {result.version}")
    else:
        print(f"already at version {result.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
