"""The store itself: schema from the migration, and races between separate connections."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from flows import Request
from flows.engine import Engine, FakeClock, RecordingNotifier
from store import SQLStore, normalise_url
from tests.sample_flows import app


async def test_migration_creates_exactly_the_models_schema(store: SQLStore) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return list(compare_metadata(context, SQLModel.metadata))

    assert await store.run(diff) == []
    tables = await store.run(lambda c: set(inspect(c).get_table_names()))
    assert {"executions", "calls", "events", "timers", "alembic_version"} <= tables


async def test_migrating_twice_changes_nothing(db_url: str, store: SQLStore) -> None:
    def schema(conn: Any) -> tuple[Any, ...]:
        found = inspect(conn)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        return version, sorted(
            (t, c["name"]) for t in found.get_table_names() for c in found.get_columns(t)
        )

    engine = Engine(store, [app], RecordingNotifier(), FakeClock())
    eid = await engine.start("review", {"doc": "kept"}, Request("review", "UA"))
    await engine.settled(eid)
    before = await store.run(schema)
    again = await SQLStore.open(db_url)  # a second start-up migrates the same database
    try:
        assert await again.run(schema) == before
        kept = await again.execution(eid)
        assert kept is not None and kept.inputs == {"doc": "kept"}
    finally:
        await again.close()
        await engine.close()


def test_database_urls() -> None:
    assert normalise_url(None) == "sqlite:///lockstep.db"
    assert normalise_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalise_url("sqlite+aiosqlite:///x.db") == "sqlite:///x.db"
    for bad, message in (("mysql://h/db", "sqlite or postgresql"), ("nonsense", "not a database")):
        try:
            normalise_url(bad)
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(bad)


async def test_two_engines_on_separate_connections_one_wins(db_url: str, store: SQLStore) -> None:
    """Two processes' worth of engines (each its own pool) answer one lock at the same moment."""
    clock = FakeClock()
    notes = RecordingNotifier()
    first = Engine(store, [app], notes, clock)
    other_store = await SQLStore.open(db_url)
    second = Engine(other_store, [app], RecordingNotifier(), clock)
    try:
        for _ in range(5):
            eid = await first.start("review", {"doc": "d"}, Request("review", "UA"))
            await first.settled(eid)
            [lock] = notes.of("lock_opened", eid)
            results = await asyncio.gather(
                first.submit(lock.id, {"score": "5"}, "UFIRST"),
                second.submit(lock.id, {"score": "4"}, "USECOND"),
            )
            outcomes = sorted(r.outcome for r in results)
            assert outcomes == ["accepted", "decided"]
            winner = next(r for r in results if r.outcome == "accepted")
            loser = next(r for r in results if r.outcome == "decided")
            assert loser.lock.actor == winner.lock.actor and loser.lock.decided_at
            leases = [e for e in await store.events(eid) if e.kind == "lease"]
            assert [e.actor for e in leases] == [winner.lock.actor]
            await first.settled(eid)
            await second.settled(eid)
            calls = await store.calls(eid)
            assert [c.name for c in calls] == ["content", "final"]  # resumed exactly once
    finally:
        await first.close()
        await second.close()
        await other_store.close()


async def test_the_audit_trail_is_append_only(store: SQLStore) -> None:
    """No code path updates or deletes an event, and the database refuses it to any that tried."""
    engine = Engine(store, [app], RecordingNotifier(), FakeClock())
    eid = await engine.start("review", {"doc": "d"}, Request("review", "UALICE"))
    await engine.settled(eid)
    before = await store.events(eid)
    assert before
    for statement in ("UPDATE events SET actor = 'UMALLORY'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="events are append-only"):
            await store.run(lambda conn, sql=statement: conn.execute(text(sql)))
    assert await store.events(eid) == before
    await engine.close()


async def test_a_single_statement_read_runs_outside_a_transaction_on_postgres(
    store: SQLStore,
) -> None:
    """``SQLStore.read`` opens no transaction (no BEGIN before its statement, no COMMIT after):
    each statement is its own, so ``now()`` moves on between two; ``run`` opens one, where it
    stays."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite runs every transaction inline, without a round trip")

    def moves_on(conn: Any) -> bool:
        first = conn.execute(text("SELECT now()")).scalar()
        conn.execute(text("SELECT pg_sleep(0.01)"))
        return bool(conn.execute(text("SELECT now()")).scalar() != first)

    assert await store.read(moves_on)
    assert not await store.run(moves_on)
