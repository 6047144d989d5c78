"""The timers' transactions (see ``queries`` for how ``Store`` runs them): what is due, firing
each timer exactly once, retrying a nudge, and snoozing a lock's deadline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from store.models import Call, Execution, NewEvent, Timer
from store.queries import INSERT_EVENTS, Claim, call, decide, event_rows
from store.tables import calls, timers


def due_timers(conn: Connection, now: float, limit: int) -> list[Timer]:
    query = (
        select(timers)
        .where(timers.c.status == "pending", timers.c.due_at <= now)
        .order_by(timers.c.due_at)
        .limit(limit)
    )
    return [Timer.model_validate(r._mapping) for r in conn.execute(query)]


def fire_only(conn: Connection, timer_id: int, now: float) -> bool:
    """The timer's compare-and-set: exactly one caller moves it from pending to fired."""
    fired = conn.execute(
        update(timers)
        .where(timers.c.id == timer_id, timers.c.status == "pending")
        .values(status="fired", fired_at=now, attempts=timers.c.attempts + 1)
    )
    return fired.rowcount == 1


def fire_timer(
    conn: Connection,
    timer: Timer,
    now: float,
    status: str,
    result: Any,
    comment: str | None,
    event: NewEvent,
    claim: Claim | None,
) -> Execution | None:
    """Close the timer's call (its compare-and-set decides) and mark the timer fired. Rows are
    taken in the order every path uses, call then timers then execution, so a submission
    racing the deadline cannot deadlock with it."""
    if timer.call_id is None:
        return None
    woken = decide(conn, timer.call_id, now, status, result, None, comment, event, claim)
    if woken:  # this timer closed the call (decide just dropped it with the call's others)
        done = {"status": "fired", "fired_at": now, "attempts": timers.c.attempts + 1}
        conn.execute(update(timers).where(timers.c.id == timer.id).values(**done))
    else:  # the call was closed by someone else first: the timer has nothing left to do
        conn.execute(
            update(timers)
            .where(timers.c.id == timer.id, timers.c.status == "pending")
            .values(status="cancelled")
        )
    return woken


def retry_timer(conn: Connection, timer_id: int, due_at: float) -> None:
    conn.execute(
        update(timers)
        .where(timers.c.id == timer_id, timers.c.status == "fired")
        .values(status="pending", due_at=due_at)
    )


def snooze(conn: Connection, call_id: str, by: float, now: float, event: NewEvent) -> Call | None:
    """Push an open lock's deadline (and its pending deadline timer) back by ``by`` seconds."""
    moved = conn.execute(
        update(calls)
        .where(calls.c.id == call_id, calls.c.status == "open")
        .values(deadline=calls.c.deadline + by)
        .returning(calls.c.execution_id)
    ).scalar()
    if moved is None:
        return None
    conn.execute(
        update(timers)
        .where(
            timers.c.call_id == call_id, timers.c.kind == "deadline", timers.c.status == "pending"
        )
        .values(due_at=timers.c.due_at + by)
    )
    conn.execute(INSERT_EVENTS, event_rows(moved, now, [event]))
    return call(conn, call_id)
