"""Lockstep's durable store: the engine's store port on SQLModel tables, SQLite by default and
Postgres by URL. ``SQLStore.open(url)`` connects and migrates; the modules hold the tables
(``tables``), every transaction as a function (``transactions``, ``timer_transactions``),
connecting and migrating (``database``) and the Alembic migrations (``migrations/``)."""

from store.database import BadDatabaseURL, connect, migrate, normalise_url
from store.sqlstore import SQLStore

__all__ = ["BadDatabaseURL", "SQLStore", "connect", "migrate", "normalise_url"]
