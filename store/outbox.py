"""The outbox's rows, written by the helpers every other transaction uses to keep it in step
with the state it shows (``deliveries`` is the deliverer's side: claiming and recording).

Views (the run's message, each lock's message) are rows the store creates with the run and the
lock and bumps whenever their state changes, in the same transaction. A person's App Home is a
row about no run, of one workspace (``home_key``), made when they first open it; it is bumped
with every run's or lock's change (who may answer a lock is the directory's to say, so the
store cannot narrow it down) and rendered from the store when it is delivered. Posts and
direct messages
are rows the engine asks for, named by a key that makes them idempotent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from flows.engine.records import Post, Workspace
from store.fast import Prepared, run
from store.lists import any_of, one_of
from store.tables import outbox, webhooks

RUN, LOCK, HOOK, HOME = "run", "lock", "webhook", "home"
_HOMES = (outbox.c.key >= "home:", outbox.c.key < "home;")  # every App Home row, by index


def run_key(execution_id: str) -> str:
    return f"run:{execution_id}"


def lock_key(call_id: str) -> str:
    return f"lock:{call_id}"


def home_key(user: str, workspace: Workspace) -> str:
    """A person's App Home in a workspace (a Grid person may open it in several)."""
    return f"home:{workspace.enterprise_id}:{workspace.team_id}:{user}"


