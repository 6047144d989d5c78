"""``Transactor``: how the store runs a transaction. SQLite runs inline on one connection kept
open (a local commit takes microseconds; a transaction never yields, so none interleave);
Postgres runs through the asyncpg pool, each transaction in one greenlet, and one chosen as a
deadlock victim (it changed nothing) runs again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import greenlet_spawn

from store.database import checkpoint

T = TypeVar("T")

DEADLOCK_RETRIES = 3


def _retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"40P01", "40001"} or "deadlock detected" in str(exc.orig)


class Transactor:
    """Runs transactions on ``db``, SQLAlchemy's engine: a sync one for SQLite (inline, on one
    connection), an async one for Postgres (pooled, a deadlock victim run again)."""

    def __init__(self, db: Engine | AsyncEngine) -> None:
        self.db = db
        self._inline: Connection | None = None  # SQLite: the one connection, kept open

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if isinstance(self.db, AsyncEngine):
            await self.db.dispose()
        else:
            self.db.dispose()

    async def checkpoint(self) -> None:
        """SQLite: move the WAL's pages into the database file, in a worker thread."""
        if isinstance(self.db, Engine):
            await asyncio.to_thread(checkpoint, self.db)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(connection, *args)`` as one transaction: committed if it returns. On
        Postgres, a transaction chosen as a deadlock victim is run again (it changed nothing)."""
        if not isinstance(self.db, AsyncEngine):
            return self._inline_run(fn, *args)
        return await self._again_on_deadlock(False, fn, *args)

    async def single(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(connection, *args)``, whose statements on Postgres each stand alone (only
        the first may write): there outside a transaction (one statement sees one snapshot,
        and its writes commit together), so each costs one round trip, not three (BEGIN and
        COMMIT are the other two). A deadlock victim is run again, as in ``run``. On SQLite,
        as ``run``."""
        if not isinstance(self.db, AsyncEngine):
            return self._inline_run(fn, *args)
        return await self._again_on_deadlock(True, fn, *args)

    async def _again_on_deadlock(self, alone: bool, fn: Callable[..., T], *args: Any) -> T:
        assert isinstance(self.db, AsyncEngine)
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return await greenlet_spawn(self._pooled, alone, fn, *args)
            except DBAPIError as exc:
                if attempt == DEADLOCK_RETRIES or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")

    def _pooled(self, alone: bool, fn: Callable[..., T], *args: Any) -> T:
        """Check a connection out, run ``fn`` and give it back, all in one greenlet (as
        ``AsyncConnection.run_sync`` runs ``fn``): only the driver's I/O yields to the event
        loop, where the async wrappers of connect, begin and close each cost a loop turn."""
        assert isinstance(self.db, AsyncEngine)
        if alone:
            with self.db.sync_engine.connect() as conn:
                return fn(conn.execution_options(isolation_level="AUTOCOMMIT"), *args)
        with self.db.sync_engine.begin() as conn:
            return fn(conn, *args)

    def _inline_run(self, fn: Callable[..., T], *args: Any) -> T:
        """SQLite runs inline and a transaction never yields, so one connection serves all of
        them, one after another (no pool checkout per transaction)."""
        assert isinstance(self.db, Engine)
        inline = self._inline
        if inline is None or inline.closed or inline.invalidated:
            inline = self._inline = self.db.connect()
        with inline.begin():
            return fn(inline, *args)
