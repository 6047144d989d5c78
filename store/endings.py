"""How a run ends, each a plain function over a SQLAlchemy ``Connection`` as in
``store.transactions``: it finished (its flow returned or raised) or was cancelled (by a person,
or as it expired); what it left open is closed with it, and its message, its webhooks and its
audit trail say so in the same transaction. Postgres finishes a run in one statement
(``at_once.finish``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection

from flows.engine.records import NewEvent, Post
from store import outbox as ob
from store.fast import Prepared, run
from store.tables import calls, executions
from store.transactions import INSERT_EVENTS, LIVE, OPEN_LOCKS, close_open, event_rows

_FINISH = Prepared(
    update(executions)
    .where(executions.c.id == bindparam("eid"), executions.c.owner == bindparam("me"), LIVE)
    .values(owner=None, updated_at=bindparam("at"))
)


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
    ending = {"status": status, "result": result, "error": error}
    ended = run(conn, _FINISH, {"eid": execution_id, "me": owner, "at": now, **ending})
    if ended.rowcount != 1:
        return False
    close_open(conn, execution_id, now)
    run(conn, INSERT_EVENTS, event_rows(execution_id, now, [event]))
    ob.bump(conn, [ob.run_key(execution_id)], now)
    ob.add_posts(conn, execution_id, posts, now)
    ob.add_hooks(conn, [(execution_id, None, RUN_EVENTS.get(status, "run.failed"))], now)
    return True


RUN_EVENTS = {"finished": "run.finished", "error": "run.failed", "cancelled": "run.cancelled"}


_CANCEL = Prepared(
    update(executions)
    .where(executions.c.id == bindparam("eid"), LIVE)
    .values(status="cancelled", updated_at=bindparam("at"))
)


def cancel(
    conn: Connection,
    execution_id: str,
    now: float,
    reason: str,
    event: NewEvent,
    posts: Sequence[Post],
    expire: bool = False,
) -> bool:
    # On Postgres a person's decision may commit between a read of the open locks and the
    # update that closes them: only the locks this transaction closed are its to name.
    expired: list[str] = []
    if expire:  # they expire, with the reason, before the rest closes
        found = run(conn, _EXPIRE_OPEN, {"eid": execution_id, "why": reason, "at": now})
        expired = list(found.scalars())
    closing = list(run(conn, OPEN_LOCKS, {"eid": execution_id}).scalars())
    close_open(conn, execution_id, now)  # calls and timers first: the order every path uses
    ended = run(conn, _CANCEL, {"eid": execution_id, "error": reason, "at": now})
    if ended.rowcount != 1:
        return False  # already ended: it had no open calls to close
    if closing and event.actor:  # who cancelled decided the open locks it closed: they say so
        conn.execute(
            update(calls)
            .where(calls.c.id.in_(closing), calls.c.status == "cancelled")
            .values(actor=event.actor)
        )
    said = [NewEvent(kind="expired", call_id=c, detail={"reason": reason}) for c in expired]
    run(conn, INSERT_EVENTS, event_rows(execution_id, now, [*said, event]))
    ob.bump(conn, [ob.run_key(execution_id), *map(ob.lock_key, expired)], now)
    ob.add_posts(conn, execution_id, posts, now)
    ob.add_hooks(conn, [(execution_id, None, "run.cancelled")], now)
    return True


_EXPIRE_OPEN = Prepared(
    update(calls)
    .where(
        calls.c.execution_id == bindparam("eid"), calls.c.status == "open", calls.c.kind == "lock"
    )
    .values(status="expired", comment=bindparam("why"), decided_at=bindparam("at"))
    .returning(calls.c.id)
)
