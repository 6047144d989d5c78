"""A run's transactions and its calls', each a plain function over a SQLAlchemy ``Connection``.

``SQLStore`` runs each of them whole: inline on SQLite (no thread hop, and a transaction never
yields to the event loop), through ``AsyncConnection.run_sync`` on Postgres. Every write that
decides something is a compare-and-set whose row count, or returned row, says who won.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlalchemy.engine import Connection

from flows.engine.records import (
    TERMINAL,
    Call,
    Claim,
    Execution,
    NewEvent,
    Post,
)
from store import outbox as ob
from store.fast import Prepared, run
from store.lists import any_of, none_of, one_of
from store.tables import calls, events, executions, timers

LIVE = none_of(executions.c.status, TERMINAL)
LIVE_IDS = select(executions.c.id).where(LIVE)
RUNNABLE = ("starting", "running")


# Hot-path statements, built once: building a statement costs more than SQLite runs it.
CLAIMABLE = or_(
    executions.c.owner.is_(None),
    executions.c.owner == bindparam("me"),
    executions.c.heartbeat_at < bindparam("stale"),
)
_CLAIM = Prepared(
    update(executions)
    .where(executions.c.id == bindparam("eid"), any_of(executions.c.status, RUNNABLE), CLAIMABLE)
    .values(owner=bindparam("me"), heartbeat_at=bindparam("at"), status="running")
    .returning(*executions.c)
)
_calls = select(calls).where(calls.c.execution_id == bindparam("eid")).order_by(calls.c.seq)
_CALLS = Prepared(_calls)
_OPEN_CALLS = Prepared(_calls.where(calls.c.status == "open"))
_CALL = Prepared(select(calls).where(calls.c.id == bindparam("cid")))
_EXECUTION = Prepared(select(executions).where(executions.c.id == bindparam("eid")))
_CALLS_BY_ID = Prepared(select(calls).where(one_of(calls.c.id, "cids")))
_CLOSE_CALL = Prepared(
    update(calls)
    .where(calls.c.id == bindparam("cid"), calls.c.status == "open")
    .values(
        status=bindparam("d_status"),
        result=bindparam("d_result"),
        actor=bindparam("d_actor"),
        comment=bindparam("d_comment"),
        decided_at=bindparam("at"),
    )
    .returning(calls.c.execution_id)
)
_DROP_TIMERS = Prepared(
    update(timers)
    .where(timers.c.call_id == bindparam("cid"), timers.c.status == "pending")
    .values(status="cancelled")
)
_wake = (
    update(executions)
    .where(executions.c.id == bindparam("eid"), LIVE)
    .values(status="running", wakeups=executions.c.wakeups + 1, updated_at=bindparam("at"))
    .returning(*executions.c)
)
_WAKE = Prepared(_wake)
_WAKE_AND_CLAIM = Prepared(
    _wake.values(
        owner=case((CLAIMABLE, bindparam("me")), else_=executions.c.owner),
        heartbeat_at=case((CLAIMABLE, bindparam("at")), else_=executions.c.heartbeat_at),
    )
)
_PARK = Prepared(
    update(executions)
    .where(
        executions.c.id == bindparam("eid"),
        executions.c.owner == bindparam("me"),
        executions.c.wakeups == bindparam("seen"),
        any_of(executions.c.status, RUNNABLE),
    )
    .values(status="awaiting", owner=None, updated_at=bindparam("at"))
)
_INSERT_EXECUTION = Prepared(insert(executions).returning(*executions.c))
_PROGRESS = Prepared(
    update(executions)
    .where(executions.c.id == bindparam("eid"))
    .values(progress=executions.c.progress + bindparam("n"))
)
INSERT_EVENTS = Prepared(insert(events))
INSERT_TIMERS = Prepared(insert(timers))
_INSERT_CALLS = Prepared(insert(calls))


def _claim_params(claim: Claim) -> dict[str, Any]:
    return {"me": claim.owner, "at": claim.now, "stale": claim.stale_before}


def event_rows(execution_id: str, at: float, new: Iterable[NewEvent]) -> list[dict[str, Any]]:
    return [{"execution_id": execution_id, "at": at, **e.model_dump()} for e in new]


def execution_row(row: Any) -> Execution:
    return execution_values(row._asdict())


def execution_values(values: dict[str, Any]) -> Execution:
    return Execution.model_validate({**values, "context": values["context"] or {}})


def call_row(row: Any) -> Call:
    return Call.model_validate(row._asdict())


# executions ---------------------------------------------------------------------------------


def create_execution(conn: Connection, row: dict[str, Any], event: NewEvent) -> Execution:
    created = run(conn, _INSERT_EXECUTION, row).one()
    run(conn, INSERT_EVENTS, event_rows(row["id"], row["created_at"], [event]))
    ob.add_run(conn, row["id"], row["created_at"])
    return execution_row(created)


def execution(conn: Connection, execution_id: str) -> Execution | None:
    row = run(conn, _EXECUTION, {"eid": execution_id}).first()
    return execution_row(row) if row else None


_CALL_AND_RUN = Prepared(
    select(*calls.c, *executions.c)
    .join_from(calls, executions, calls.c.execution_id == executions.c.id)
    .where(calls.c.id == bindparam("cid"))
)
_CALL_KEYS = tuple(c.key for c in calls.c)
_RUN_KEYS = tuple(c.key for c in executions.c)


def call_and_run(conn: Connection, call_id: str) -> tuple[Call, Execution] | None:
    """A call and its execution, read together in one statement."""
    row = run(conn, _CALL_AND_RUN, {"cid": call_id}).first()
    if row is None:
        return None
    split = len(_CALL_KEYS)
    found = Call.model_validate(dict(zip(_CALL_KEYS, row[:split], strict=True)))
    return found, execution_values(dict(zip(_RUN_KEYS, row[split:], strict=True)))


def claim(conn: Connection, execution_id: str, claim: Claim) -> tuple[Execution, list[Call]] | None:
    row = run(conn, _CLAIM, {"eid": execution_id, **_claim_params(claim)}).first()
    return (execution_row(row), list_calls(conn, execution_id, False)) if row else None


def heartbeat(conn: Connection, execution_id: str, owner: str, now: float) -> bool:
    beat = conn.execute(
        update(executions)
        .where(executions.c.id == execution_id, executions.c.owner == owner)
        .values(heartbeat_at=now)
    )
    return beat.rowcount == 1


def runnable(conn: Connection, stale_before: float, limit: int) -> list[str]:
    query = (
        select(executions.c.id)
        .where(
            any_of(executions.c.status, RUNNABLE),
            or_(executions.c.owner.is_(None), executions.c.heartbeat_at < stale_before),
        )
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def suspend(
    conn: Connection,
    execution_id: str,
    owner: str,
    wakeups: int,
    now: float,
    new_calls: Sequence[dict[str, Any]],
    new_timers: Sequence[dict[str, Any]],
    new_events: Sequence[NewEvent],
    awaiting: NewEvent,
) -> bool:
    add(conn, execution_id, now, new_calls, new_timers, (), 0, homes=False)  # bumped below
    params = {"eid": execution_id, "me": owner, "seen": wakeups, "at": now}
    released = run(conn, _PARK, params).rowcount == 1
    if released:
        ob.bump(conn, [ob.run_key(execution_id)], now)
    logged = [*new_events, awaiting] if released else list(new_events)
    if logged:
        run(conn, INSERT_EVENTS, event_rows(execution_id, now, logged))
    if not released and ended(conn, execution_id):  # cancelled meanwhile: what it opened closes
        close_open(conn, execution_id, now)
    return released


def ended(conn: Connection, execution_id: str) -> bool:
    found = select(executions.c.id).where(executions.c.id == execution_id, ~LIVE)
    return conn.execute(found).first() is not None


OPEN_LOCKS = Prepared(
    select(calls.c.id).where(
        calls.c.execution_id == bindparam("eid"), calls.c.status == "open", calls.c.kind == "lock"
    )
)
_CLOSE_CALLS = Prepared(
    update(calls)
    .where(calls.c.execution_id == bindparam("eid"), calls.c.status == "open")
    .values(status="cancelled", decided_at=bindparam("at"))
)
_CLOSE_TIMERS = Prepared(
    update(timers)
    .where(timers.c.execution_id == bindparam("eid"), timers.c.status == "pending")
    .values(status="cancelled")
)


def close_open(conn: Connection, execution_id: str, now: float) -> None:
    """Close an ending run's open calls (their messages show it) and drop its timers."""
    open_locks = run(conn, OPEN_LOCKS, {"eid": execution_id}).scalars()
    ob.bump(conn, [ob.lock_key(cid) for cid in open_locks], now)
    run(conn, _CLOSE_CALLS, {"eid": execution_id, "at": now})
    run(conn, _CLOSE_TIMERS, {"eid": execution_id})


