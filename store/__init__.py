"""Lockstep's durable store: SQLite by default, Postgres by URL."""

from store.db import BadDatabaseURL, connect, migrate, normalise_url
from store.models import TERMINAL, Call, Event, Execution, Lock, NewEvent, Timer
from store.repo import Store

__all__ = [
    "TERMINAL",
    "BadDatabaseURL",
    "Call",
    "Event",
    "Execution",
    "Lock",
    "NewEvent",
    "Store",
    "Timer",
    "connect",
    "migrate",
    "normalise_url",
]
