"""``store.fast``: a prepared statement gives what SQLAlchemy gives for the same statement
(column defaults, JSON, booleans, rows, row counts, its errors), on SQLite through the driver
and on Postgres through SQLAlchemy."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from store import SQLStore
from store.fast import Prepared, run
from store.lists import one_of
from store.tables import outbox

INSERT = Prepared(insert(outbox))
SELECT = Prepared(select(outbox).where(one_of(outbox.c.key, "keys")).order_by(outbox.c.key))
TOUCH = Prepared(
    update(outbox)
    .where(outbox.c.key == bindparam("k"), outbox.c.pending)
    .values(pending=False, payload=bindparam("p"))
    .returning(outbox.c.id, outbox.c.pending, outbox.c.payload)
)


def rows(n: int) -> list[dict[str, Any]]:
    """Outbox rows leaving out every column with a default (version, shown, pending,
    attempts), one with a JSON null payload, one with text no SQL should see."""
    now, base = time.time(), uuid.uuid4().hex
    payloads: list[Any] = [{"a": [1, "ü"]}, None, "x'); DROP TABLE outbox; --"]
    common: dict[str, Any] = {"execution_id": None, "call_id": None, "kind": "post"}
    common |= {"location": None, "due_at": now, "created_at": now, "updated_at": now}
    return [{**common, "key": f"post:{base}:{i}", "payload": payloads[i % 3]} for i in range(n)]


async def test_a_prepared_insert_and_select_read_as_through_sqlalchemy(store: SQLStore) -> None:
    given = rows(3)
    keys = [r["key"] for r in given]

    def write_and_read(conn: Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        run(conn, INSERT, given)
        fast = [r._asdict() for r in run(conn, SELECT, {"keys": keys})]
        core = select(outbox).where(outbox.c.key.in_(keys)).order_by(outbox.c.key)
        return fast, [dict(r._mapping) for r in conn.execute(core)]

    fast, core = await store.run(write_and_read)
    assert fast == core
    assert [r["payload"] for r in fast] == [g["payload"] for g in given]
    assert {(r["version"], r["shown"], r["pending"], r["attempts"]) for r in fast} == {
        (1, 0, True, 0)
    }  # the columns' defaults, as SQLAlchemy applies them
    assert all(isinstance(r["pending"], bool) for r in fast)


async def test_an_update_returns_its_rows_and_counts_them(store: SQLStore) -> None:
    [given] = rows(1)

    def touch(conn: Connection) -> tuple[Any, Any, int]:
        run(conn, INSERT, given)
        first = run(conn, TOUCH, {"k": given["key"], "p": {"done": True}})
        again = run(conn, TOUCH, {"k": given["key"], "p": {"done": False}})
        return first.one(), again.first(), again.rowcount

    (row_id, pending, payload), again, count = await store.run(touch)
    assert isinstance(row_id, int) and pending is False and payload == {"done": True}
    assert again is None and count == 0


async def test_a_broken_constraint_is_sqlalchemys_integrity_error(store: SQLStore) -> None:
    [given] = rows(1)

    def twice(conn: Connection) -> None:
        run(conn, INSERT, given)
        run(conn, INSERT, given)  # the same key: outbox.key is unique

    with pytest.raises(IntegrityError) as raised:
        await store.run(twice)
    assert given["key"] not in str(raised.value)  # parameters are never quoted in errors
    assert await store.run(lambda conn: run(conn, SELECT, {"keys": [given["key"]]}).all()) == []


def test_a_parameter_left_out_is_refused_not_written_as_null() -> None:
    with pytest.raises(ValueError, match="'k'"):
        TOUCH.compiled(sqlite.dialect(), ("p",))


def test_a_statement_that_expands_per_execution_is_refused() -> None:

    expanding = Prepared(
        select(outbox.c.id).where(outbox.c.key.in_(bindparam("keys", expanding=True)))
    )
    with pytest.raises(ValueError, match="one_of"):
        expanding.compiled(sqlite.dialect(), ("keys",))


async def test_a_statement_without_parameters_runs(store: SQLStore) -> None:
    count = Prepared(select(func.count()).select_from(outbox))

    def counts(conn: Connection) -> tuple[Any, Any]:
        run(conn, INSERT, rows(2))
        return run(conn, count).scalar(), conn.execute(count.statement).scalar()

    fast, core = await store.run(counts)
    assert fast == core and fast >= 2


async def test_a_parameter_named_as_a_column_is_written_as_by_sqlalchemy(store: SQLStore) -> None:
    settle = Prepared(update(outbox).where(outbox.c.key == bindparam("k")).values(attempts=7))
    [given] = rows(1)

    def write(conn: Connection) -> Any:
        run(conn, INSERT, given)
        run(conn, settle, {"k": given["key"], "error": "said so", "payload": [1]})
        return run(conn, SELECT, {"keys": [given["key"]]}).one()

    row = await store.run(write)
    assert (row.attempts, row.error, row.payload) == (7, "said so", [1])


async def test_rows_with_other_columns_than_the_first_are_refused(store: SQLStore) -> None:
    """One statement serves a batch, compiled for the first row's columns: a later row with a
    column more would lose its value, one with a column fewer would fail halfway; both are
    refused before anything is written."""
    for first in (0, 1):
        given = rows(2)
        del given[first]["location"]

        def write(conn: Connection, batch: list[dict[str, Any]] = given) -> None:
            run(conn, INSERT, batch)

        with pytest.raises(ValueError, match="other columns"):
            await store.run(write)
        keys = [r["key"] for r in given]
        found = await store.run(lambda conn, k=keys: run(conn, SELECT, {"keys": k}).all())
        assert found == []


async def test_json_values_read_back_as_written(store: SQLStore) -> None:
    """What a flow stores comes back equal and of the same type: big integers, floats at
    their limits, a bare number or string, and a lone surrogate (which only ``json.loads``
    reads; the faster parser is tried first)."""
    payloads: list[Any] = [
        {"big": 2**80, "tiny": 5e-324, "max": 1.7976931348623157e308, "neg": -0.0},
        7,
        2.5,
        "plain",
        ["\ud800", "é\n\x00"],
    ]
    given = rows(len(payloads))
    for row, payload in zip(given, payloads, strict=True):
        row["payload"] = payload
    keys = [r["key"] for r in given]

    def write_and_read(conn: Connection) -> list[Any]:
        run(conn, INSERT, given)
        return [r.payload for r in run(conn, SELECT, {"keys": keys})]

    found = await store.run(write_and_read)
    assert [repr(f) for f in found] == [repr(p) for p in payloads]
    assert [type(f) for f in found] == [type(p) for p in payloads]
