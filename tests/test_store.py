"""The store itself: schema from the migration, and races between separate connections."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from flows import Request
from flows.engine import Engine, FakeClock, NewEvent, RecordingNotifier
from flows.engine.records import Call, Claim, Post, Workspace
from flows.engine.setup import new_id, timer_row
from store import SQLStore, at_once, connect, deliveries, normalise_url
from store import outbox as ob
from store.database import POOL_SIZE
from store.outbox import lock_key, run_key
from store.tables import calls, outbox, timers
from tests.rows import execution
from tests.sample_flows import app
from tests.test_ports import lock


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
    """``SQLStore.single`` opens no transaction (no BEGIN before its statement, no COMMIT after):
    each statement is its own, so ``now()`` moves on between two; ``run`` opens one, where it
    stays."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite runs every transaction inline, without a round trip")

    def moves_on(conn: Any) -> bool:
        first = conn.execute(text("SELECT now()")).scalar()
        conn.execute(text("SELECT pg_sleep(0.01)"))
        return bool(conn.execute(text("SELECT now()")).scalar() != first)

    assert await store.single(moves_on)
    assert not await store.run(moves_on)


async def test_recording_what_was_shown_settles_only_rows_shown_as_they_are_now(
    store: SQLStore,
) -> None:
    """``delivered``: a row shown at its version is settled where it was shown; one whose state
    moved on meanwhile keeps its lease (and comes back with its new version) to go again; one
    whose lease went to another deliverer is left to it; what was shown never goes back."""
    now = time.time()
    eid = new_id()
    assert await store.create_execution(execution(eid, now, owner="me"), NewEvent(kind="started"))
    first, second = (lock(eid, seq=n).model_dump() for n in (1, 2))
    await store.add(eid, now, new_calls=[first, second])
    claimed, _ = await store.claim_deliveries("me", now, 30)
    by_key = {d.key: d for d in claimed}
    settles, moves_on, taken = (
        by_key[k] for k in (lock_key(first["id"]), lock_key(second["id"]), run_key(eid))
    )

    def meanwhile(conn: Any) -> None:
        conn.execute(
            update(outbox).where(outbox.c.id == moves_on.id).values(version=outbox.c.version + 1)
        )
        conn.execute(update(outbox).where(outbox.c.id == taken.id).values(lease_owner="other"))

    await store.run(meanwhile)
    where: dict[int, Any] = {settles.id: ["C1", "1.1"], moves_on.id: "C1/1.1"}
    where[taken.id] = None  # whatever a surface says it is, stored as it says it
    shown = [(d.id, d.version, where[d.id]) for d in (settles, moves_on, taken)]
    assert await store.delivered("me", shown, now, placed=False) == {
        moves_on.id: moves_on.version + 1
    }

    def rows(conn: Any) -> dict[int, Any]:
        found = conn.execute(select(outbox).where(outbox.c.execution_id == eid))
        return {r.id: r for r in found}

    after = await store.run(rows)
    assert (after[settles.id].pending, after[settles.id].lease_owner) == (False, None)
    assert after[settles.id].shown == settles.version
    assert after[settles.id].location == ["C1", "1.1"]
    assert after[moves_on.id].location == "C1/1.1"
    assert (after[moves_on.id].pending, after[moves_on.id].lease_owner) == (True, "me")
    assert after[moves_on.id].shown == moves_on.version
    assert (after[taken.id].lease_owner, after[taken.id].shown, after[taken.id].location) == (
        "other", 0, None,
    )  # fmt: skip
    older = [(settles.id, 0, True)]  # an older showing, recorded late
    await store.run(
        lambda conn: conn.execute(
            update(outbox).where(outbox.c.id == settles.id).values(lease_owner="me")
        )
    )
    assert await store.delivered("me", older, now, placed=False) == {}
    assert (await store.run(rows))[settles.id].shown == settles.version
    assert (await store.run(rows))[settles.id].location is True


