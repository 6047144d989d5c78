"""The HITL workload against the engine: ``python -m bench.engine [--n 1000 10000] [--pg URL]``.

Per backend and N, prints one JSON line: time to start N executions and have all paused at their
first lock, RSS growth per paused execution, resume latency p50/p99 (submission handed to the
engine until the execution is paused at its next lock or finished; sequential), total time,
database bytes per execution, and the throughput of the second round with concurrent submissions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from bench.hitl import app
from flows import Request
from flows.engine import Engine, Show
from store import SQLStore, connect, normalise_url

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


class Locks:
    """Keeps only the newest open lock id per execution (what a Slack message would carry); a
    ``ports.Notifier`` that shows nothing else."""

    def __init__(self) -> None:
        self.latest: dict[str, str] = {}

    async def show(self, show: Show) -> Any:
        if show.kind == "lock" and show.lock is not None and show.lock.open:
            self.latest[show.execution.id] = show.lock.id
        return show.location or {"shown": True}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(url: str, n: int, concurrency: int) -> dict[str, Any]:
    store = await SQLStore.open(url)
    locks = Locks()
    engine = Engine(store, [app], locks)
    gc.collect()
    rss_before = rss()
    t0 = time.perf_counter()
    ids = []
    for i in range(n):  # one at a time, as requests arrive: each is paused before the next
        ids.append(await engine.start("hitl", {"n": i}, Request("hitl", "UBENCH")))
        await engine.settled(ids[-1])
    started = time.perf_counter() - t0
    gc.collect()
    rss_paused = rss() - rss_before

    latencies = []
    for eid in ids:  # round one: sequential, for latency
        begin = time.perf_counter()
        decision = await engine.submit(locks.latest[eid], {"ok": True, "note": "fine"}, "UREVIEW")
        await engine.settled(eid)
        latencies.append((time.perf_counter() - begin) * 1000)
        assert decision.outcome == "accepted"

    t1 = time.perf_counter()
    queue = list(ids)

    async def worker() -> None:  # round two: concurrent, for throughput
        while queue:
            eid = queue.pop()
            await engine.submit(locks.latest[eid], {"ok": True}, "UREVIEW")
            await engine.settled(eid)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await engine.idle()
    round_two = time.perf_counter() - t1
    total = time.perf_counter() - t0
    finished = await store.executions(status=["finished"], limit=n + 1)
    assert len(finished) == n, f"{len(finished)} of {n} finished"
    size = await store.run(database_bytes)
    await engine.close()
    await store.close()
    return {
        "backend": make_url(url).get_backend_name(),
        "n": n,
        "start_and_pause_s": round(started, 2),
        "rss_per_paused_execution_bytes": round(rss_paused / n),
        "resume_p50_ms": round(statistics.median(latencies), 2),
        "resume_p99_ms": round(pct(latencies, 99), 2),
        "total_s": round(total, 2),
        "db_bytes_per_execution": round(size / n),
        f"concurrent_resumes_per_s_at_{concurrency}": round(n / round_two),
    }


def database_bytes(conn: Connection) -> int:
    if conn.dialect.name == "sqlite":
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        return int(pages) * int(conn.execute(text("PRAGMA page_size")).scalar_one())
    sizes = conn.execute(
        text(
            "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY"
            "['executions','calls','events','timers']) AS c"
        )
    )
    return int(sizes.scalar_one())


async def fresh_pg(base: str) -> tuple[str, str]:
    name = f"lockstep_bench_{secrets.token_hex(3)}"
    admin = connect(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    await admin.dispose()
    return make_url(normalise_url(base)).set(database=name).render_as_string(False), name


async def drop_pg(base: str, name: str) -> None:
    admin = connect(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--pg", default=os.environ.get("LOCKSTEP_TEST_DATABASE_URL"))
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            print(json.dumps(await run(url, n, args.concurrency)), flush=True)
        if args.pg:
            url, name = await fresh_pg(args.pg)
            try:
                print(json.dumps(await run(url, n, args.concurrency)), flush=True)
            finally:
                await drop_pg(args.pg, name)


if __name__ == "__main__":
    asyncio.run(main())
