"""Two processes claiming a run's messages at once on Postgres: a claim under way holds the
run's earlier message (locked, its lease not yet committed), so the other process's claim must
not take the later one and show it first."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from flows.engine.records import NewEvent, Post
from store import SQLStore
from store import deliveries as dq
from store import outbox as ob
from tests import rows


async def a_run_with_two_posts(store: SQLStore) -> str:
    eid, now = uuid.uuid4().hex, time.time()
    row = rows.execution(eid, now, status="awaiting")
    assert await store.create_execution(row, NewEvent(kind="started"))
    posts = [Post(key=f"post:{eid}:{n}", payload={"n": n}) for n in (1, 2)]
    await store.run(ob.add_posts, eid, posts, now)
    return eid


async def test_a_claim_under_way_holds_back_the_run_s_later_messages(pg_url: str) -> None:
    store = await SQLStore.open(pg_url)
    try:
        eid = await a_run_with_two_posts(store)
        db = store.db
        assert isinstance(db, AsyncEngine)
        now = time.time()

        def keys(found: list[Any]) -> list[str]:
            return [d.key for d in found if d.execution_id == eid]

        async with db.connect() as first, db.connect() as second:
            await first.begin()  # process A: its claim takes the run's message and first post,
            mine = await first.run_sync(dq.claim, "A", now, 30.0, 2, eid)  # not yet committed
            assert keys(mine) == [f"run:{eid}", f"post:{eid}:1"]
            await second.begin()  # process B, meanwhile: nothing of that run may go before it
            theirs = await second.run_sync(dq.claim, "B", now, 30.0, 50, None)
            assert keys(theirs) == []
            await second.rollback()
            await first.commit()
        # A's lease is committed now: the second post still waits for the first to be shown
        assert keys(await store.run(dq.claim, "B", now, 30.0, 50, eid)) == []
    finally:
        await store.close()