async def test_a_claim_of_a_run_s_rows_reads_only_them_however_long_the_backlog(
    store: SQLStore,
) -> None:
    """SQLite's plan for claiming one run's due rows (a run's change, its own pass) finds them
    through the run's index and updates them by id: no step reads every pending row, so a
    backlog (Slack down for an hour) does not slow each run's claim. Postgres plans by its
    statistics (``ANALYZE``), and joins the due rows by id (``deliveries._claims``)."""
    if store.db.dialect.name != "sqlite":
        pytest.skip("Postgres chooses its plan by the table's statistics")
    statement = deliveries.CLAIMS["run", False].statement
    sql = str(statement.compile(dialect=store.db.dialect))

    def plan(conn: Any) -> list[str]:
        found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (0,) * sql.count("?"))
        return [row[3] for row in found]

    steps = [s for s in await store.run(plan) if "outbox" in s or "earlier" in s]
    assert steps and all("ix_outbox_run_due" in s or "PRIMARY KEY" in s for s in steps), steps


async def test_a_row_shown_once_more_later_waits_for_then_unless_its_state_changes(
    store: SQLStore,
) -> None:
    """``delivered(again=...)``: the row is settled as shown, and due once more at the time
    given, not behind (no backlog); a change of its state makes it due at once."""
    now = time.time()
    eid = new_id()
    assert await store.create_execution(execution(eid, now, owner="me"), NewEvent(kind="started"))
    opened = lock(eid).model_dump()
    await store.add(eid, now, new_calls=[opened])
    claimed, _ = await store.claim_deliveries("me", now, 30)
    row = next(d for d in claimed if d.key == lock_key(opened["id"]))
    others = [(d.id, d.version, {"ts": "1"}) for d in claimed if d.id != row.id]
    where = {"channel": "C1", "ts": "2.0", "again_at": now + 30}
    shown = [(row.id, row.version, where), *others]
    assert await store.delivered("me", shown, now, placed=False, again={row.id: now + 30}) == {}
    assert await store.backlog(now) == (0, None)
    assert (await store.claim_deliveries("me", now + 1, 30))[0] == []  # not due yet
    again, _ = await store.claim_deliveries("me", now + 30, 30, execution=eid)
    assert [(d.id, d.location) for d in again] == [(row.id, where)]
    await store.delivered("me", [(row.id, row.version, where)], now + 30, placed=False,
                          again={row.id: now + 60})  # fmt: skip
    await store.append(eid, now + 31, NewEvent(kind="note"))  # no change to the lock's state
    await store.refuse(eid, now + 31, NewEvent(kind="invalid"), opened["id"], {"errors": {}})
    changed, _ = await store.claim_deliveries("me", now + 31, 30, execution=eid)
    assert [d.id for d in changed] == [row.id]  # its state changed: due now, not at +60


async def test_a_run_shows_the_open_locks_it_waits_at_and_a_lock_shows_itself_decided(
    store: SQLStore,
) -> None:
    """``show_states``: a run awaiting names its open locks in order (not a decided one, not
    another run's); a lock's row shows the lock as it is, decided or not; a running run waits
    at nothing."""
    now = time.time()
    waits, works = new_id(), new_id()
    for eid, status in ((waits, "awaiting"), (works, "running")):
        assert await store.create_execution(
            execution(eid, now, status=status), NewEvent(kind="started")
        )
    decided = lock(waits, seq=1, name="first", status="resolved").model_dump()
    opened = [
        lock(waits, seq=n, name=name).model_dump() for n, name in ((3, "third"), (2, "second"))
    ]
    other = [lock(works, seq=1, name="elsewhere").model_dump()]
    await store.add(waits, now, new_calls=[decided, *opened])
    await store.add(works, now, new_calls=other)
    claimed, _ = await store.claim_deliveries("me", now, 30)
    rows = {d.key: (d.id, d.execution_id, d.call_id) for d in claimed}
    states = await store.show_states(list(rows.values()))
    run_of = {eid: states[rows[run_key(eid)][0]] for eid in (waits, works)}
    assert run_of[waits].waiting == ["second", "third"]
    assert run_of[works].waiting == []
    shown = states[rows[lock_key(decided["id"])][0]].call
    assert shown is not None and (shown.id, shown.status) == (decided["id"], "resolved")


