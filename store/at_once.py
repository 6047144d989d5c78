"""Postgres: a lock decided, a run parked, a run ended, each in one statement. On SQLite they
are transactions of several statements (``transactions.decide`` is seven, ``suspend`` up to
eight, ``finish`` up to nine), which cost it no round trips; over the network each statement
is one, and BEGIN and COMMIT two more. Here the same writes are the data-modifying CTEs of one
statement: deciding is one round trip outside a transaction (``SQLStore.single``) and a second
to read the claimed run's calls; parking and ending are one each, in the transaction that also
claims the run's messages (``deliveries.park``, ``end``). The rows a run opened or posted go as
JSON arrays (``json_to_recordset``), so each statement is prepared once however many rows it
writes. No parameter is named as a column: ``fast.Prepared`` would have every update of the
statement write it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    String,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from flows.engine.records import Call, Claim, Execution, NewEvent, Post
from store.endings import RUN_EVENTS
from store.fast import Prepared, run
from store.lists import any_of
from store.outbox import BUMP_WITH_HOMES, HOOK, LOCK, lock_key, run_key
from store.outbox import bumped as bump_values
from store.tables import calls, events, executions, outbox, timers, webhooks
from store.transactions import (
    CLAIMABLE,
    LIVE,
    RUNNABLE,
    close_open,
    ended,
    execution_values,
    list_calls,
)

log = logging.getLogger(__name__)

DECIDED, OPENED = "lock.decided", "lock.opened"


def _decide(claim: bool) -> Any:
    at, cid = bindparam("at", type_=Float), bindparam("cid", type_=String)
    closed = (
        update(calls)
        .where(calls.c.id == cid, calls.c.status == "open")
        .values(
            status=bindparam("d_status"),
            result=bindparam("d_result"),
            actor=bindparam("d_actor"),
            comment=bindparam("d_comment"),
            decided_at=at,
        )
        .returning(calls.c.execution_id)
        .cte("closed")
    )
    happened = exists(select(closed.c.execution_id))
    dropped = (
        update(timers)
        .where(timers.c.call_id == cid, timers.c.status == "pending", happened)
        .values(status="cancelled")
        .cte("dropped")
    )
    bumped = BUMP_WITH_HOMES.where(happened).cte("bumped")
    decided = literal(DECIDED)
    hooks = _hooks(decided, cid, closed.c.execution_id, cid, closed, at).cte("hooks")
    woke_at = bindparam("woke_at", type_=Float)  # the claim's time, as the transaction's
    wake = (
        update(executions)
        .where(executions.c.id == closed.c.execution_id, LIVE)
        .values(status="running", wakeups=executions.c.wakeups + 1, updated_at=woke_at)
    )
    if claim:
        wake = wake.values(
            owner=case((CLAIMABLE, bindparam("me")), else_=executions.c.owner),
            heartbeat_at=case((CLAIMABLE, woke_at), else_=executions.c.heartbeat_at),
        )
    woken = wake.returning(*executions.c).cte("woken")
    current = executions.alias("current")  # the run as it was, if it was not woken
    run_row = [
        case((woken.c.id.is_(None), current.c[c.name]), else_=woken.c[c.name]).label(c.name)
        for c in executions.c
    ]
    return (
        select(closed.c.execution_id.label("decided_in"), *run_row)
        .select_from(
            closed.outerjoin(woken, true()).join(current, current.c.id == closed.c.execution_id)
        )
        .add_cte(dropped, bumped, hooks, _log(closed.c.execution_id, at).cte("logged"))
    )


def _hooks(event: Any, subject: Any, execution_id: Any, call_id: Any, source: Any, at: Any) -> Any:
    """``outbox.add_hooks`` as one insert: a row for each live subscription to ``event``, for
    each of ``source``'s rows (``subject``: the lock's or the run's id, as the key names it)."""
    payload = func.json_build_object(
        literal_column("'subscription'"), webhooks.c.id,
        literal_column("'type'"), event,
        literal_column("'at'"), at,
    )  # fmt: skip
    key = literal("hook:") + cast(webhooks.c.id, String) + ":" + event + ":" + subject
    row = _outbox_row(key, execution_id, call_id, literal(HOOK), payload, at)
    subscribed = select(*row.values()).select_from(source)
    subscribed = subscribed.where(
        webhooks.c.removed_at.is_(None), cast(webhooks.c.events, JSONB).has_key(event)
    )
    return (
        postgresql.insert(outbox)
        .from_select(list(row), subscribed)
        .on_conflict_do_nothing(index_elements=["key"])
    )


