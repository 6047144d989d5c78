"""Connecting: URL rules, SQLite pragmas, and running the Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_URL = "sqlite+aiosqlite:///lockstep.db"
MIGRATIONS = Path(__file__).parent / "migrations"
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


class BadDatabaseURL(ValueError):
    pass


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
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL: readers never block the writer. synchronous=NORMAL survives any process crash
    # (a power cut may lose the last commits); busy_timeout lets two processes share the file.
    cursor = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=10000",
        "foreign_keys=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def connect(url: str | None = None, **kwargs: Any) -> AsyncEngine:
    full = normalise_url(url)
    if full.startswith("sqlite"):
        engine = create_async_engine(full, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(full, **kwargs)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":  # several bot processes may start at once
        connection.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration (idempotent; safe with concurrent starters)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