async def test_a_decision_writes_everything_it_changed_at_once(store: SQLStore) -> None:
    """``decide`` (one statement on Postgres, a transaction on SQLite): the lock closed with
    the answer and who gave it, its timers dropped, its message and the App Homes shown again,
    a row for each live subscription to ``lock.decided`` (none for the rest), the run woken and
    claimed with its calls, the decision in the trail. A second decision changes nothing."""
    now = time.time()
    eid = new_id()
    assert await store.create_execution(
        execution(eid, now, status="awaiting"), NewEvent(kind="started")
    )
    earlier = [  # the calls before the lock: a lock answered and a step, as replay reads them
        lock(eid, seq=1, status="resolved", result={"n": 1.5, "tags": ["a"]}, actor="UA",
             comment="first", decided_at=now - 0.125, deadline=None).model_dump(),
        lock(eid, seq=2, kind="step", name="fetch", form=None, result=[1, None, "x"],
             decided_at=now - 0.0625, status="resolved", created_at=now - 1).model_dump(),
    ]  # fmt: skip
    opened = lock(eid, seq=3, data={"doc": "d", "at": now}).model_dump()
    timer = {"execution_id": eid, "call_id": opened["id"], "kind": "remind", "due_at": now + 60}
    await store.add(eid, now, new_calls=[*earlier, opened], new_timers=[timer])
    await store.open_home("UHOME", Workspace(team_id="T1"), now)
    wanted = await store.add_webhook("https://example.test/a", "s", ["lock.decided"], now)
    await store.add_webhook("https://example.test/b", "s", ["lock.opened"], now)
    removed = await store.add_webhook("https://example.test/c", "s", ["lock.decided"], now)
    assert await store.remove_webhook(removed, now)

    def outbox_rows(conn: Any) -> dict[str, Any]:
        return {r.key: r for r in conn.execute(select(outbox))}

    before = await store.run(outbox_rows)
    at, claim = now + 5.25, Claim("me", now + 5.5, now - 60)
    event = NewEvent(kind="lease", actor="UB", call_id=opened["id"], detail={"note": "ok"})
    decided = await store.decide(
        opened["id"], at, status="resolved", result={"ok": True}, actor="UB", comment="fine",
        event=event, claim=claim,
    )  # fmt: skip
    assert decided is not None
    woken, recorded = decided
    assert (woken.status, woken.owner, woken.wakeups) == ("running", "me", 1)
    assert woken.heartbeat_at == woken.updated_at == claim.now  # the claim's time
    assert recorded is not None and [(c.id, c.status) for c in recorded] == [
        *((c["id"], "resolved") for c in earlier),
        (opened["id"], "resolved"),
    ]
    assert recorded == await store.calls(eid)  # every field as a read has it
    call = await store.call(opened["id"])
    assert call is not None
    assert (call.status, call.result, call.actor, call.comment, call.decided_at) == (
        "resolved", {"ok": True}, "UB", "fine", at,
    )  # fmt: skip
    timers_left = await store.run(
        lambda conn: conn.execute(select(timers.c.status)).scalars().all()
    )
    assert timers_left == ["cancelled"]
    after = await store.run(outbox_rows)
    home = next(k for k in after if k.startswith("home:"))
    for key in (lock_key(opened["id"]), home):
        assert (after[key].version, after[key].pending) == (before[key].version + 1, True)
    assert after[run_key(eid)].version == before[run_key(eid)].version  # the run changes later
    hooks = {k: r for k, r in after.items() if r.kind == "webhook" and k not in before}
    key = f"hook:{wanted}:lock.decided:{opened['id']}"
    assert list(hooks) == [key]
    assert hooks[key].payload == {"subscription": wanted, "type": "lock.decided", "at": at}
    assert (hooks[key].execution_id, hooks[key].call_id, hooks[key].due_at) == (
        eid,
        opened["id"],
        at,
    )
    [logged] = [e for e in await store.events(eid) if e.kind == "lease"]
    assert (logged.at, logged.actor, logged.call_id, logged.detail) == (
        at,
        "UB",
        opened["id"],
        {"note": "ok"},
    )
    again = await store.decide(opened["id"], at, status="rejected", event=event, claim=claim)
    assert again is None
    assert await store.run(outbox_rows) == after