# calls --------------------------------------------------------------------------------------


def add(
    conn: Connection,
    execution_id: str,
    now: float,
    new_calls: Sequence[dict[str, Any]],
    new_timers: Sequence[dict[str, Any]],
    new_events: Sequence[NewEvent],
    progress: int,
    posts: Sequence[Post] = (),
    homes: bool = True,
) -> None:
    if new_calls:
        run(conn, _INSERT_CALLS, list(new_calls))
        ob.add_locks(conn, new_calls, now, homes)
    ob.add_posts(conn, execution_id, posts, now)
    if new_timers:
        run(conn, INSERT_TIMERS, list(new_timers))
    if new_events:
        run(conn, INSERT_EVENTS, event_rows(execution_id, now, new_events))
    if progress:
        run(conn, _PROGRESS, {"eid": execution_id, "n": progress})


def call(conn: Connection, call_id: str) -> Call | None:
    row = run(conn, _CALL, {"cid": call_id}).first()
    return call_row(row) if row else None


def calls_by_id(conn: Connection, call_ids: Sequence[str]) -> list[Call]:
    return [call_row(r) for r in run(conn, _CALLS_BY_ID, {"cids": list(call_ids)})]


_OPEN_LOCKS_OF = Prepared(
    select(calls)
    .where(one_of(calls.c.execution_id, "eids"), calls.c.status == "open", calls.c.kind == "lock")
    .order_by(calls.c.seq)
)


