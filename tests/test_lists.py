"""``store.lists``: list parameters bound as one value, on SQLite and Postgres alike, and every
prebuilt statement cacheable (compiled once, not at every execution)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement

from flows.engine.records import NewEvent, Post
from store import SQLStore
from store import deliveries as dq
from store import outbox as ob
from store import timer_transactions as tq
from store import transactions as q
from store.fast import Prepared
from store.lists import any_of, none_of, one_of
from store.tables import outbox
from tests import rows

KEYS = ["run:a", "lock:b", "post:c'; DROP TABLE outbox; --", "run:ü"]


async def test_one_of_matches_the_list_whatever_its_values(store: SQLStore) -> None:
    eid, now = uuid.uuid4().hex, time.time()
    assert await store.create_execution(rows.execution(eid, now), NewEvent(kind="started"))

    def check(conn: Connection) -> dict[str, Any]:
        ob.add_posts(conn, eid, [Post(key=k, payload={}) for k in KEYS], now)
        by_key = select(outbox.c.key).where(one_of(outbox.c.key, "keys")).order_by(outbox.c.key)
        ids = dict(conn.execute(select(outbox.c.key, outbox.c.id)).all())
        by_id = select(outbox.c.key).where(one_of(outbox.c.id, "ids")).order_by(outbox.c.key)
        return {
            "two": list(conn.execute(by_key, {"keys": KEYS[2:]}).scalars()),
            "none": list(conn.execute(by_key, {"keys": []}).scalars()),
            "missing": list(conn.execute(by_key, {"keys": ["nope"]}).scalars()),
            "ids": list(conn.execute(by_id, {"ids": [ids[KEYS[0]], ids[KEYS[3]]]}).scalars()),
        }

    assert await store.run(check) == {
        "two": sorted(KEYS[2:]),
        "none": [],
        "missing": [],
        "ids": sorted([KEYS[0], KEYS[3]]),
    }


def test_constant_lists_are_written_into_the_statement() -> None:
    sql = str(select(outbox.c.id).where(any_of(outbox.c.kind, ["run", "lock"])))
    assert "IN ('lock', 'run')" in sql
    assert "NOT IN ('direct')" in str(select(outbox.c.id).where(none_of(outbox.c.kind, ["direct"])))
    with pytest.raises(ValueError, match="not a constant word"):
        any_of(outbox.c.kind, ["run'; --"])


def test_every_prebuilt_statement_is_cacheable() -> None:
    statements = []
    for module in (q, ob, dq, tq):
        for name, value in vars(module).items():
            found = value.values() if isinstance(value, dict) else [value]
            found = [s.statement if isinstance(s, Prepared) else s for s in found]
            statements += [(name, s) for s in found if isinstance(s, ClauseElement)]
    assert len(statements) > 20
    uncached = [name for name, s in statements if s._generate_cache_key() is None]
    assert uncached == []