async def test_a_run_parks_with_everything_it_opened(store: SQLStore) -> None:
    """``suspend`` (one statement on Postgres, a transaction on SQLite): the calls and timers
    the run opened stored as given, a message row for each lock (not for other calls), a row
    for each subscription to ``lock.opened``, the run parked with its message and the App Homes
    shown again, and the trail in order, ending with the wait. Woken meanwhile: the same, but
    not parked, not bumped, no wait logged. Cancelled meanwhile: what it opened closes."""
    now = time.time()
    await store.open_home("UHOME", Workspace(team_id="T1"), now)
    wanted = await store.add_webhook("https://example.test/a", "s", ["lock.opened"], now)
    await store.add_webhook("https://example.test/b", "s", ["lock.decided"], now)

    def outbox_rows(conn: Any) -> dict[str, Any]:
        return {r.key: r for r in conn.execute(select(outbox))}

    async def park(status: str, seen: int) -> tuple[str, dict[str, Any], bool, dict[str, Any]]:
        eid = new_id()
        row = execution(eid, now, status=status, owner="me", wakeups=1)
        assert await store.create_execution(row, NewEvent(kind="started"))
        opened = lock(eid, data={"n": 1}).model_dump()
        slept = lock(eid, seq=2, kind="sleep", name="sleep", form=None).model_dump()
        timer = timer_row(eid, opened["id"], "deadline", now + 60, {"why": "x"})
        said = [NewEvent(kind="note", detail={"x": 1}), NewEvent(kind="posted", actor="UA")]
        awaiting = NewEvent(kind="awaiting", call_id=opened["id"])
        before = await store.run(outbox_rows)
        released, claimed = await store.suspend(
            eid, "me", seen, now, [opened, slept], [timer], said, awaiting
        )
        assert claimed is None
        if status == "running":  # stored as given
            for given in (opened, slept):
                assert await store.call(given["id"]) == Call.model_validate(given)
        return eid, opened, released, before

    eid, opened, released, before = await park("running", seen=1)
    assert released
    after = await store.run(outbox_rows)
    home = next(k for k in after if k.startswith("home:"))
    assert (after[home].version, after[run_key(eid)].version) == (before[home].version + 1, 2)
    shown = after[lock_key(opened["id"])]
    assert (shown.kind, shown.version, shown.shown, shown.pending, shown.location) == (
        "lock",
        1,
        0,
        True,
        None,
    )
    new = sorted(k for k in after if k not in before)
    hook = f"hook:{wanted}:lock.opened:{opened['id']}"
    assert new == sorted([lock_key(opened["id"]), hook])
    assert after[hook].payload == {"subscription": wanted, "type": "lock.opened", "at": now}
    trail = [(e.kind, e.actor, e.call_id, e.detail) for e in await store.events(eid)]
    assert trail[1:] == [
        ("note", None, None, {"x": 1}),
        ("posted", "UA", None, None),
        ("awaiting", None, opened["id"], None),
    ]
    parked = await store.execution(eid)
    assert parked is not None and (parked.status, parked.owner) == ("awaiting", None)

    def stored(conn: Any) -> list[Any]:
        found = select(calls.c.result.is_(None), timers.c.status, timers.c.payload, timers.c.due_at)
        return list(
            conn.execute(
                found.join_from(calls, timers, calls.c.id == timers.c.call_id).where(
                    calls.c.execution_id == eid
                )
            )
        )

    assert [tuple(r) for r in await store.run(stored)] == [
        (False, "pending", {"why": "x"}, now + 60)
    ]

    woken, _, released, before = await park("running", seen=0)
    assert not released
    after = await store.run(outbox_rows)
    assert after[run_key(woken)].version == 1 and after[home].version == before[home].version
    assert [e.kind for e in await store.events(woken)] == ["started", "note", "posted"]

    ended, opened, released, _ = await park("cancelled", seen=1)
    assert not released
    closed = await store.call(opened["id"])
    assert closed is not None and closed.status == "cancelled"
    assert [
        t.status
        for t in await store.run(
            lambda c: list(c.execute(select(timers).where(timers.c.execution_id == ended)))
        )
    ] == ["cancelled"]