def open_locks_of(conn: Connection, execution_ids: Sequence[str]) -> dict[str, list[Call]]:
    found: dict[str, list[Call]] = {}
    for row in run(conn, _OPEN_LOCKS_OF, {"eids": list(execution_ids)}):
        found.setdefault(row.execution_id, []).append(call_row(row))
    return found


def list_calls(conn: Connection, execution_id: str, open_only: bool) -> list[Call]:
    query = _OPEN_CALLS if open_only else _CALLS
    return [call_row(r) for r in run(conn, query, {"eid": execution_id})]


def decide(
    conn: Connection,
    call_id: str,
    now: float,
    status: str,
    result: Any,
    actor: str | None,
    comment: str | None,
    event: NewEvent,
    claim: Claim | None,
) -> tuple[Execution, list[Call] | None] | None:
    """Close an open lock (compare-and-set) and wake its run; None if it was not open. With
    ``claim``, the run is also claimed when free, and then comes with its calls (what the
    claimant replays), all in this one transaction. Postgres runs ``at_once.decide``."""
    decision = {"d_status": status, "d_result": result, "d_actor": actor, "d_comment": comment}
    execution_id = run(conn, _CLOSE_CALL, {"cid": call_id, "at": now, **decision}).scalar()
    if execution_id is None:
        return None
    run(conn, _DROP_TIMERS, {"cid": call_id})
    ob.bump(conn, [ob.lock_key(call_id)], now)
    ob.add_hooks(conn, [(execution_id, call_id, "lock.decided")], now)
    if claim is None:
        row = run(conn, _WAKE, {"eid": execution_id, "at": now}).first()
    else:
        row = run(conn, _WAKE_AND_CLAIM, {"eid": execution_id, **_claim_params(claim)}).first()
    run(conn, INSERT_EVENTS, event_rows(execution_id, now, [event]))
    woken = execution_row(row) if row else execution(conn, execution_id)
    if woken is None:
        return None
    mine = claim is not None and woken.owner == claim.owner
    return woken, list_calls(conn, execution_id, False) if mine else None
