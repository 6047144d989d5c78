"""The timers' transactions (see ``transactions`` for how ``SQLStore`` runs them): what is
due, firing each timer exactly once, retrying a nudge, and snoozing a lock's deadline."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlalchemy.engine import Connection

from flows.engine.records import (
    NUDGES,
    Call,
    Claim,
    Closing,
    Execution,
    NewEvent,
    Post,
    Timer,
    missed,
)
from store import outbox as ob
from store.fast import run
from store.tables import calls, events, executions, timers
from store.transactions import (
    CLAIMABLE,
    INSERT_EVENTS,
    LIVE,
    call,
    event_rows,
    execution,
    execution_row,
)

# seconds within which a person's second snooze of a lock is taken for their first again: a
# double-click is two requests, with two trigger ids
DOUBLE_CLICK = 3.0


def due_timers(conn: Connection, now: float, limit: int) -> list[Timer]:
    query = (
        select(timers)
        .where(timers.c.status == "pending", timers.c.due_at <= now)
        .order_by(timers.c.due_at)
        .limit(limit)
    )
    return [Timer.model_validate(r._mapping) for r in conn.execute(query)]


def fire_only(
    conn: Connection,
    timer_id: int,
    now: float,
    posts: Sequence[Post],
    new_events: Sequence[NewEvent],
    new_timers: Sequence[dict[str, Any]],
) -> bool:
    """The timer's compare-and-set: exactly one caller moves it from pending to fired, and
    records what firing it says (``posts``), means (``new_events``) and plans next. A timer
    moved later meanwhile is not due: it waits for its new time."""
    fired = conn.execute(
        update(timers)
        .where(timers.c.id == timer_id, timers.c.status == "pending", timers.c.due_at <= now)
        .values(status="fired", fired_at=now, attempts=timers.c.attempts + 1)
        .returning(timers.c.execution_id)
    ).scalar()
    if fired is None:
        return False
    ob.add_posts(conn, fired, posts, now)
    if new_events:
        run(conn, INSERT_EVENTS, event_rows(fired, now, new_events))
    if any(e.kind == "escalated" for e in new_events):
        ob.bump_homes(conn, now)  # those it added may answer now: their Homes list the lock
    if new_timers:
        conn.execute(insert(timers), list(new_timers))
    return True


def snooze(
    conn: Connection,
    call_id: str,
    by: float,
    now: float,
    event: NewEvent,
    posts: Sequence[Post],
    reminders: Callable[[float], Sequence[float]] | None = None,
) -> Call | None:
    """Push an open lock's deadline (and its pending deadline timer) back by ``by`` seconds,
    from now if it has passed (a kept lock past its deadline gets a deadline timer again). Its
    ``posts`` (each payload given the deadline it sets, ``until``) are written first: when one
    is already there under its key, this snooze was made before (the same request again), and
    nothing moves; nor when the same person snoozed it less than ``DOUBLE_CLICK`` seconds ago
    (a double-click is two requests). Its reminders not yet due give way to
    ``reminders(new deadline)`` after ``now``."""
    open_lock = (calls.c.id == call_id) & (calls.c.status == "open")
    # The lock's row is taken first (Postgres): a deadline or an answer closing it meanwhile is
    # waited for and seen, so a snooze that lost says nothing (a post under the closed form).
    found = select(calls.c.execution_id, calls.c.deadline).where(open_lock).with_for_update()
    row = conn.execute(found).first()
    if row is None:
        return None
    moved, deadline = row
    if event.actor is not None and conn.execute(  # (the lock's row held: in order)
        select(events.c.id).where(
            events.c.execution_id == moved, events.c.call_id == call_id,
            events.c.kind == "snoozed", events.c.actor == event.actor,
            events.c.at > now - DOUBLE_CLICK,
        ).limit(1)
    ).first():  # fmt: skip
        return call(conn, call_id)  # the same person's double-click: snoozed once
    # by ``by`` from the deadline, or from now when it has passed (a kept lock, overdue)
    until = None if deadline is None else max(deadline, now) + by
    if until is not None:  # each says the deadline it set, however late it is shown
        posts = [p.model_copy(update={"payload": {**p.payload, "until": until}}) for p in posts]
    if ob.add_posts(conn, moved, posts, now) < len(posts):
        return call(conn, call_id)
    if until is not None:
        conn.execute(update(calls).where(open_lock).values(deadline=until))
        moved_timer = conn.execute(
            update(timers)
            .where(
                timers.c.call_id == call_id,
                timers.c.kind == "deadline",
                timers.c.status == "pending",
            )
            .values(due_at=until)
        )
        if not moved_timer.rowcount:  # a kept lock past its deadline: one again
            conn.execute(insert(timers), [_deadline_row(moved, call_id, until)])
        if reminders is not None:
            _plan_reminders(conn, moved, call_id, [t for t in reminders(until) if t > now], now)
    run(conn, INSERT_EVENTS, event_rows(moved, now, [event]))
    ob.bump_homes(conn, now)  # the Homes that list the lock show its deadline
    return call(conn, call_id)


def _deadline_row(execution_id: str, call_id: str, due_at: float) -> dict[str, Any]:
    return {
        "execution_id": execution_id, "call_id": call_id, "kind": "deadline", "due_at": due_at,
        "status": "pending", "attempts": 0, "fired_at": None, "payload": None,
    }  # fmt: skip


def _plan_reminders(
    conn: Connection, execution_id: str, call_id: str, at: Sequence[float], now: float
) -> None:
    """The lock's reminders still to come are those ``at``."""
    conn.execute(
        update(timers)
        .where(timers.c.call_id == call_id, timers.c.kind == "remind")
        .where(timers.c.status == "pending", timers.c.due_at > now)
        .values(status="cancelled")
    )
    row = {"execution_id": execution_id, "call_id": call_id, "kind": "remind"}
    if at:
        conn.execute(insert(timers), [row | {"due_at": due, "status": "pending"} for due in at])