async def test_a_run_ends_with_everything_it_left_open_closed(store: SQLStore) -> None:
    """``finish`` (one statement on Postgres, a transaction on SQLite): the run ended with its
    result, its open lock closed and its message shown again, its timers dropped, its message
    and the App Homes shown again, the ending in the trail, its posts written in order, a row
    for each subscription to how it ended. Ending it again changes nothing."""
    now = time.time()
    eid = new_id()
    assert await store.create_execution(
        execution(eid, now, status="running", owner="me"), NewEvent(kind="started")
    )
    opened = lock(eid).model_dump()
    await store.add(
        eid,
        now,
        new_calls=[opened],
        new_timers=[timer_row(eid, opened["id"], "deadline", now + 60)],
    )
    await store.open_home("UHOME", Workspace(team_id="T1"), now)
    wanted = await store.add_webhook("https://example.test/a", "s", ["run.finished"], now)
    failures = await store.add_webhook("https://example.test/b", "s", ["run.failed"], now)

    def outbox_rows(conn: Any) -> dict[str, Any]:
        return {r.key: r for r in conn.execute(select(outbox))}

    before = await store.run(outbox_rows)
    posts = [Post(key=f"post:{eid}:{n}", payload={"text": n}) for n in ("a", "b")]
    event = NewEvent(kind="finished", detail={"ok": True})
    ended, claimed = await store.finish(eid, "me", now, "finished", {"r": 1}, None, event, posts)
    assert ended and claimed is None
    done = await store.execution(eid)
    assert done is not None and (done.status, done.result, done.owner) == (
        "finished",
        {"r": 1},
        None,
    )
    closed = await store.call(opened["id"])
    assert closed is not None and (closed.status, closed.decided_at) == ("cancelled", now)
    timers_left = await store.run(
        lambda conn: conn.execute(select(timers.c.status)).scalars().all()
    )
    assert timers_left == ["cancelled"]
    after = await store.run(outbox_rows)
    home = next(k for k in after if k.startswith("home:"))
    for key in (run_key(eid), lock_key(opened["id"]), home):
        assert after[key].version > before[key].version and after[key].pending
    new = {k: r for k, r in after.items() if k not in before}
    hook = f"hook:{wanted}:run.finished:{eid}"
    assert sorted(new) == sorted([p.key for p in posts] + [hook])
    assert new[posts[0].key].id < new[posts[1].key].id  # in order
    assert [(new[p.key].kind, new[p.key].payload) for p in posts] == [
        ("post", {"text": "a"}),
        ("post", {"text": "b"}),
    ]
    assert (new[hook].payload, new[hook].call_id) == (
        {"subscription": wanted, "type": "run.finished", "at": now},
        None,
    )
    [logged] = [e for e in await store.events(eid) if e.kind == "finished"]
    assert (logged.at, logged.detail) == (now, {"ok": True})
    assert await store.finish(eid, "me", now, "error", None, "late", event, posts) == (False, None)
    assert await store.run(outbox_rows) == after

    failed = new_id()  # a failure: its error kept, announced as ``run.failed``
    assert await store.create_execution(
        execution(failed, now, status="running", owner="me"), NewEvent(kind="started")
    )
    event = NewEvent(kind="failed")
    assert await store.finish(failed, "me", now, "error", None, "boom", event) == (True, None)
    gone = await store.execution(failed)
    assert gone is not None and (gone.status, gone.error) == ("error", "boom")
    hooks = [k for k in await store.run(outbox_rows) if k.startswith("hook:") and failed in k]
    assert hooks == [f"hook:{failures}:run.failed:{failed}"]


