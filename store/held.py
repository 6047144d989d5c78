"""Held requests (see ``SQLStore.hold``): a row per request under way, taken over by another
process once its ``until`` has passed (compare-and-set: one taker wins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, null, select, update
from sqlalchemy.engine import Connection

from flows.engine.records import Held
from store.fast import Prepared, run
from store.tables import held

# (no parameter is named as a column: an update would write it there, see ``fast.Prepared``)
_EXISTS = Prepared(select(held.c.key).where(held.c.key == bindparam("k")))
_INSERT = Prepared(insert(held))
_DONE = Prepared(
    update(held)
    .where(held.c.key == bindparam("k"))
    .values(done=True, payload=null(), until=bindparam("kept_until"))
)
_PRUNE = Prepared(delete(held).where(held.c.done, held.c.until < bindparam("now")))
_LAPSED = Prepared(
    select(held)
    .where(held.c.until < bindparam("now"), ~held.c.done)
    .order_by(held.c.created_at)
    .limit(bindparam("limit"))
)
_TAKE = Prepared(
    update(held)
    .where(held.c.key == bindparam("k"), held.c.until == bindparam("was"))
    .values(owner=bindparam("me"), until=bindparam("new_until"), attempts=held.c.attempts + 1)
)


def hold(conn: Connection, row: dict[str, Any]) -> bool:
    """Store the request; False if one with its key is held already (or was handled lately)."""
    if run(conn, _EXISTS, {"k": row["key"]}).first() is not None:
        return False
    run(conn, _INSERT, row)
    return True


def let_go(conn: Connection, key: str, kept_until: float) -> None:
    """The request was handled: its payload goes, its key stays until ``kept_until``."""
    run(conn, _DONE, {"k": key, "kept_until": kept_until})


def take(conn: Connection, owner: str, now: float, until: float, limit: int) -> list[Held]:
    """Requests whose holder's time ran out (a process that died handling them), now this
    ``owner``'s until ``until``, oldest first; the keys of requests handled long enough ago
    go."""
    run(conn, _PRUNE, {"now": now})
    taken = []
    for row in run(conn, _LAPSED, {"now": now, "limit": limit}):
        params = {"k": row.key, "was": row.until, "me": owner, "new_until": until}
        if run(conn, _TAKE, params).rowcount == 1:
            taken.append(Held(key=row.key, kind=row.kind, payload=row.payload,
                              attempts=row.attempts + 1, created_at=row.created_at))  # fmt: skip
    return taken