_CLOSE_MANY = (
    update(calls)
    .where(
        calls.c.id.in_(bindparam("cids", expanding=True)),
        calls.c.status == "open",
        or_(calls.c.deadline.is_(None), calls.c.deadline <= bindparam("at")),  # not snoozed
    )
    .values(
        status=bindparam("d_status"),
        result=bindparam("d_result"),
        comment=bindparam("d_comment"),
        decided_at=bindparam("at"),
    )
    .returning(calls.c.id)
)
_WAKE_MANY = (
    update(executions)
    .where(executions.c.id.in_(bindparam("eids", expanding=True)), LIVE)
    .values(
        status="running",
        wakeups=executions.c.wakeups + 1,
        updated_at=bindparam("at"),
        owner=case((CLAIMABLE, bindparam("me")), else_=executions.c.owner),
        heartbeat_at=case((CLAIMABLE, bindparam("at")), else_=executions.c.heartbeat_at),
    )
    .returning(*executions.c)
)


def _missed(conn: Connection, closed: set[str], fired: list[int], now: float) -> list[Any]:
    """Event rows for the reminders and escalations of ``closed`` calls that were due and never
    went (no process ran then, and the deadline came with them): the trail says so, as they
    are dropped with their call."""
    if not closed:
        return []
    query = (
        select(timers.c.execution_id, timers.c.call_id, timers.c.kind, timers.c.due_at)
        .where(timers.c.call_id.in_(closed), timers.c.status == "pending")
        .where(timers.c.kind.in_(list(NUDGES)), timers.c.due_at <= now, timers.c.id.not_in(fired))
        .order_by(timers.c.due_at, timers.c.id)
    )
    return [
        row
        for eid, cid, kind, due in conn.execute(query)
        for row in event_rows(eid, now, [missed(cid, kind, due, "the deadline")])
    ]


def fire_closing(
    conn: Connection, closing: Sequence[Closing], now: float, claim: Claim
) -> dict[int, Execution]:
    """Fire timers that close their call, each exactly once, in a handful of statements
    whatever their number (a thousand deadlines in the same second cost one transaction): the
    call's compare-and-set decides, its other pending timers are dropped, its execution woken
    (and claimed for ``claim``'s owner if no live process holds it). Returns the timers this
    caller fired, with the execution each woke; a timer whose call was already closed is
    cancelled. A call whose deadline moved later (a snooze, even one committed while this
    runs) stays open, its timer pending for the new time. Rows are taken in the usual order:
    calls, then timers, then executions."""
    closed: set[str] = set()
    groups: dict[tuple[str, str, str | None], list[Closing]] = {}
    for c in closing:
        groups.setdefault((c.status, json.dumps(c.result), c.comment), []).append(c)
    for (status, _, comment), group in groups.items():
        params = {"d_status": status, "d_result": group[0].result, "d_comment": comment}
        cids = [c.timer.call_id for c in group]
        closed.update(conn.execute(_CLOSE_MANY, {"cids": cids, "at": now, **params}).scalars())
    ob.bump(conn, [ob.lock_key(cid) for cid in sorted(closed)], now)
    won = [c for c in closing if c.timer.call_id in closed]
    deadlines = [c.timer for c in won if c.timer.kind == "deadline"]
    ob.add_hooks(conn, [(t.execution_id, t.call_id, "lock.expired") for t in deadlines], now)
    won_ids = [c.timer.id for c in won]
    overdue = _missed(conn, closed, won_ids, now)
    conn.execute(
        update(timers)
        .where(timers.c.call_id.in_(closed), timers.c.status == "pending")
        .values(status=case((timers.c.id.in_(won_ids), "fired"), else_="cancelled"))
        .values(fired_at=case((timers.c.id.in_(won_ids), now), else_=timers.c.fired_at))
        .values(attempts=timers.c.attempts + case((timers.c.id.in_(won_ids), 1), else_=0))
    )
    lost = [c for c in closing if c.timer.call_id not in closed]
    if lost:  # already closed: the timer goes; still open (snoozed): it waits
        lost_calls = [c.timer.call_id for c in lost]
        decided = select(calls.c.id).where(calls.c.id.in_(lost_calls), calls.c.status != "open")
        conn.execute(
            update(timers)
            .where(timers.c.id.in_([c.timer.id for c in lost]), timers.c.status == "pending")
            .where(timers.c.call_id.in_(decided))
            .values(status="cancelled")
        )
    if not won:
        return {}
    eids = sorted({c.timer.execution_id for c in won})
    params = {"eids": eids, "at": now, "me": claim.owner, "stale": claim.stale_before}
    woken = {r.id: execution_row(r) for r in conn.execute(_WAKE_MANY, params)}
    for eid in set(eids) - woken.keys():  # already ended: nothing to wake, as in ``decide``
        if (ended := execution(conn, eid)) is not None:
            woken[eid] = ended
    events = [row for c in won for row in event_rows(c.timer.execution_id, now, [c.event])]
    run(conn, INSERT_EVENTS, events + overdue)
    return {c.timer.id: woken[c.timer.execution_id] for c in won if c.timer.execution_id in woken}