async def test_twenty_transactions_at_once_keep_their_connections(store: SQLStore) -> None:
    """A busy process keeps the Postgres connections it opened (``POOL_SIZE``) and opens no
    more: a second burst of twice as many transactions at once runs on them, none opened anew
    (each new one costs a handshake and every statement prepared again)."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite runs every transaction inline, on one connection")

    def backend(conn: Any) -> int:
        return int(conn.execute(text("SELECT pg_backend_pid() FROM pg_sleep(0.05)")).scalar())

    async def burst(size: int) -> set[int]:
        return set(await asyncio.gather(*(store.run(backend) for _ in range(size))))

    first = await burst(POOL_SIZE)
    assert len(first) == POOL_SIZE
    assert await burst(2 * POOL_SIZE) == first


async def test_a_transaction_cancelled_midway_undoes_its_writes_and_gives_its_connection_back(
    store: SQLStore,
) -> None:
    """A bot stopping (or a request timing out) cancels store calls mid-statement: what a
    cancelled transaction wrote is not kept, and the pool gets every connection back, so later
    transactions still find one."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite runs every transaction inline: nothing awaits inside one")
    eid = new_id()
    assert await store.create_execution(execution(eid, 1.0), NewEvent(kind="started"))

    def write_then_wait(conn: Any) -> None:
        conn.execute(text("UPDATE executions SET error = 'half' WHERE id = :i"), {"i": eid})
        conn.execute(text("SELECT pg_sleep(5)"))

    def wait(conn: Any) -> None:
        conn.execute(text("SELECT pg_sleep(5)"))

    for call in [store.run(write_then_wait) for _ in range(POOL_SIZE)] + [
        store.single(wait) for _ in range(POOL_SIZE)
    ]:
        task = asyncio.create_task(call)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def error(conn: Any) -> Any:
        found = conn.execute(text("SELECT error FROM executions WHERE id = :i"), {"i": eid})
        return found.scalar_one()

    assert await asyncio.wait_for(store.run(error), 5) is None
    assert store.db.sync_engine.pool.checkedout() == 0  # type: ignore[union-attr]


async def test_a_decision_stands_when_reading_its_run_s_calls_after_it_fails(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On Postgres a decision (and the claim of its run) commits before the run's calls are
    read: that read failing does not undo it or leave the run claimed and idle; the engine
    claims the run again, reads the calls then, and runs it to its next lock."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite decides in one transaction, with the read")
    notes = RecordingNotifier()
    engine = Engine(store, [app], notes, FakeClock())
    try:
        eid = await engine.start("review", {"doc": "d"}, Request("review", "UA"))
        await engine.settled(eid)
        [content] = notes.of("lock_opened", eid)

        def unread(conn: Any, *args: Any) -> list[Call]:
            raise DBAPIError("SELECT calls", None, ConnectionResetError("reset by peer"))

        monkeypatch.setattr(at_once, "list_calls", unread)
        decision = await engine.submit(content.id, {"score": "4"}, "UB")
        monkeypatch.undo()
        await engine.settled(eid)
        assert decision.outcome == "accepted"
        assert [n for n in (await store.open_locks()).items()] == [("review", 1)]
        [final] = [c for c in notes.of("lock_opened", eid) if c.id != content.id]
        assert final.name == "final"
        assert "went unread after its decision: ConnectionResetError" in caplog.text
    finally:
        await engine.close()


