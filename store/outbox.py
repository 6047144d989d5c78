"""The outbox's transactions (see ``transactions`` for how ``SQLStore`` runs them), and the
helpers every other transaction uses to keep it in step with the state it shows.

Views (the run's message, each lock's message) are rows the store creates with the run and the
lock and bumps whenever their state changes, in the same transaction. A person's App Home is a
row about no run, of one workspace (``home_key``), made when they first open it; it is bumped
with every run's or lock's change (who may answer a lock is the directory's to say, so the
store cannot narrow it down) and rendered from the store when it is delivered. Posts and
direct messages
are rows the engine asks for, named by a key that makes them idempotent. The deliverer claims
due rows under a lease (one deliverer per row across processes), shows their newest version
and records it, or backs off."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from flows.engine.records import UNORDERED, Delivery, Post, Workspace
from store.fast import Prepared, run
from store.lists import any_of, none_of, one_of
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


def add_posts(conn: Connection, execution_id: str, posts: Sequence[Post], now: float) -> None:
    rows = [_row(p.key, execution_id, p.call_id, p.kind, p.payload, now) for p in posts]
    if rows:
        run(conn, _insert(conn), rows)


_bump = (
    update(outbox)
    .where(one_of(outbox.c.key, "keys"))
    .values(version=outbox.c.version + 1, pending=True, updated_at=bindparam("at"))
)
_BUMP = Prepared(_bump)
_BUMP_DRAFT = Prepared(_bump.values(payload=bindparam("draft")))
_BUMP_HOMES = Prepared(
    update(outbox)
    .where(*_HOMES)
    .values(version=outbox.c.version + 1, pending=True, updated_at=bindparam("at"))
)
_BUMP_WITH_HOMES = Prepared(  # one statement: a view bumped never goes without the Homes
    update(outbox)
    .where(or_(one_of(outbox.c.key, "keys"), and_(*_HOMES)))
    .values(version=outbox.c.version + 1, pending=True, updated_at=bindparam("at"))
)


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


# the deliverer ------------------------------------------------------------------------------

_FREE = or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < bindparam("now"))
_EARLIER = outbox.alias("earlier")
_BLOCKED_BEHIND = exists().where(  # an earlier new message of the run that cannot go now
    _EARLIER.c.execution_id == outbox.c.execution_id,
    _EARLIER.c.id < outbox.c.id,
    _EARLIER.c.pending,
    _EARLIER.c.shown == 0,
    none_of(_EARLIER.c.kind, UNORDERED),
    or_(_EARLIER.c.due_at > bindparam("now"), _EARLIER.c.lease_until >= bindparam("now")),
)
_DUE = (
    select(outbox.c.id)
    .where(
        outbox.c.pending,
        outbox.c.due_at <= bindparam("now"),
        _FREE,
        or_(outbox.c.shown > 0, any_of(outbox.c.kind, UNORDERED), ~_BLOCKED_BEHIND),
    )
    .order_by(outbox.c.id)
    .limit(bindparam("limit"))
)
# a run's rows, and the App Homes that may list it
_DUE_OF_RUN = _DUE.where(outbox.c.execution_id == bindparam("eid"))
_DUE_OF_NONE = _DUE.where(outbox.c.execution_id.is_(None))  # rows about no run: App Homes
NO_RUN = ""  # claims the rows about no run (no run's id is empty)


_LEASE = {
    "lease_owner": bindparam("me"),
    "lease_until": bindparam("until"),
    "attempts": outbox.c.attempts + 1,
}


def _claims(due: Any, pg: bool) -> Any:
    """Take the due rows in one statement: the lease is the claim. On Postgres the due rows
    are a CTE joined by id (locked, skipping rows another process holds), so the update finds
    them by the primary key however large the outbox; SQLite plans ``IN`` that way itself."""
    if not pg:
        found = update(outbox).where(outbox.c.id.in_(due), outbox.c.pending, _FREE)
        return found.values(**_LEASE).returning(*outbox.c)
    rows = due.with_for_update(skip_locked=True).cte("due")
    found = update(outbox).where(outbox.c.id == rows.c.id, outbox.c.pending, _FREE)
    return found.values(**_LEASE).returning(*outbox.c)


_CLAIMS = {  # (whose rows, Postgres?) -> the statement
    (whose, pg): Prepared(_claims(due, pg))
    for whose, due in (("any", _DUE), ("run", _DUE_OF_RUN), ("none", _DUE_OF_NONE))
    for pg in (False, True)
}
_DELIVERY_FIELDS = (
    "id",
    "key",
    "execution_id",
    "call_id",
    "kind",
    "payload",
    "version",
    "location",
    "attempts",
)
_WHERE_SHOWN = Prepared(
    select(outbox.c.key, outbox.c.shown, outbox.c.location).where(one_of(outbox.c.key, "keys"))
)


def claim(
    conn: Connection, owner: str, now: float, lease: float, limit: int, execution: str | None
) -> list[Delivery]:
    """Take up to ``limit`` due rows (of one ``execution``; ``NO_RUN``: the rows about no run;
    None: any) for ``owner`` until ``now + lease``, oldest first. A run's new messages are
    taken in order: one waits while an earlier one cannot go."""
    whose = "any" if execution is None else "none" if execution == NO_RUN else "run"
    claims = _CLAIMS[whose, conn.dialect.name == "postgresql"]
    params = {"now": now, "limit": limit, "eid": execution, "me": owner, "until": now + lease}
    rows = sorted(run(conn, claims, params), key=lambda r: r.id)
    if not rows:
        return []
    keys = {run_key(r.execution_id) for r in rows if r.execution_id}
    keys |= {lock_key(r.call_id) for r in rows if r.call_id}
    places = {k: (n, at) for k, n, at in run(conn, _WHERE_SHOWN, {"keys": sorted(keys)})}
    found = []
    for r in rows:
        run_shown, thread = places.get(run_key(r.execution_id), (0, None))
        lock_at = places.get(lock_key(r.call_id), (0, None))[1] if r.call_id else None
        fields = {k: getattr(r, k) for k in _DELIVERY_FIELDS}
        found.append(Delivery(**fields, thread=thread, thread_ready=run_shown > 0, lock_at=lock_at))
    return found


def _shown(larger: Any) -> Any:
    return (
        update(outbox)
        .where(outbox.c.id == bindparam("oid"), outbox.c.lease_owner == bindparam("me"))
        .values(
            shown=larger(outbox.c.shown, bindparam("v")),
            location=bindparam("where"),
            attempts=0,
            error=None,
        )
    )


_SHOWN = {"sqlite": Prepared(_shown(func.max)), "postgresql": Prepared(_shown(func.greatest))}
_BEHIND = outbox.c.version > outbox.c.shown  # its state changed while it was being shown
_SETTLE = Prepared(  # rows shown as they are now are settled; the rest keep their lease to go again
    update(outbox)
    .where(one_of(outbox.c.id, "ids"), outbox.c.lease_owner == bindparam("me"))
    .values(
        pending=case((_BEHIND, outbox.c.pending), else_=False),
        lease_owner=case((_BEHIND, outbox.c.lease_owner), else_=None),
        lease_until=case((_BEHIND, outbox.c.lease_until), else_=None),
    )
    .returning(outbox.c.id, outbox.c.version, outbox.c.shown)
)


_PLACED = Prepared(  # a run's message shown for the first time
    select(outbox.c.id)
    .where(one_of(outbox.c.id, "ids"), outbox.c.kind == RUN)
    .where(outbox.c.shown == 0)
    .limit(1)
)


def delivered(
    conn: Connection, owner: str, shown: Sequence[tuple[int, int, Any]], now: float
) -> dict[int, int]:
    """``owner`` showed each ``(row id, version, where)``. Returns the rows whose state
    changed meanwhile, with their newest version (``owner`` keeps the lease to show them);
    the rest are settled. A row whose lease was lost is left to whoever holds it."""
    if not shown:
        return {}
    placed = [i for i, _, where in shown if where is not None]
    if placed and run(conn, _PLACED, {"ids": placed}).first():
        run(conn, _BUMP_HOMES, {"at": now})  # a run's message is somewhere: Homes link it
    params = [{"oid": i, "me": owner, "v": v, "where": where} for i, v, where in shown]
    run(conn, _SHOWN[conn.dialect.name], params)
    settled = run(conn, _SETTLE, {"ids": [i for i, _, _ in shown], "me": owner})
    return {int(i): int(v) for i, v, at in settled if v > at}


def retry(
    conn: Connection,
    row_id: int,
    owner: str,
    due_at: float,
    error: str | None,
    tried: bool,
    now: float,
) -> None:
    """Give the row back, due again at ``due_at``. ``tried`` False: nothing was sent this time,
    so the attempt does not count."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "due_at": due_at}
    values["error"] = error
    if not tried:
        values["attempts"] = outbox.c.attempts - 1
    conn.execute(
        update(outbox).where(outbox.c.id == row_id, outbox.c.lease_owner == owner).values(**values)
    )


def renew(conn: Connection, row_ids: Sequence[int], owner: str, until: float) -> None:
    """``owner`` is still showing these rows: keep them until ``until``."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(row_ids), outbox.c.lease_owner == owner)
        .values(lease_until=until)
    )


def backlog(conn: Connection, now: float) -> tuple[int, float | None]:
    """How many rows wait to be shown, and how long ago the oldest state among them changed."""
    found = conn.execute(
        select(func.count(), func.min(outbox.c.updated_at)).where(outbox.c.pending)
    ).one()
    return int(found[0]), (now - found[1]) if found[1] is not None else None


_LOCATION = Prepared(select(outbox.c.location).where(outbox.c.key == bindparam("key")))


def location(conn: Connection, key: str) -> Any:
    return run(conn, _LOCATION, {"key": key}).scalar()
