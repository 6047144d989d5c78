"""A run's claim behind a backlog: ``python -m bench.claims [--backlog 0 5000 20000] [--runs 100]``.

Per backlog size, prints one JSON line. ``--runs`` runs of the HITL flow (``bench.hitl``) are
started until each waits at its first lock, shown; then ``--backlog`` messages about no run are
added, waiting to be shown (half due now, half later: Slack was down, say); then, per run, its
messages are made due again and claimed as a change of the run claims them
(``store.deliveries.claim``, in a transaction of its own): claim p50/p99 in microseconds. A
claim that reads only the run's rows costs the same at every size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from bench.engine import Locks, pct
from bench.hitl import app
from flows import Request
from flows.engine import Engine
from store import SQLStore
from store.deliveries import claim
from store.tables import outbox


def waiting(n: int, now: float) -> list[dict[str, Any]]:
    """Direct messages about no run, never shown: half due now, half in a day."""
    return [
        {"key": f"backlog:{i}", "execution_id": None, "call_id": None, "kind": "direct",
         "payload": None, "version": 1, "shown": 0, "pending": True, "location": None,
         "due_at": now if i % 2 else now + 86_400, "attempts": 0, "created_at": now,
         "updated_at": now}
        for i in range(n)
    ]  # fmt: skip


async def measure(path: Path, runs: int, backlog: int) -> dict[str, Any]:
    store = await SQLStore.open(f"sqlite:///{path}")
    engine = Engine(store, [app], Locks())
    ids = []
    for i in range(runs):
        ids.append(await engine.start("hitl", {"n": i}, Request("hitl", "UBENCH")))
        await engine.settled(ids[-1])
    await engine.close()
    if backlog:
        await store.run(lambda conn: conn.execute(insert(outbox), waiting(backlog, time.time())))
    claims = []
    for eid in ids:

        def due_again(conn: Connection, eid: str = eid) -> None:
            bumped = {"pending": True, "due_at": 0.0, "version": outbox.c.version + 1}
            conn.execute(update(outbox).where(outbox.c.execution_id == eid).values(**bumped))

        await store.run(due_again)
        begin = time.perf_counter()
        rows = await store.run(lambda conn, eid=eid: claim(conn, "bench", time.time(), 30, 50, eid))
        claims.append((time.perf_counter() - begin) * 1e6)
        assert rows, f"run {eid} claimed nothing"
    await store.close()
    return {
        "backend": "sqlite", "backlog": backlog, "runs": runs,
        "claim_p50_us": round(statistics.median(claims)), "claim_p99_us": round(pct(claims, 99)),
    }  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, nargs="+", default=[0, 5000, 20000])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    for backlog in args.backlog:
        with tempfile.TemporaryDirectory(prefix="lockstep-claims-") as tmp:
            print(json.dumps(await measure(Path(tmp) / "claims.db", args.runs, backlog)))


if __name__ == "__main__":
    asyncio.run(main())