_INSERTS = {  # an insert that leaves a row with the same key alone (a post asked for twice)
    name: Prepared(dialect.insert(outbox).on_conflict_do_nothing(index_elements=["key"]))
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _insert(conn: Connection) -> Prepared:
    return _INSERTS[conn.dialect.name]


def _row(
    key: str, execution_id: str | None, call_id: str | None, kind: str, payload: Any, now: float
) -> dict[str, Any]:
    return {
        "key": key,
        "execution_id": execution_id,
        "call_id": call_id,
        "kind": kind,
        "payload": payload,
        "version": 1,
        "shown": 0,
        "pending": True,
        "location": None,
        "due_at": now,
        "attempts": 0,
        "lease_owner": None,
        "lease_until": None,
        "error": None,
        "created_at": now,
        "updated_at": now,
    }


def add_run(conn: Connection, execution_id: str, now: float) -> None:
    run(conn, _insert(conn), [_row(run_key(execution_id), execution_id, None, RUN, None, now)])
    run(conn, _BUMP_HOMES, {"at": now})


def add_locks(
    conn: Connection, calls: Iterable[dict[str, Any]], now: float, homes: bool = True
) -> None:
    """A row for each new lock's message. ``homes`` False: the caller bumps the App Homes (that
    list the locks) in this transaction itself."""
    locks = [c for c in calls if c["kind"] == "lock"]
    rows = [_row(lock_key(c["id"]), c["execution_id"], c["id"], LOCK, None, now) for c in locks]
    if rows:
        run(conn, _insert(conn), rows)
        if homes:
            run(conn, _BUMP_HOMES, {"at": now})
        add_hooks(conn, [(c["execution_id"], c["id"], "lock.opened") for c in locks], now)


_SUBSCRIBED = Prepared(
    select(webhooks.c.id, webhooks.c.events).where(webhooks.c.removed_at.is_(None))
)


def hook_key(subscription: int, event: str, subject: str) -> str:
    """A webhook row's key, also its ``webhook-id``: one per subscription and event."""
    return f"hook:{subscription}:{event}:{subject}"


def add_hooks(
    conn: Connection, happened: Sequence[tuple[str, str | None, str]], now: float
) -> None:
    """A row for each live webhook subscription to each event that ``happened``
    (``(execution id, call id, event type)``), written with the change that is the event."""
    if not happened:
        return
    subscriptions = run(conn, _SUBSCRIBED).all()
    rows = [
        _row(
            hook_key(sid, kind, cid or eid),
            eid,
            cid,
            HOOK,
            {"subscription": sid, "type": kind, "at": now},
            now,
        )
        for eid, cid, kind in happened
        for sid, events in subscriptions
        if kind in (events or ())
    ]
    if rows:
        run(conn, _insert(conn), rows)


def add_posts(conn: Connection, execution_id: str, posts: Sequence[Post], now: float) -> int:
    """Write each post's row, unless one has its key already; how many were written."""
    rows = [_row(p.key, execution_id, p.call_id, p.kind, p.payload, now) for p in posts]
    return sum(run(conn, _insert(conn), row).rowcount for row in rows)


def bumped(at: Any) -> dict[str, Any]:
    """The values of a row whose state changed at ``at``: shown anew. A row waiting only to be
    shown once more later (``deliveries.delivered``'s ``again``) goes now; one backing off
    after a failure still waits its turn."""
    waits_to_look = and_(outbox.c.shown >= outbox.c.version, outbox.c.due_at > at)
    due = case((waits_to_look, at), else_=outbox.c.due_at)
    return {"version": outbox.c.version + 1, "pending": True, "updated_at": at, "due_at": due}


def in_order(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """The rows ``where`` selects, write-locked in the order of their ids before they are
    updated. Every transaction bumps every App Home: updated in whatever order the plan
    scans them (an index's, the table's), two of them each held a row the other wanted, and
    Postgres broke the tie only after its ``deadlock_timeout`` (a second), over and over, so
    a busy bot stalled for seconds at a time. (SQLite has one writer at a time.)"""
    locked = select(outbox.c.id).where(*where).order_by(outbox.c.id).with_for_update()
    ordered: ColumnElement[bool] = outbox.c.id.in_(locked.scalar_subquery())
    return ordered


_bump = (
    update(outbox).where(in_order(one_of(outbox.c.key, "keys"))).values(**bumped(bindparam("at")))
)
_BUMP = Prepared(_bump)
_BUMP_DRAFT = Prepared(_bump.values(payload=bindparam("draft")))
_BUMP_HOMES = Prepared(update(outbox).where(in_order(*_HOMES)).values(**bumped(bindparam("at"))))
BUMP_WITH_HOMES = (  # one statement: a view bumped never goes without the Homes
    update(outbox)
    .where(in_order(or_(one_of(outbox.c.key, "keys"), and_(*_HOMES))))
    .values(**bumped(bindparam("at")))
)
_BUMP_WITH_HOMES = Prepared(BUMP_WITH_HOMES)


def bump_homes(conn: Connection, now: float) -> None:
    """Show every App Home again (one of them may list what changed)."""
    run(conn, _BUMP_HOMES, {"at": now})


def bump(conn: Connection, keys: Sequence[str], now: float) -> None:
    """The state these views show changed: show them again, and the App Homes that may list
    them."""
    if keys:
        run(conn, _BUMP_WITH_HOMES, {"keys": list(keys), "at": now})


def open_home(conn: Connection, user: str, workspace: Workspace, now: float) -> None:
    """``user`` opened the App Home in ``workspace``: from now on it is kept current; show it
    now."""
    key = home_key(user, workspace)
    said = {"user": user, "team": workspace.team_id, "enterprise": workspace.enterprise_id}
    if run(conn, _insert(conn), [_row(key, None, None, HOME, said, now)]).rowcount == 0:
        run(conn, _BUMP, {"keys": [key], "at": now})


def refresh_homes(conn: Connection, users: Sequence[str], workspace: Workspace, now: float) -> None:
    """Show again these users' App Homes in ``workspace``, where they have one."""
    if users:
        run(conn, _BUMP, {"keys": [home_key(u, workspace) for u in users], "at": now})


def reshow(conn: Connection, live: Any, now: float) -> int:
    """The surface lost every message (local mode's fake Slack starts empty): show the
    messages of the runs ``live`` selects, and every App Home, again from scratch. Returns
    how many rows are shown again."""
    fresh = {"shown": 0, "location": None, "pending": True, "attempts": 0, "due_at": now}
    fresh |= {"version": outbox.c.version + 1, "lease_owner": None, "lease_until": None}
    runs = conn.execute(
        update(outbox)
        .where(any_of(outbox.c.kind, (RUN, LOCK, "post")), outbox.c.execution_id.in_(live))
        .values(**fresh, updated_at=now)
    ).rowcount
    homes = conn.execute(update(outbox).where(*_HOMES).values(**fresh, updated_at=now)).rowcount
    return int(runs) + int(homes)


def bump_draft(conn: Connection, call_id: str, draft: Any, now: float) -> None:
    """A lock's message shows a refused answer (``draft``: its errors and values) until the
    lock is decided."""
    run(conn, _BUMP_DRAFT, {"keys": [lock_key(call_id)], "at": now, "draft": draft})
