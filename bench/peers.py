"""Lockstep beside LangGraph on the same human-in-the-loop workload, in one run:
``python -m bench.peers [--n 1000] [--repeat 3]`` (needs the ``bench`` extra: ``pip install -e
'.[bench]'``; LangGraph is never a runtime dependency).

Each engine starts N executions that pause for a person, resumes each (it pauses a second
time), then resumes each again (it finishes); one at a time, as answers arrive. A resume is
timed from the answer handed over until the execution is paused again or finished, and for
Lockstep until what people see is shown too (its notifier is told). Every engine writes a SQLite
file with the same settings: WAL, ``synchronous=NORMAL``. Lockstep also validates each answer
against its form and writes its audit trail; LangGraph's checkpointers are the sync
``SqliteSaver`` and the async ``AsyncSqliteSaver``. Prints one JSON line per engine and
repetition, then the ratios of the medians (peer / Lockstep: above 1, Lockstep is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

from bench.engine import Locks, pct
from bench.hitl import app
from flows import Request
from flows.engine import Engine
from store import SQLStore

Timings = dict[str, Any]


class State(TypedDict, total=False):
    n: int
    first: bool
    second: bool


def graph(checkpointer: Any) -> Any:
    """The same flow as ``bench.hitl``: two approvals, then a result."""
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    def first(state: State) -> State:
        answer = interrupt({"lock": "first", "n": state["n"]})
        return {"first": bool(answer["ok"])}

    def second(state: State) -> State:
        answer = interrupt({"lock": "second", "n": state["n"]})
        return {"second": bool(answer["ok"])}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(checkpointer=checkpointer)


def summary(engine: str, n: int, started: float, resumes: list[float], total: float) -> Timings:
    return {
        "engine": engine,
        "n": n,
        "start_s": round(started, 3),
        "resume_p50_ms": round(statistics.median(resumes), 3),
        "resume_p99_ms": round(pct(resumes, 99), 3),
        "total_s": round(total, 3),
    }


async def lockstep(path: Path, n: int) -> Timings:
    store = await SQLStore.open(f"sqlite:///{path}")
    locks = Locks()
    engine = Engine(store, [app], locks)
    t0 = time.perf_counter()
    ids = []
    for i in range(n):
        ids.append(await engine.start("hitl", {"n": i}, Request("hitl", "UBENCH")))
        await engine.settled(ids[-1])
    started = time.perf_counter() - t0
    resumes = []
    for _ in range(2):
        for eid in ids:
            begin = time.perf_counter()
            decision = await engine.submit(locks.latest[eid], {"ok": True, "note": "fine"}, "UR")
            await engine.settled(eid)
            resumes.append((time.perf_counter() - begin) * 1000)
            assert decision.outcome == "accepted"
    total = time.perf_counter() - t0
    finished = await store.executions(status=["finished"], limit=n + 1)
    assert len(finished) == n, f"{len(finished)} of {n} finished"
    await engine.close()
    await store.close()
    return summary("lockstep", n, started, resumes, total)


def langgraph_sync(path: Path, n: int) -> Timings:
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.types import Command

    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    flow = graph(SqliteSaver(conn))
    t0 = time.perf_counter()
    threads = [{"configurable": {"thread_id": f"t{i}"}} for i in range(n)]
    for i, config in enumerate(threads):
        flow.invoke({"n": i}, config)
    started = time.perf_counter() - t0
    resumes = []
    for _ in range(2):
        for config in threads:
            begin = time.perf_counter()
            flow.invoke(Command(resume={"ok": True, "note": "fine"}), config)
            resumes.append((time.perf_counter() - begin) * 1000)
    total = time.perf_counter() - t0
    done = [flow.get_state(c).values.get("second") for c in threads]
    assert all(done), "every thread finished"
    conn.close()
    return summary("langgraph-sqlite", n, started, resumes, total)


async def langgraph_async(path: Path, n: int) -> Timings:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.types import Command

    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        flow = graph(AsyncSqliteSaver(conn))
        t0 = time.perf_counter()
        threads = [{"configurable": {"thread_id": f"t{i}"}} for i in range(n)]
        for i, config in enumerate(threads):
            await flow.ainvoke({"n": i}, config)
        started = time.perf_counter() - t0
        resumes = []
        for _ in range(2):
            for config in threads:
                begin = time.perf_counter()
                await flow.ainvoke(Command(resume={"ok": True, "note": "fine"}), config)
                resumes.append((time.perf_counter() - begin) * 1000)
        total = time.perf_counter() - t0
        done = [(await flow.aget_state(c)).values.get("second") for c in threads]
        assert all(done), "every thread finished"
    return summary("langgraph-aiosqlite", n, started, resumes, total)


async def sync(fn: Callable[[Path, int], Timings], path: Path, n: int) -> Timings:
    return fn(path, n)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engines: dict[str, Callable[[Path, int], Awaitable[Timings]]] = {
        "lockstep": lockstep,
        "langgraph-sqlite": lambda p, n: sync(langgraph_sync, p, n),
        "langgraph-aiosqlite": langgraph_async,
    }
    seen: dict[str, list[Timings]] = {name: [] for name in engines}
    for _ in range(args.repeat):  # interleaved, so a noisy moment hurts every engine alike
        for name, run in engines.items():
            with tempfile.TemporaryDirectory() as tmp:
                found = await run(Path(tmp) / "bench.db", args.n)
            seen[name].append(found)
            print(json.dumps(found), flush=True)
    ours = seen["lockstep"]
    for name, theirs in seen.items():
        if name == "lockstep":
            continue
        ratios = {
            key: round(
                statistics.median(t[key] for t in theirs) / statistics.median(o[key] for o in ours),
                2,
            )
            for key in ("resume_p50_ms", "resume_p99_ms", "total_s")
        }
        print(json.dumps({"peer": name, "peer_over_lockstep": ratios}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
