"""Cost with scale: ``python -m bench.scale [--paused 1000 100000] [--pg URL]``.

Per backend and size, prints one JSON line. ``--base`` runs of the HITL flow (``bench.hitl``)
are started through the engine until each waits at its first lock, shown; the store is then
filled to ``--paused`` waiting runs by copying those rows under new ids (every table the engine
writes: runs, calls, events, outbox, timers), so each copy is what the engine would have left;
on Postgres the planner's statistics are then refreshed (``ANALYZE``, as autovacuum does for a
store that grew by use: without them, a bulk-filled outbox is scanned whole by the delivery
claim, about 110 ms at 100,000 runs).
Then a restart, as a bot process does it: open the store (schema check), build the engine, one
sweep (due timers, orphaned runs, what is not yet shown), until idle: ``restart_ms``. Then
``--resumes`` answers to runs picked at random across the store, one at a time: resume latency
p50/p99 (answer handed over until the run waits at its next lock and that is shown).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection, make_url

from bench.engine import Locks, drop_pg, fresh_pg, pct
from bench.hitl import app
from flows import Request
from flows.engine import Engine
from store import SQLStore, connect
from store.tables import calls, events, executions, outbox, timers

ID_TAIL = 8  # hex characters of an id replaced in each copy


def _renamed(column: str) -> str:
    """An id column's value in a copy: its last characters replaced by the copy's suffix."""
    return f"substr({column}, 1, length({column}) - {ID_TAIL}) || :suffix"


COPIED: dict[str, tuple[Table, set[str]]] = {  # table -> its columns that hold ids
    "executions": (executions, {"id"}),
    "calls": (calls, {"id", "execution_id"}),
    "events": (events, {"execution_id", "call_id"}),
    "outbox": (outbox, {"key", "execution_id", "call_id"}),
    "timers": (timers, {"execution_id", "call_id"}),
}


def _copy_statement(table: Table, ids: set[str]) -> str:
    columns = [c.name for c in table.columns if not (c.name == "id" and "id" not in ids)]
    quoted = [f'"{c}"' for c in columns]
    values = [_renamed(f'"{c}"') if c in ids else f'"{c}"' for c in columns]
    source = "id" if table.name == "executions" else "execution_id"
    return (
        f"INSERT INTO {table.name} ({', '.join(quoted)}) SELECT {', '.join(values)} "
        f"FROM {table.name} WHERE {source} IN (SELECT id FROM base_runs)"
    )


def copy_runs(conn: Connection, base: list[str], copies: range) -> None:
    """Copy the ``base`` runs' rows once per number in ``copies``, under new ids."""
    conn.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS base_runs (id VARCHAR(64))"))
    conn.execute(text("DELETE FROM base_runs"))
    conn.execute(text("INSERT INTO base_runs (id) VALUES (:id)"), [{"id": b} for b in base])
    statements = [text(_copy_statement(t, ids)) for t, ids in COPIED.values()]
    for k in copies:
        for statement in statements:
            conn.execute(statement, {"suffix": f"{k:0{ID_TAIL}x}"})


async def fill(url: str, paused: int, base: int) -> None:
    store = await SQLStore.open(url)
    engine = Engine(store, [app], Locks())
    ids = []
    for i in range(base):
        ids.append(await engine.start("hitl", {"n": i}, Request("hitl", "UBENCH")))
        await engine.settled(ids[-1])
    await engine.idle()
    await engine.close()
    copies = range(1, (paused + base - 1) // base)
    for first in range(copies.start, copies.stop, 20):  # 20 copies per transaction
        await store.run(copy_runs, ids, range(first, min(first + 20, copies.stop)))
    await store.close()
    if make_url(url).get_backend_name() == "postgresql":  # what autovacuum does for a store
        admin = connect(url, isolation_level="AUTOCOMMIT")  # grown to this size by use
        async with admin.connect() as conn:
            await conn.execute(text("ANALYZE"))
        await admin.dispose()


def waiting_locks(conn: Connection, count: int, seed: int) -> list[str]:
    found = conn.execute(select(func.count()).select_from(calls).where(calls.c.status == "open"))
    total = int(found.scalar_one())
    picks = sorted(random.Random(seed).sample(range(total), min(count, total)))
    query = select(calls.c.id).where(calls.c.status == "open").order_by(calls.c.id)
    every = list(conn.execute(query).scalars())
    return [every[i] for i in picks]


async def measure(url: str, resumes: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    store = await SQLStore.open(url)
    locks = Locks()
    engine = Engine(store, [app], locks)
    await engine.sweep()
    await engine.idle()
    restart = time.perf_counter() - t0
    paused = await store.run(
        lambda c: c.execute(select(func.count()).select_from(executions)).scalar_one()
    )
    chosen = await store.run(waiting_locks, resumes, 7)
    random.Random(11).shuffle(chosen)
    latencies = []
    for lock_id in chosen:
        begin = time.perf_counter()
        decision = await engine.submit(lock_id, {"ok": True, "note": "fine"}, "UREVIEW")
        assert decision.lock is not None
        await engine.settled(decision.lock.execution_id)
        latencies.append((time.perf_counter() - begin) * 1000)
        assert decision.outcome == "accepted", decision.outcome
    await engine.close()
    await store.close()
    return {
        "backend": make_url(url).get_backend_name(),
        "paused": int(paused),
        "restart_ms": round(restart * 1000, 1),
        "resume_p50_ms": round(statistics.median(latencies), 2),
        "resume_p99_ms": round(pct(latencies, 99), 2),
        "resumes": len(latencies),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paused", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--base", type=int, default=500)
    parser.add_argument("--resumes", type=int, default=300)
    parser.add_argument("--pg", default=os.environ.get("LOCKSTEP_TEST_DATABASE_URL"))
    args = parser.parse_args()
    for paused in args.paused:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'scale.db'}"
            await fill(url, paused, min(args.base, paused))
            print(json.dumps(await measure(url, args.resumes)), flush=True)
        if args.pg:
            url, name = await fresh_pg(args.pg)
            try:
                await fill(url, paused, min(args.base, paused))
                print(json.dumps(await measure(url, args.resumes)), flush=True)
            finally:
                await drop_pg(args.pg, name)


if __name__ == "__main__":
    asyncio.run(main())
