"""Postgres: a lock decided in one statement. ``transactions.decide`` is seven statements in a
transaction, nine round trips with BEGIN and COMMIT; here its writes are data-modifying CTEs of
one statement, run outside a transaction (``SQLStore.single``): one round trip, and a second to
read the claimed run's calls. Same writes, same answer; SQLite keeps the transaction, which
costs it no round trips."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    String,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from flows.engine.records import Call, Claim, Execution, NewEvent
from store.fast import Prepared, run
from store.outbox import BUMP_WITH_HOMES, HOOK, lock_key
from store.tables import calls, events, executions, outbox, timers, webhooks
from store.transactions import (
    CLAIMABLE,
    LIVE,
    execution,
    execution_values,
    list_calls,
)

DECIDED = "lock.decided"


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
    payload = func.json_build_object(
        literal_column("'subscription'"), webhooks.c.id,
        literal_column("'type'"), literal_column(f"'{DECIDED}'"),
        literal_column("'at'"), at,
    )  # fmt: skip
    hook = {  # a row as ``outbox._row`` makes it, for each subscription to the event
        "key": literal("hook:") + cast(webhooks.c.id, String) + f":{DECIDED}:" + cid,
        "execution_id": closed.c.execution_id,
        "call_id": cid,
        "kind": literal(HOOK),
        "payload": payload,
        "version": literal(1),
        "shown": literal(0),
        "pending": true(),
        "due_at": at,
        "attempts": literal(0),
        "created_at": at,
        "updated_at": at,
    }
    subscribed = select(*hook.values()).where(
        webhooks.c.removed_at.is_(None), cast(webhooks.c.events, JSONB).has_key(DECIDED)
    )
    hooks = (
        postgresql.insert(outbox)
        .from_select(list(hook), subscribed.select_from(closed))
        .on_conflict_do_nothing(index_elements=["key"])
        .cte("hooks")
    )
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
    logged = insert(events).from_select(
        ["execution_id", "at", "kind", "actor", "call_id", "detail"],
        select(
            closed.c.execution_id,
            at,
            bindparam("e_kind", type_=String),
            bindparam("e_actor", type_=String),
            bindparam("e_call", type_=String),
            bindparam("e_detail", type_=JSON),
        ),
    )
    return (
        select(closed.c.execution_id.label("decided_in"), *woken.c)
        .select_from(closed.outerjoin(woken, true()))
        .add_cte(dropped, bumped, hooks, logged.cte("logged"))
    )


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
    decision logged, in one statement; then the claimant's calls read."""
    params = {
        "cid": call_id, "at": now, "keys": [lock_key(call_id)],
        "d_status": status, "d_result": result, "d_actor": actor, "d_comment": comment,
        "e_kind": event.kind, "e_actor": event.actor, "e_call": event.call_id,
        "e_detail": event.detail,
    }  # fmt: skip
    if claim is not None:
        params |= {"me": claim.owner, "stale": claim.stale_before, "woke_at": claim.now}
    else:
        params["woke_at"] = now
    row = run(conn, _DECIDE[claim is not None], params).first()
    if row is None:  # it was not open
        return None
    execution_id = row.decided_in
    found = row._asdict()
    del found["decided_in"]
    woken = execution_values(found) if row.id is not None else execution(conn, execution_id)
    if woken is None:
        return None
    mine = claim is not None and woken.owner == claim.owner
    return woken, list_calls(conn, execution_id, False) if mine else None
