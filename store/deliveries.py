"""The deliverer's side of the outbox (``store.outbox`` writes its rows): due rows claimed
under a lease, one deliverer per row across processes, with what they show read in the same
transaction, or in the transaction of the change that made them due (``park``, ``end``); what
was shown recorded (a row whose state moved on meanwhile keeps its lease to go again), or the
row given back to try later."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from flows.engine.ports import REFUSED
from flows.engine.records import UNORDERED, Call, Claimed, Delivery, Event, ShowState, Take
from store import at_once
from store.endings import finish
from store.event_transactions import VOTES
from store.fast import Prepared, run
from store.lists import any_of, none_of, one_of
from store.outbox import HOOK, bump_homes, in_order, lock_key, run_key
from store.tables import calls, events, executions, outbox
from store.transactions import call_row, execution_row, suspend

_FREE = or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < bindparam("now"))
_EARLIER = outbox.alias("earlier")


def _earlier_new(*such: Any) -> Any:
    """An earlier message of the row's run that is new (shown nowhere yet, in the run's
    order) and ``such``."""
    return exists().where(
        _EARLIER.c.execution_id == outbox.c.execution_id,
        _EARLIER.c.id < outbox.c.id,
        _EARLIER.c.pending,
        _EARLIER.c.shown == 0,
        none_of(_EARLIER.c.kind, UNORDERED),
        *such,
    )


_BLOCKED_BEHIND = _earlier_new(  # one that cannot go now
    or_(_EARLIER.c.due_at > bindparam("now"), _EARLIER.c.lease_until >= bindparam("now"))
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


# Each claim is an attempt: a row claimed again after one (``attempts > 1``) is looked for in
# Slack before it is posted, as that attempt may have posted it. A claim whose lease lapsed (its
# process died mid-way) made the attempt once: its row is looked for from then on, but the death
# is no failure of Slack's, so claims that die one after another do not lengthen the backoff
# (``flows.engine.reminder.backoff``) the way Slack failing would.
_CUT_SHORT = and_(outbox.c.lease_owner.is_not(None), outbox.c.attempts >= 2)
_LEASE = {
    "lease_owner": bindparam("me"),
    "lease_until": bindparam("until"),
    "attempts": case((_CUT_SHORT, outbox.c.attempts), else_=outbox.c.attempts + 1),
}


def _claims(due: Any, pg: bool) -> Any:
    """Take the due rows in one statement: the lease is the claim.

    SQLite runs one writer at a time, so ``_DUE``'s rule for a run's order sees every lease.
    On Postgres another process's claim may hold rows locked, their leases not yet committed:
    the due rows are locked as they are taken (skipping those), and a run's new message goes
    only if every earlier new one of its run is taken by this same statement. The due rows are
    a CTE joined by id, so the update finds them by primary key however large the outbox."""
    if not pg:  # the rows ``due`` found, by id (no condition of their own here: SQLite would
        # then look for them through the index of every pending row, however long the backlog)
        found = update(outbox).where(outbox.c.id.in_(due))
        return found.values(**_LEASE).returning(*outbox.c)
    taken = due.with_for_update(skip_locked=True).cte("due")
    held_back = _earlier_new(_EARLIER.c.id.not_in(select(taken.c.id)))  # one it skipped
    in_order = or_(outbox.c.shown > 0, any_of(outbox.c.kind, UNORDERED), ~held_back)
    found = update(outbox).where(outbox.c.id == taken.c.id, outbox.c.pending, _FREE, in_order)
    return found.values(**_LEASE).returning(*outbox.c)


CLAIMS = {  # (whose rows: any, run, none; Postgres?) -> the statement that claims them
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
    claims = CLAIMS[whose, conn.dialect.name == "postgresql"]
    params = {"now": now, "limit": limit, "eid": execution, "me": owner, "until": now + lease}
    rows = sorted(run(conn, claims, params), key=lambda r: r.id)
    if not rows:
        return []
    keys = {run_key(r.execution_id) for r in rows if r.execution_id}
    keys |= {lock_key(r.call_id) for r in rows if r.call_id}
    places = {r.key: (r.shown, r.location) for r in rows}  # as claimed, in this transaction
    if missing := sorted(keys - places.keys()):  # a run's or lock's message not claimed here
        places |= {k: (n, at) for k, n, at in run(conn, _WHERE_SHOWN, {"keys": missing})}
    found = []
    for r in rows:
        run_shown, thread = places.get(run_key(r.execution_id), (0, None))
        lock_at = places.get(lock_key(r.call_id), (0, None))[1] if r.call_id else None
        fields = {k: getattr(r, k) for k in _DELIVERY_FIELDS}
        found.append(Delivery(**fields, thread=thread, thread_ready=run_shown > 0, lock_at=lock_at))
    return found


def _shown_and_settled(pg: bool) -> Any:
    """Rows' records and the rows settled, in one statement (``SET`` reads each row as it
    was, so a row is behind when its version is past the larger shown). Rows shown as they are
    now are settled; the rest keep their lease to go again. The records come as one JSON array
    of ``{"oid", "v", "at"}``, read as a table: Postgres's ``json_to_recordset``, SQLite's
    ``json_each`` (which gives a JSON value back as JSON only from SQLite 3.38, so there each
    location comes as the JSON text its column holds)."""
    oid: Any
    shown: Any
    where: Any
    given = bindparam("records", type_=JSON)
    if pg:
        typed = (column("oid", Integer()), column("v", Integer()), column("at", JSON()))
        row = func.json_to_recordset(given).table_valued(*typed).render_derived(with_types=True)
        oid, shown = row.c.oid, func.greatest(outbox.c.shown, row.c.v)
        where = func.coalesce(row.c.at, at_once.JSON_NULL)
    else:
        each = func.json_each(given).table_valued("value")

        def field(name: str) -> Any:
            return func.json_extract(each.c.value, literal_column(f"'$.{name}'"))

        oid, shown = field("oid"), func.max(outbox.c.shown, field("v"))
        where = field("at")
    behind = outbox.c.version > shown
    return (
        update(outbox)
        .where(outbox.c.id == oid, outbox.c.lease_owner == bindparam("me"))
        .values(
            shown=shown,
            location=where,
            attempts=0,
            error=None,
            pending=case((behind, outbox.c.pending), else_=False),
            lease_owner=case((behind, outbox.c.lease_owner), else_=None),
            lease_until=case((behind, outbox.c.lease_until), else_=None),
        )
        .returning(outbox.c.id, outbox.c.version, outbox.c.shown)
    )


_SHOWN_AND_SETTLED = {pg: Prepared(_shown_and_settled(pg)) for pg in (False, True)}


_AGAIN = Prepared(  # a settled row, to be shown once more at ``at`` (as it is then)
    update(outbox)
    .where(outbox.c.id == bindparam("oid"), ~outbox.c.pending)
    .values(pending=True, due_at=bindparam("at"))
)


def delivered(
    conn: Connection,
    owner: str,
    shown: Sequence[tuple[int, int, Any]],
    now: float,
    placed: bool,
    again: Mapping[int, float] | None = None,
) -> dict[int, int]:
    """``owner`` showed each ``(row id, version, where)`` (``placed``: a run's message for the
    first time). Returns the rows whose state changed meanwhile, with their newest version
    (``owner`` keeps the lease to show them); the rest are settled, those in ``again`` due to
    be shown once more at the time it gives. A row whose lease was lost is left to whoever
    holds it. Not ``placed`` and no ``again``: one statement."""
    if not shown:
        return {}
    behind = _recorded(conn, owner, shown, now, placed)
    if again:
        run(conn, _AGAIN, [{"oid": i, "at": at} for i, at in again.items() if i not in behind])
    return behind


def _recorded(
    conn: Connection, owner: str, shown: Sequence[tuple[int, int, Any]], now: float, placed: bool
) -> dict[int, int]:
    if placed:
        bump_homes(conn, now)  # a run's message is somewhere: Homes link it
    in_ids = sorted(shown, key=lambda row: row[0])  # rows locked in one order: ``in_order``
    pg = conn.dialect.name == "postgresql"
    records = [{"oid": i, "v": v, "at": at if pg else json.dumps(at)} for i, v, at in in_ids]
    settled = run(conn, _SHOWN_AND_SETTLED[pg], {"records": records, "me": owner}).all()
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
    mine = in_order(outbox.c.id.in_(row_ids), outbox.c.lease_owner == owner)
    conn.execute(update(outbox).where(mine).values(lease_until=until))


def backlog(conn: Connection, now: float) -> tuple[int, float | None]:
    """How many rows wait to be shown, and how long ago the oldest state among them changed.
    A row due to be shown once more, as it already is (``delivered``'s ``again``), is not
    behind, and neither is one its surface refuses until something outside changes
    (``ports.Refused``: an archived channel is no outage), nor a run's new message that waits
    behind such a one. Webhook rows are not counted: this is what Slack shows (readiness routes
    Slack's traffic), and a receiver that is down holds back nothing of Slack's."""
    refused = outbox.c.error.startswith(REFUSED, autoescape=True)
    held = _earlier_new(_EARLIER.c.error.startswith(REFUSED, autoescape=True))
    behind = outbox.c.pending & (outbox.c.version > outbox.c.shown)
    behind &= ~(outbox.c.error.is_not(None) & refused) & ~held & (outbox.c.kind != HOOK)
    found = conn.execute(select(func.count(), func.min(outbox.c.updated_at)).where(behind)).one()
    return int(found[0]), (now - found[1]) if found[1] is not None else None


_LOCATION = Prepared(select(outbox.c.location).where(outbox.c.key == bindparam("key")))


def location(conn: Connection, key: str) -> Any:
    return run(conn, _LOCATION, {"key": key}).scalar()


_EXECUTIONS = Prepared(select(executions).where(one_of(executions.c.id, "eids")))
_CALLS = Prepared(  # the rows' locks, and every open lock of their runs (what a run waits at)
    select(calls)
    .where(
        or_(
            one_of(calls.c.id, "cids"),
            and_(
                one_of(calls.c.execution_id, "eids"),
                calls.c.status == "open",
                calls.c.kind == "lock",
            ),
        )
    )
    .order_by(calls.c.seq)
)
_PAYLOADS = Prepared(select(outbox.c.id, outbox.c.payload).where(one_of(outbox.c.id, "ids")))


def show_states(
    conn: Connection,
    rows: Sequence[tuple[int, str | None, str | None]],
    payloads: dict[int, Any] | None = None,
) -> dict[int, ShowState]:
    """What each ``(row id, execution id, call id)`` shows, read together (see
    ``ports.Store.show_states``)."""
    eids = sorted({eid for _, eid, _ in rows if eid})
    cids = sorted({cid for _, _, cid in rows if cid})
    runs = {r.id: execution_row(r) for r in run(conn, _EXECUTIONS, {"eids": eids})}
    awaiting = {eid for eid, r in runs.items() if r.status == "awaiting"}
    found: dict[str, Call] = {}
    waiting: dict[str, list[str]] = {}
    for c in map(call_row, run(conn, _CALLS, {"cids": cids, "eids": eids})):
        found[c.id] = c
        if c.execution_id in awaiting and c.status == "open" and c.kind == "lock":
            waiting.setdefault(c.execution_id, []).append(c.name)
    shown = [found[cid] for cid in cids if cid in found]
    quorum = [c for c in shown if isinstance(c.policy, dict) and c.policy.get("quorum", 1) > 1]
    votes: dict[str, list[Event]] = {}
    if quorum:
        query = select(events).where(
            events.c.call_id.in_([c.id for c in quorum]), any_of(events.c.kind, VOTES)
        )
        for row in conn.execute(query.order_by(events.c.id)):
            votes.setdefault(row.call_id, []).append(Event.model_validate(row._mapping))
    if payloads is None:  # else the rows' payloads as just claimed, in this transaction
        payloads = dict(run(conn, _PAYLOADS, {"ids": [i for i, _, _ in rows]}).all())
    return {
        i: ShowState(
            runs.get(eid) if eid else None,
            found.get(cid) if cid else None,
            waiting.get(eid, []) if eid else [],
            votes.get(cid or "", []),
            payloads.get(i),
        )
        for i, eid, cid in rows
    }


def claim_deliveries(
    conn: Connection, owner: str, now: float, lease: float, limit: int, execution: str | None
) -> tuple[list[Delivery], dict[int, ShowState]]:
    """Due rows claimed (``claim``) and what they show, in one transaction."""
    rows = claim(conn, owner, now, lease, limit, execution)
    if not rows:
        return rows, {}
    shows = [(r.id, r.execution_id, r.call_id) for r in rows]
    return rows, show_states(conn, shows, {r.id: r.payload for r in rows})


# a change of a run, its due rows claimed with it ------------------------------------------


def park(
    conn: Connection,
    take: Take | None,
    execution_id: str,
    owner: str,
    wakeups: int,
    now: float,
    *opened: Any,
) -> tuple[bool, Claimed | None]:
    """``transactions.suspend`` and, with ``take``, the run's due rows claimed: one
    transaction, so a run parked at its next lock is on its way to Slack with one commit."""
    parks = at_once.suspend if conn.dialect.name == "postgresql" else suspend
    released = parks(conn, execution_id, owner, wakeups, now, *opened)
    return released, _take(conn, take, execution_id, now)


def end(
    conn: Connection, take: Take | None, execution_id: str, owner: str, now: float, *ending: Any
) -> tuple[bool, Claimed | None]:
    """``endings.finish`` and, with ``take`` and if it ended the run, the run's due rows
    claimed (its message, its locks', its ending), in one transaction."""
    ends = at_once.finish if conn.dialect.name == "postgresql" else finish
    ended = ends(conn, execution_id, owner, now, *ending)
    return ended, _take(conn, take, execution_id, now) if ended else None


def _take(conn: Connection, take: Take | None, execution_id: str, now: float) -> Claimed | None:
    if take is None:
        return None
    return claim_deliveries(conn, take.owner, now, take.lease, take.limit, execution_id)
