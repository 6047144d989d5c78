"""Connecting: URL rules, SQLite pragmas, and running the Alembic migrations (to the newest at
start-up, or to any revision for ``python -m bot migrate``)."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from pydantic_core import from_json
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from flows.errors import LockstepError

DEFAULT_URL = "sqlite:///lockstep.db"
MIGRATIONS = Path(__file__).parent / "migrations"
PING_AFTER = 1.0  # seconds a pooled Postgres connection may sit idle before it is pinged
_DRIVERS = {
    "sqlite": "sqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


class BadDatabaseURL(LockstepError, ValueError):
    """``DATABASE_URL`` is not one Lockstep can use."""


class UnknownRevision(LockstepError, ValueError):
    """The database is at a migration this code does not know (a newer release made it), or
    was asked for one that does not exist."""


def normalise_url(url: str | None) -> str:
    """Accept the URLs people paste (``postgres://``, ``sqlite:///x.db``); pick async drivers."""
    if not url:
        return DEFAULT_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadDatabaseURL("DATABASE_URL is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise BadDatabaseURL(f"DATABASE_URL must be sqlite or postgresql, not {backend}")
    parsed = parsed.set(drivername=_DRIVERS[backend])  # SQLite: the stdlib driver, see connect()
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL: readers never block the writer. synchronous=NORMAL survives any process crash
    # (a power cut may lose the last commits); busy_timeout lets two processes share the file.
    # Checkpoints (the only fsyncs) run from the sweep, in a thread, off the request path;
    # the automatic one is a safety net for a WAL of ~40 MB.
    cursor = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=10000",
        "foreign_keys=ON",
        "wal_autocheckpoint=10000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


# Postgres connections a process keeps, and opens no more: a transaction beyond them waits for
# one, which costs less than a connection opened and closed (a handshake, and every statement
# prepared again on it).
POOL_SIZE = 20


def connect(url: str | None = None, **kwargs: Any) -> Engine | AsyncEngine:
    """Postgres: an asyncpg engine, pooled (``POOL_SIZE``). SQLite: the stdlib
    driver, run inline by ``Store.run``: a local commit takes microseconds, while a thread hop
    per statement (aiosqlite) costs ~40x more. A SQLite transaction never yields to the event
    loop, so none interleave."""
    full = normalise_url(url)
    kwargs.setdefault("json_deserializer", read_json)
    if full.startswith("sqlite"):
        kwargs.setdefault("hide_parameters", True)  # errors never quote values people typed
        engine = create_engine(full, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("hide_parameters", True)
    ping_after = kwargs.pop("ping_after", PING_AFTER)
    pooled = create_async_engine(full, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(pooled, ping_after)
    return pooled


def read_json(text: str) -> Any:
    """A JSON column's text as its value: the same value ``json.loads`` gives (pydantic-core's
    parser, about three times faster; ``json.loads`` for what it refuses, a lone surrogate
    escape)."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


def _ping_when_idle(engine: AsyncEngine, after: float) -> None:
    """Ping a pooled connection before reuse only when it sat idle longer than ``after``
    seconds: one that died meanwhile (a restarted server, a proxy's timeout) is replaced
    before a transaction is given it. A ping is three round trips with asyncpg, and a busy
    connection needs none: one that dies between two transactions fails the next one, and
    SQLAlchemy then replaces every connection the pool holds."""
    dialect = engine.dialect

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is not None and time.monotonic() - since > after:
            try:
                dialect.do_ping(dbapi)
            except Exception as exc:
                raise DisconnectionError("a pooled connection did not answer") from exc

    event.listen(engine.sync_engine.pool, "checkin", checkin)
    event.listen(engine.sync_engine.pool, "checkout", checkout)


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest migration this code knows."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None, "no migrations"
    return found


@cache
def known() -> frozenset[str]:
    """Every migration this code ships."""
    script = ScriptDirectory.from_config(_config())
    return frozenset(s.revision for s in script.walk_revisions())


def revision(connection: Connection) -> str | None:
    """The migration the database is at (None: none ran)."""
    return MigrationContext.configure(connection).get_current_revision()


def _move(connection: Connection, target: str) -> tuple[str | None, str | None]:
    """Upgrade or downgrade to ``target``, whichever it takes; returns (before, after)."""
    if connection.dialect.name == "postgresql":  # several bot processes may start at once
        connection.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
    config = _config(connection)
    before = revision(connection)
    if before is not None and before not in known():
        raise UnknownRevision(
            f"the database is at migration {before}, which this version does not know (a newer "
            "release migrated it): run that release, or its `python -m bot migrate <revision>`"
        )
    below = set()
    if before is not None and target not in ("head", "heads"):
        script = ScriptDirectory.from_config(config)
        below = {s.revision for s in script.iterate_revisions(before, "base") if s is not None}
    try:
        if target == "base" or target in below:
            command.downgrade(config, target)
        else:
            command.upgrade(config, target)
    except (CommandError, RevisionError) as exc:
        have = ", ".join(sorted(known()))
        raise UnknownRevision(f"there is no such migration (this version has {have})") from exc
    return before, revision(connection)


def checkpoint(engine: Engine) -> None:
    """Fold the SQLite WAL into the database file (blocking: call it from a thread)."""
    path = engine.url.database
    if path and path != ":memory:":
        with closing(sqlite3.connect(path, timeout=10)) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


async def migrate(
    engine: Engine | AsyncEngine, target: str = "head"
) -> tuple[str | None, str | None]:
    """Bring the schema to ``target`` (the newest migration by default), up or down, in one
    transaction; idempotent and safe with concurrent starters. Returns the revisions before
    and after."""
    if isinstance(engine, AsyncEngine):
        async with engine.begin() as conn:
            return await conn.run_sync(_move, target)
    with engine.begin() as sync_conn:
        return _move(sync_conn, target)