_EVENT = {  # the one event a statement logs, bound as ``_event`` gives it
    "kind": bindparam("e_kind", type_=String),
    "actor": bindparam("e_actor", type_=String),
    "call_id": bindparam("e_call", type_=String),
    "detail": bindparam("e_detail", type_=JSON),
}


def _event(event: NewEvent) -> dict[str, Any]:
    return {"e_kind": event.kind, "e_actor": event.actor, "e_call": event.call_id,
            "e_detail": event.detail}  # fmt: skip


def _log(execution_id: Any, at: Any) -> Any:
    """The statement's event (``_event``) logged once for each row of ``execution_id``'s CTE."""
    return insert(events).from_select(
        ["execution_id", "at", *_EVENT], select(execution_id, at, *_EVENT.values())
    )


JSON_NULL: Any = literal_column("'null'::json")  # what SQLAlchemy stores for a JSON column's None


def _outbox_row(
    key: Any, execution_id: Any, call_id: Any, kind: Any, payload: Any, at: Any
) -> dict[str, Any]:
    """A new row as ``outbox._row`` makes it, as columns of a select."""
    return {
        "key": key, "execution_id": execution_id, "call_id": call_id, "kind": kind,
        "payload": payload, "version": literal(1), "shown": literal(0), "pending": true(),
        "location": JSON_NULL, "due_at": at, "attempts": literal(0), "created_at": at,
        "updated_at": at,
    }  # fmt: skip


_DECIDE = {claim: Prepared(_decide(claim)) for claim in (False, True)}


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
    """``transactions.decide`` on Postgres: the lock closed, its timers dropped, its message
    and the App Homes bumped, its webhooks' rows written, its run woken (and claimed) and the
    decision logged, in one statement; then the claimant's calls read. That read failing does
    not undo the decision: without the calls, the engine claims the run again (it is its own)
    and reads them with that claim."""
    params = {
        "cid": call_id, "at": now, "keys": [lock_key(call_id)],
        "d_status": status, "d_result": result, "d_actor": actor, "d_comment": comment,
        **_event(event),
    }  # fmt: skip
    if claim is not None:
        params |= {"me": claim.owner, "stale": claim.stale_before, "woke_at": claim.now}
    else:
        params["woke_at"] = now
    row = run(conn, _DECIDE[claim is not None], params).first()
    if row is None:  # it was not open
        return None
    found = row._asdict()
    execution_id = found.pop("decided_in")
    woken = execution_values(found)  # or as it was, when it was not woken
    if claim is None or woken.owner != claim.owner:
        return woken, None
    try:
        return woken, list_calls(conn, execution_id, False)
    except DBAPIError as exc:  # decided, and claimed: the engine claims it again, reads them then
        log.warning("the calls of run %s went unread after its decision: %s", execution_id,
                    type(exc.orig).__name__)  # fmt: skip
        return woken, None


def _given(table: Any, name: str, **more: Any) -> Any:
    """The rows bound as ``name`` (one JSON array of objects) as a table: ``table``'s columns,
    and ``more``."""
    typed = [column(c.name, c.type) for c in table.c] + [column(k, t) for k, t in more.items()]
    rows = func.json_to_recordset(bindparam(name, type_=JSON))
    return rows.table_valued(*typed).render_derived(with_types=True)


def _as_stored(given: Any, table: Any, keys: Sequence[str]) -> list[Any]:
    """``given``'s columns ``keys`` as inserting them into ``table`` stores them."""
    return [
        func.coalesce(given.c[k], JSON_NULL) if isinstance(table.c[k].type, JSON) else given.c[k]
        for k in keys
    ]


_CALL_COLUMNS = [c.name for c in calls.c]
_TIMER_COLUMNS = [c.name for c in timers.c if c.name != "id"]


