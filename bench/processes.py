"""Bot processes sharing one Postgres database: ``python -m bench.processes [--runs 600]
[--concurrency 16] --pg URL`` (default: ``LOCKSTEP_TEST_DATABASE_URL``).

``--runs`` runs of the HITL flow (``bench.hitl``) are started and left waiting at their first
lock. Then one process answers every run's two locks, ``--concurrency`` answers in flight at a
time (each run waits at its second lock, then finishes); then, on a fresh copy of the same
workload, two processes each answer half the runs. Each process is a real OS process with its
own engine over its own connection pool. Prints one JSON line per setup: decisions per second
over the whole answering phase (first answer to last run finished and shown), and the cores of
this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
from typing import Any

from bench.engine import Locks, drop_pg, fresh_pg
from bench.hitl import app
from flows import Request
from flows.engine import Engine
from store import SQLStore


async def prepare(url: str, runs: int) -> list[str]:
    store = await SQLStore.open(url)
    engine = Engine(store, [app], Locks())
    ids = [await engine.start("hitl", {"n": i}, Request("hitl", "UBENCH")) for i in range(runs)]
    await engine.idle()
    await engine.close()
    await store.close()
    return ids


async def answer(url: str, ids: list[str], concurrency: int, ready: Any, start: Any) -> int:
    """Answer both locks of each run in ``ids`` once ``start`` is set (the store open and the
    engine built before: say so on ``ready``); returns the decisions made."""
    store = await SQLStore.open(url)
    engine = Engine(store, [app], Locks())
    await store.execution(ids[0])  # the pool has a connection
    ready.put(True)
    await asyncio.to_thread(start.wait)  # every process begins together
    queue = list(ids)
    made = 0

    async def worker() -> None:
        nonlocal made
        while queue:
            eid = queue.pop()
            for _ in range(2):
                [lock] = [c for c in await store.calls(eid, open_only=True) if c.kind == "lock"]
                decision = await engine.submit(lock.id, {"ok": True}, "UREVIEW")
                assert decision.outcome == "accepted", decision.outcome
                made += 1
                await engine.settled(eid)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await engine.idle()
    await engine.close()
    await store.close()
    return made


def _process(url: str, ids: list[str], concurrency: int, ready: Any, start: Any, out: Any) -> None:
    out.put(asyncio.run(answer(url, ids, concurrency, ready, start)))


def decide_with(url: str, ids: list[str], processes: int, concurrency: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    ready, start, out = context.Queue(), context.Event(), context.Queue()
    shares = [ids[i::processes] for i in range(processes)]
    workers = [
        context.Process(target=_process, args=(url, share, concurrency, ready, start, out))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    for _ in workers:  # every process up, its store open, before the clock starts
        ready.get()
    t0 = time.perf_counter()
    start.set()
    made = sum(out.get() for _ in workers)
    elapsed = time.perf_counter() - t0
    for worker in workers:
        worker.join()
    return {
        "processes": processes,
        "runs": len(ids),
        "decisions": made,
        "decisions_per_s": round(made / elapsed, 1),
        "cores": os.cpu_count(),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pg", default=os.environ.get("LOCKSTEP_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if not args.pg:
        parser.error("needs Postgres: --pg URL or LOCKSTEP_TEST_DATABASE_URL")
    for processes in (1, 2):
        url, name = await fresh_pg(args.pg)
        try:
            ids = await prepare(url, args.runs)
            found = await asyncio.to_thread(decide_with, url, ids, processes, args.concurrency)
            print(json.dumps(found), flush=True)
        finally:
            await drop_pg(args.pg, name)


if __name__ == "__main__":
    asyncio.run(main())