async def test_a_decision_on_a_run_that_ended_returns_the_run_as_it_is(store: SQLStore) -> None:
    """A lock still open on a run that ended meanwhile is closed by the answer, but the run is
    not woken or claimed; the decision comes back with the run as it is."""
    now = time.time()
    eid = new_id()
    row = execution(eid, now, status="cancelled", error="stopped")
    assert await store.create_execution(row, NewEvent(kind="started"))
    opened = lock(eid).model_dump()
    await store.add(eid, now, new_calls=[opened])
    event = NewEvent(kind="lease", actor="UB", call_id=opened["id"])
    decided = await store.decide(
        opened["id"], now, status="resolved", event=event, claim=Claim("me", now, now - 60)
    )
    assert decided is not None
    run, recorded = decided
    assert (run.status, run.error, run.owner, run.wakeups, recorded) == (
        "cancelled",
        "stopped",
        None,
        0,
        None,
    )


WAITING = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def until_waiting(store: SQLStore, connections: int = 1) -> None:
    """Until ``connections`` to this database wait for locks others hold (Postgres)."""
    for _ in range(1000):
        if await store.run(lambda c: c.execute(text(WAITING)).scalar()) >= connections:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no connection came to wait for a lock")


@pytest.mark.parametrize("expire", [False, True], ids=["cancel", "cancel-expiring"])
async def test_a_lock_decided_while_its_run_is_cancelled_keeps_who_decided_it(
    db_url: str, store: SQLStore, expire: bool
) -> None:
    """On Postgres a person's answer may commit between the cancel's read of the run's open
    locks and its update that closes them: the lock stays theirs (it was named after whoever
    cancelled, and with ``expire`` said to have expired as well as to have been answered)."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the cancel starts after the answer")
    now = time.time()
    eid = new_id()
    assert await store.create_execution(
        execution(eid, now, status="awaiting"), NewEvent(kind="started")
    )
    opened = lock(eid).model_dump()
    await store.add(eid, now, new_calls=[opened])
    answering = connect(db_url)
    try:
        async with answering.connect() as conn:  # the answer: written, not yet committed
            await conn.execute(
                update(calls)
                .where(calls.c.id == opened["id"], calls.c.status == "open")
                .values(status="resolved", actor="UB", decided_at=now)
            )
            event = NewEvent(kind="cancelled", actor="UCANCEL", detail={"reason": "no"})
            cancelling = asyncio.create_task(store.cancel(eid, now, "no", event, [], expire=expire))
            await until_waiting(store)  # the cancel read the lock open, and waits for its row
            await conn.commit()
        assert await cancelling
    finally:
        await answering.dispose()
    decided = await store.call(opened["id"])
    assert decided is not None and (decided.status, decided.actor) == ("resolved", "UB")
    said = [e.kind for e in await store.events(eid) if e.call_id == opened["id"]]
    assert said == []
    ended = await store.execution(eid)
    assert ended is not None and ended.status == "cancelled"


async def test_a_lock_its_deadline_closes_while_its_run_is_cancelled_is_not_the_cancellers(
    db_url: str, store: SQLStore
) -> None:
    """The run is cancelled as its lock's deadline closes it (two transactions at once, on
    Postgres): the expired lock keeps no one as its decider; the cancel names its canceller
    only on the locks it closed."""
    if not db_url.startswith("postgresql"):
        pytest.skip("two writers at once: Postgres")
    now = time.time()
    eid = new_id()
    assert await store.create_execution(execution(eid, now), NewEvent(kind="started"))
    opened = lock(eid)
    await store.add(eid, now, new_calls=[opened.model_dump()])
    other = connect(db_url)
    try:
        async with other.connect() as conn:
            expiring = await conn.begin()
            expire = update(calls).where(calls.c.id == opened.id)
            await conn.execute(expire.values(status="expired", decided_at=now))
            cancelled = NewEvent(kind="cancelled", actor="UALICE")
            cancelling = asyncio.create_task(store.cancel(eid, now, "stop", cancelled))
            blocked = text(  # the cancel read the lock open, and waits on its row
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
                " AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
            for _ in range(500):
                if await store.run(lambda c: c.execute(blocked).scalar()):
                    break
                await asyncio.sleep(0.01)
            await expiring.commit()
        assert await cancelling
    finally:
        await other.dispose()
    [found] = await store.calls(eid)
    assert (found.status, found.actor) == ("expired", None)


async def test_bumps_of_every_app_home_at_once_lock_them_in_one_order(store: SQLStore) -> None:
    """Every state change shows every App Home again. Two changes at once, each updating the
    Homes in the order its plan scanned them (the key index's, the table's), each held a Home
    the other waited for: Postgres broke the tie only after its ``deadlock_timeout``, so a busy
    bot stalled a second at a time. Now both lock the Homes in one order: the second waits."""
    if store.db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    ws, now = Workspace(team_id="T1", enterprise_id=""), time.time()
    for n in reversed(range(40)):  # keys in the opposite order to ids
        await store.open_home(f"U{n:03d}", ws, now)
    ids = await store.run(
        lambda conn: [r.id for r in conn.execute(select(outbox.c.id).order_by(outbox.c.id))]
    )
    middle = ids[len(ids) // 2]

    async def bump(how: Any) -> None:
        async with store.db.begin() as conn:
            await conn.execute(text("SET LOCAL enable_seqscan = off"))  # as on a big table
            await conn.run_sync(how)

    async with store.db.begin() as holder:  # someone holds one Home in the middle
        await holder.execute(select(outbox.c.id).where(outbox.c.id == middle).with_for_update())
        both = [
            asyncio.create_task(bump(lambda c: ob.bump_homes(c, now))),
            asyncio.create_task(bump(lambda c: ob.bump(c, [run_key("r1")], now))),
        ]
        await until_waiting(store, 2)
    assert [r for r in await asyncio.gather(*both, return_exceptions=True) if r] == []


async def test_a_held_request_is_held_once_and_taken_over_by_one_process_when_its_time_is_up(
    store: SQLStore,
) -> None:
    """``hold`` is once per key; a row whose holder's time is up is taken by one of two
    processes looking at once (compare-and-set), not before; let go, it is never taken again,
    its payload is gone, and its key is kept (held again: no) until the time given."""
    row = {"key": "k1", "kind": "click", "payload": {"click": {"user": "U1"}, "does": "submit"},
           "owner": "p1", "until": 100.0, "attempts": 1, "created_at": 90.0,
           "done": False}  # fmt: skip
    assert await store.hold(row)
    assert not await store.hold(row | {"owner": "p2"})  # the same request again
    assert await store.take_held("p2", 99.0, 120.0, 10) == []  # p1's time is not up
    first, second = await asyncio.gather(
        store.take_held("p2", 101.0, 121.0, 10), store.take_held("p3", 101.0, 121.0, 10)
    )
    [taken] = first + second
    assert (taken.key, taken.kind, taken.attempts) == ("k1", "click", 2)
    assert taken.payload == row["payload"]
    assert await store.take_held("p3", 110.0, 130.0, 10) == []  # the taker's time is not up
    await store.let_go("k1", 500.0)
    assert await store.take_held("p3", 400.0, 410.0, 10) == []
    assert not await store.hold(row)  # handled lately: the same request again is no new one
    kept = await store.run(lambda c: c.execute(text("SELECT payload, done FROM held")).all())
    assert [tuple(r) for r in kept] == [(None, True)]  # what was typed is not kept
    assert await store.take_held("p3", 501.0, 510.0, 10) == []  # past its time: it goes
    assert await store.hold(row)