def _park() -> Any:
    at, eid = bindparam("at", type_=Float), bindparam("eid", type_=String)
    parked = (
        update(executions)
        .where(
            executions.c.id == eid,
            executions.c.owner == bindparam("me"),
            executions.c.wakeups == bindparam("seen"),
            any_of(executions.c.status, RUNNABLE),
        )
        .values(status="awaiting", owner=None, updated_at=at)
        .returning(executions.c.id)
        .cte("parked")
    )
    released = exists(select(parked.c.id))
    new_calls = _given(calls, "calls")
    opened = insert(calls).from_select(
        _CALL_COLUMNS, select(*_as_stored(new_calls, calls, _CALL_COLUMNS))
    )
    locks = select(new_calls).where(new_calls.c.kind == "lock").subquery("locks")
    key = literal("lock:") + locks.c.id
    shown = _outbox_row(key, locks.c.execution_id, locks.c.id, literal(LOCK), JSON_NULL, at)
    lock_rows = postgresql.insert(outbox).from_select(list(shown), select(*shown.values()))
    new_timers = _given(timers, "timers")
    timed = insert(timers).from_select(
        _TIMER_COLUMNS, select(*_as_stored(new_timers, timers, _TIMER_COLUMNS))
    )
    new_events = _given(events, "events", when_parked=Boolean())  # logged in the array's order
    logged = insert(events).from_select(
        ["execution_id", "at", *_EVENT],
        select(eid, at, *_as_stored(new_events, events, list(_EVENT))).where(
            or_(~new_events.c.when_parked, released)
        ),
    )
    return select(released.label("released")).add_cte(
        opened.cte("opened"),
        lock_rows.on_conflict_do_nothing(index_elements=["key"]).cte("lock_rows"),
        _hooks(literal(OPENED), locks.c.id, locks.c.execution_id, locks.c.id, locks, at).cte(
            "hooks"
        ),
        timed.cte("timed"),
        BUMP_WITH_HOMES.where(released).cte("bumped"),
        logged.cte("logged"),
    )


_PARK = Prepared(_park())


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
    """``transactions.suspend`` on Postgres: the calls and timers the run opened, its locks'
    messages and webhooks' rows, the run parked (and its message and the App Homes bumped if
    it was) and what happened logged, in one statement."""
    logged = [{**e.model_dump(), "when_parked": False} for e in new_events]
    logged.append({**awaiting.model_dump(), "when_parked": True})
    params = {
        "eid": execution_id, "me": owner, "seen": wakeups, "at": now,
        "keys": [run_key(execution_id)], "calls": list(new_calls), "timers": list(new_timers),
        "events": logged,
    }  # fmt: skip
    released = bool(run(conn, _PARK, params).scalar())
    if not released and ended(conn, execution_id):  # cancelled meanwhile: what it opened closes
        close_open(conn, execution_id, now)
    return released


def _finish() -> Any:
    at, eid = bindparam("at", type_=Float), bindparam("eid", type_=String)
    finished = (
        update(executions)
        .where(executions.c.id == eid, executions.c.owner == bindparam("me"), LIVE)
        .values(
            owner=None,
            updated_at=at,
            status=bindparam("f_status"),
            result=bindparam("f_result"),
            error=bindparam("f_error"),
        )
        .returning(executions.c.id)
        .cte("finished")
    )
    happened = exists(select(finished.c.id))
    still_open = select(literal("lock:") + calls.c.id).where(
        calls.c.execution_id == eid, calls.c.status == "open", calls.c.kind == "lock"
    )
    locks_shown = (  # the messages of the locks it closes (``close_open``)
        update(outbox).where(outbox.c.key.in_(still_open), happened).values(**bump_values(at))
    )
    closed = (
        update(calls)
        .where(calls.c.execution_id == eid, calls.c.status == "open", happened)
        .values(status="cancelled", decided_at=at)
    )
    dropped = (
        update(timers)
        .where(timers.c.execution_id == eid, timers.c.status == "pending", happened)
        .values(status="cancelled")
    )
    posts = _given(outbox, "posts")
    posted = _outbox_row(posts.c.key, eid, posts.c.call_id, posts.c.kind, posts.c.payload, at)
    post_rows = postgresql.insert(outbox).from_select(
        list(posted), select(*posted.values()).where(happened)
    )
    hook = bindparam("hook", type_=String)
    return select(happened.label("ended")).add_cte(
        BUMP_WITH_HOMES.where(happened).cte("bumped"),
        locks_shown.cte("locks_shown"),
        closed.cte("closed"),
        dropped.cte("dropped"),
        _log(finished.c.id, at).cte("logged"),
        post_rows.on_conflict_do_nothing(index_elements=["key"]).cte("posted"),
        _hooks(hook, eid, eid, null(), finished, at).cte("hooks"),
    )


_FINISH = Prepared(_finish())


def finish(
    conn: Connection,
    execution_id: str,
    owner: str,
    now: float,
    status: str,
    result: Any,
    error: str | None,
    event: NewEvent,
    posts: Sequence[Post],
) -> bool:
    """``endings.finish`` on Postgres: the run ended, what it left open closed (their
    messages bumped), its message and the App Homes bumped, the ending logged, its posts and
    webhooks' rows written, in one statement."""
    params = {
        "eid": execution_id, "me": owner, "at": now, "keys": [run_key(execution_id)],
        "f_status": status, "f_result": result, "f_error": error,
        **_event(event), "hook": RUN_EVENTS.get(status, "run.failed"),
        "posts": [p.model_dump() for p in posts],
    }  # fmt: skip
    return bool(run(conn, _FINISH, params).scalar())
