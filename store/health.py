"""The store's own checks for readiness: the database answers, in time, and its schema is the
newest this code knows. Each probe uses a connection of its own with a short timeout, so a
database that hangs or is locked costs the probe ``timeout`` seconds, never the bot's own
connections (SQLite's run inline and would wait their ``busy_timeout`` on the event loop)."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.database import head, known, revision
from store.tables import calls, executions

_VERSION = "SELECT version_num FROM alembic_version"
_HAS_VERSION = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
_TIMED_OUT = {"57014", "55P03"}  # Postgres: statement or lock timeout
_TIMEOUTS = text(
    "SELECT set_config('statement_timeout', :t, true), set_config('lock_timeout', :t, true)"
)


async def check(db: Engine | AsyncEngine, timeout: float) -> str | None:
    """None when the database answers within ``timeout`` seconds (SQLite: and its write lock
    is free) and its schema is not behind this code's; else why not, in one line naming the
    part. A schema a newer release migrated is not a reason: during a rolling upgrade the old
    processes keep serving until they are replaced."""
    try:
        async with asyncio.timeout(timeout + 1):  # the server-side timeouts should come first
            if isinstance(db, AsyncEngine):
                try:
                    found = await _postgres(db, timeout)
                except DBAPIError as exc:  # a pooled connection had died: the pool replaced
                    if not exc.connection_invalidated:  # them all, so ask once more
                        raise
                    found = await _postgres(db, timeout)
            else:
                found = await asyncio.to_thread(_sqlite, db, timeout)
    except TimeoutError:
        return f"database: no answer within {timeout:g} s"
    except Exception as exc:
        if _sqlstate(exc) in _TIMED_OUT:
            return f"database: no answer within {timeout:g} s"
        return f"database: {_reason(exc)}"
    if found is None or (found != head() and found in known()):
        at = f"at {found}" if found else "not migrated"
        return f"schema: {at}, this code needs {head()} (run `python -m bot migrate`)"
    return None  # at this code's newest, or at a newer release's: that release's to say


async def _postgres(db: AsyncEngine, timeout: float) -> str | None:
    async with db.connect() as conn:
        return await conn.run_sync(_revision_within, timeout)


def _revision_within(conn: Connection, timeout: float) -> str | None:
    limit = f"{max(1, int(timeout * 1000))}ms"
    conn.execute(_TIMEOUTS, {"t": limit})
    return revision(conn)


def _sqlite(db: Engine, timeout: float) -> str | None:
    """Takes the write lock (and gives it back): a database another process holds locked
    answers reads, while every write of the bot would wait."""
    path = db.url.database
    if not path or path == ":memory:":
        with db.connect() as conn:
            return revision(conn)
    with closing(sqlite3.connect(path, timeout=timeout, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute(_HAS_VERSION).fetchone() is None:
                return None
            row = conn.execute(_VERSION).fetchone()
        finally:
            conn.execute("ROLLBACK")
    return str(row[0]) if row else None


def _sqlstate(exc: BaseException) -> str | None:
    cause = getattr(exc, "orig", None) or exc
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code if isinstance(code, str) else None


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    words = " ".join(str(cause).split()) or type(cause).__name__
    return words[:200]


def open_locks(conn: Connection) -> dict[str, int]:
    """Open locks by flow."""
    found = conn.execute(
        select(executions.c.flow, func.count())
        .select_from(calls.join(executions, calls.c.execution_id == executions.c.id))
        .where(calls.c.kind == "lock", calls.c.status == "open")
        .group_by(executions.c.flow)
    )
    return {str(flow): int(count) for flow, count in found}
