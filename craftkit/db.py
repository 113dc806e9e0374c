"""PostgreSQL: the connection pool every DB-owning process uses, and the migrations."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from craftkit.config import Database
from craftkit.retry import RetryPolicy

log = logging.getLogger(__name__)

# Any constant will do: it serialises migrations between processes starting together.
_MIGRATION_LOCK = 0x6372616674

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


def migrate(url: str) -> list[str]:
    """Applies the migrations not yet applied, in order; returns their names."""
    applied = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            files = sorted(p for p in resources.files("craftkit.migrations").iterdir()
                           if p.name.endswith(".sql"))
            for path in files:
                if path.name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                log.info("applied migration %s", path.name)
                applied.append(path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied


async def ping(pool: AsyncConnectionPool) -> bool:
    """True when the pool can run a query within 3 s."""
    async with pool.connection(timeout=3) as conn:
        await conn.execute("SELECT 1")
    return True
