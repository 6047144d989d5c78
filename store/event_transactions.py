"""The audit trail's transactions: events appended, refusals, votes on a quorum lock, and a
run's trail read whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, case, distinct, func, select, update
from sqlalchemy.engine import Connection

from flows.engine.records import Call, Claim, Event, Execution, NewEvent
from store import outbox as ob
from store.fast import Prepared, run
from store.lists import any_of
from store.tables import calls, events, executions
from store.transactions import INSERT_EVENTS, decide, event_rows, execution, list_calls


def append(conn: Connection, execution_id: str, now: float, new: Sequence[NewEvent]) -> None:
    run(conn, INSERT_EVENTS, event_rows(execution_id, now, new))


_TAKE_OPEN = Prepared(  # a no-op write: the lock row's write lock, held until the transaction ends
    update(calls)
    .where(calls.c.id == bindparam("cid"), calls.c.status == "open")
    .values(status="open")
    .returning(calls.c.execution_id)
)


def refuse(
    conn: Connection, execution_id: str, now: float, event: NewEvent, call_id: str, draft: Any
) -> bool:
    """An answer to a lock was refused (``event``); its message shows why (``draft``; None:
    as it is). False, and nothing recorded, when the lock was decided meanwhile."""
    if run(conn, _TAKE_OPEN, {"cid": call_id}).first() is None:
        return False
    run(conn, INSERT_EVENTS, event_rows(execution_id, now, [event]))
    if draft is not None:
        ob.bump_draft(conn, call_id, draft, now)
    return True


VOTES = ("approved", "declined")


def list_votes(conn: Connection, execution_id: str, call_id: str) -> list[Event]:
    query = (
        select(events)
        .where(
            events.c.execution_id == execution_id,
            events.c.call_id == call_id,
            any_of(events.c.kind, VOTES),
        )
        .order_by(events.c.id)
    )
    return [Event.model_validate(r._mapping) for r in conn.execute(query)]


def vote(
    conn: Connection, call_id: str, now: float, event: NewEvent
) -> tuple[bool, list[Event]] | None:
    """Record one response to an open quorum lock and return every response so far. Taken
    under the lock row's write lock, so two people answering at once each see the other.
    An approval from someone whose latest response is an approval is not recorded (False).
    None: the lock is no longer open."""
    execution_id = run(conn, _TAKE_OPEN, {"cid": call_id}).scalar()
    if execution_id is None:
        return None
    votes = list_votes(conn, execution_id, call_id)
    theirs = [v.kind for v in votes if v.actor == event.actor]
    if event.kind == "approved" and theirs and theirs[-1] == "approved":
        return False, votes
    run(conn, INSERT_EVENTS, event_rows(execution_id, now, [event]))
    ob.bump(conn, [ob.lock_key(call_id)], now)
    return True, list_votes(conn, execution_id, call_id)


def stalled_quorums(conn: Connection, before: float, limit: int) -> list[Call]:
    """Open locks of live runs that two people or more have approved, with no response since
    ``before``: quorum locks whose deciding process may have died between the vote that met
    the quorum and the decision (two transactions). The engine counts them."""
    approvers = func.count(distinct(case((events.c.kind == "approved", events.c.actor))))
    voted = (
        select(events.c.call_id)
        .join(executions, executions.c.id == events.c.execution_id)
        .where(any_of(executions.c.status, LIVE), any_of(events.c.kind, VOTES))
        .group_by(events.c.call_id)
        .having(approvers >= 2, func.max(events.c.at) <= before)
    )
    query = (
        select(calls)
        .where(calls.c.id.in_(voted), calls.c.kind == "lock", calls.c.status == "open")
        .order_by(calls.c.created_at)
        .limit(limit)
    )
    return [Call.model_validate(r._mapping) for r in conn.execute(query)]


LIVE = ("starting", "running", "awaiting")


def decide_counted(
    conn: Connection,
    call_id: str,
    now: float,
    status: str,
    result: Any,
    actor: str | None,
    comment: str | None,
    event: NewEvent,
    claim: Claim | None,
    votes: int,
) -> tuple[Execution, list[Call] | None] | None:
    """``transactions.decide`` for a quorum lock, only while it has exactly ``votes``
    responses: taken under the row lock ``vote`` takes, so no response lands uncounted
    between the count and the decision (on Postgres each statement reads what committed
    before it, the votes that held the lock included). None: not open, or more responses."""
    execution_id = run(conn, _TAKE_OPEN, {"cid": call_id}).scalar()
    if execution_id is None or len(list_votes(conn, execution_id, call_id)) != votes:
        return None
    return decide(conn, call_id, now, status, result, actor, comment, event, claim)


_EVENTS = Prepared(
    select(events)
    .where(events.c.execution_id == bindparam("eid"), events.c.id > bindparam("after"))
    .order_by(events.c.id)
)


def list_events(conn: Connection, execution_id: str, after: int = 0) -> list[Event]:
    rows = run(conn, _EVENTS, {"eid": execution_id, "after": after})
    return [Event.model_validate(r._asdict()) for r in rows]


def trail(conn: Connection, execution_id: str) -> tuple[Execution, list[Call], list[Event]] | None:
    found = execution(conn, execution_id)
    if found is None:
        return None
    return found, list_calls(conn, execution_id, False), list_events(conn, execution_id)
