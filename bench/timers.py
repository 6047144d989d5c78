"""Timers at scale: ``python -m bench.timers [--pending 100000] [--due 1000] [--pg URL]``.

Per backend (SQLite in a temporary directory; Postgres in a database of its own with ``--pg``),
prints one JSON line. First ``--pending`` open locks whose deadlines are a month away, written
straight into the store as the engine would have left them (``create_s``: context only). Then a
``TimerScheduler`` starts over them: the RSS it adds after a few sweep-and-plan passes, the
APScheduler jobs it holds (only timers due within its horizon should be jobs), and the time of
one sweep-and-plan pass. Then ``--due`` more locks, started one by one through the engine, all
with one deadline: ``--lead`` seconds after the first start, or by default a few seconds after
the starts should have ended. ``fire_lag``: when the notifier heard the lock expired, minus its
deadline, in real time through real date jobs. ``fired_exactly_once``: locks with exactly one
``expired`` event. ``due_opened_late``: locks opened after the deadline (the starts overran).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.timer_flows import app, approve_form, deadline
from bot.scheduler import TimerScheduler
from flows import Request
from flows.app import entry_point_name
from flows.engine import Call, Engine, Execution, NullNotifier
from flows.engine.setup import new_id
from flows.policy import Policy, make_policy, reminder_times
from store import SQLStore, normalise_url
from store.tables import calls, events, executions, timers

BATCH = 5000  # rows of each table per transaction
FAR = 30 * 86400.0  # pending deadlines: a month out
REMINDED_EVERY = 10  # one pending lock in ten also has reminder timers
LEAD = 3.0  # seconds between the last due lock opening and the shared deadline
WARMUP = 20  # engine starts that time one start, to place the shared deadline
SWEEP_EVERY = 5.0
RSS_PASSES = 3
SWEEP_PASSES = 20
FIRE_TIMEOUT = 120.0  # seconds past the deadline before giving up on the firing
MB = 1024 * 1024
USER = "UBENCH"
PAGE = os.sysconf("SC_PAGE_SIZE")
RUNNER = entry_point_name(deadline)


@dataclass
class Counting(NullNotifier):
    """Counts what a Slack notifier would post; keeps when each lock was told expired."""

    counts: Counter[str] = field(default_factory=Counter)
    opened: dict[str, Call] = field(default_factory=dict)  # execution id -> its lock
    expired: dict[str, tuple[float, Call]] = field(default_factory=dict)  # id -> (told at, lock)
    expect: int = 0
    all_expired: asyncio.Event = field(default_factory=asyncio.Event)

    async def status_changed(self, execution: Execution, waiting: Sequence[str]) -> None:
        self.counts["status_changed"] += 1

    async def lock_opened(self, execution: Execution, lock: Call) -> None:
        self.counts["lock_opened"] += 1
        self.opened[execution.id] = lock

    async def lock_resolved(
        self, execution: Execution, lock: Call, approvers: Sequence[str]
    ) -> None:
        self.counts["lock_resolved"] += 1
        if lock.status == "expired":
            self.expired[lock.id] = (time.time(), lock)
            if self.expect and len(self.expired) >= self.expect:
                self.all_expired.set()

    async def reminder(self, execution: Execution, lock: Call, people: list[str]) -> None:
        self.counts["reminder"] += 1


# pending locks, written as the engine would have left them ----------------------------------


@dataclass
class Rows:
    executions: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def timer_row(execution_id: str, lock_id: str, kind: str, due_at: float) -> dict[str, Any]:
    return {
        "execution_id": execution_id, "call_id": lock_id, "kind": kind, "due_at": due_at,
        "status": "pending", "attempts": 0, "fired_at": None, "payload": None,
    }  # fmt: skip


def event_row(execution_id: str, at: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"execution_id": execution_id, "at": at, "kind": kind, "actor": None,
            "call_id": None, "detail": None, **fields}  # fmt: skip


def paused_execution(rows: Rows, n: int, now: float, policy: Policy) -> None:
    """One execution of the ``deadline`` flow, parked at its lock: the rows ``Engine.launch``,
    ``Run.open_lock`` and ``store.queries.suspend`` write, with the lock posted to Slack."""
    eid, lock_id = new_id(), new_id()
    due_at = now + policy.timeout
    inputs = {"due_at": due_at, "n": n}
    rows.executions.append(
        {
            "id": eid, "flow": "deadline", "runner": RUNNER, "inputs": inputs,
            "status": "awaiting", "initiator": USER, "result": None, "error": None,
            "context": {"channel": "CBENCH", "thread_ts": f"{now:.6f}"},
            "created_at": now, "updated_at": now, "wakeups": 0, "progress": 0,
            "owner": None, "heartbeat_at": now,
        }
    )  # fmt: skip
    rows.calls.append(
        {
            "id": lock_id, "execution_id": eid, "seq": 1, "kind": "lock", "name": "approve",
            "status": "open", "data": {"n": n}, "form": approve_form({"n": n}).to_json(),
            "result": None, "actor": None, "comment": None, "deadline": due_at,
            "created_at": now, "decided_at": None, "posted": True,
            "message": {"channel": "CBENCH", "ts": f"{now + 0.001:.6f}"},
            "policy": policy.to_json(),
        }
    )  # fmt: skip
    rows.timers.append(timer_row(eid, lock_id, "deadline", due_at))
    for at in reminder_times(policy, now, due_at):
        rows.timers.append(timer_row(eid, lock_id, "remind", at))
    opened = {"name": "approve", "deadline": due_at}
    rows.events += [
        event_row(eid, now, "started", actor=USER, detail={"inputs": inputs}),
        event_row(eid, now, "lock_opened", call_id=lock_id, detail=opened),
        event_row(eid, now, "status", detail={"status": "awaiting"}),
    ]


def insert_rows(conn: Connection, rows: Rows) -> None:
    for table, batch in (
        (executions, rows.executions),
        (calls, rows.calls),
        (timers, rows.timers),
        (events, rows.events),
    ):
        if batch:
            conn.execute(insert(table), batch)


async def create_pending(store: SQLStore, count: int, default_timeout: float) -> None:
    plain = make_policy(FAR, default_timeout)
    reminded = make_policy(FAR, default_timeout, remind=[86400, 3600])
    for first in range(0, count, BATCH):
        rows = Rows()
        now = time.time()
        for n in range(first, min(count, first + BATCH)):
            paused_execution(rows, n, now, reminded if n % REMINDED_EVERY == 0 else plain)
        await store.run(insert_rows, rows)


def analyze(conn: Connection) -> None:
    """Postgres: the statistics autovacuum would have gathered while the rows piled up over
    weeks. (SQLite gathers none unless told, so it is measured without.)"""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE executions, calls, timers, events"))


# measuring ------------------------------------------------------------------------------------


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


def pct(values: list[float], p: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else None


def rounded(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def expired_events(conn: Connection) -> dict[str, int]:
    query = (
        select(events.c.call_id, func.count())
        .where(events.c.kind == "expired")
        .group_by(events.c.call_id)
    )
    return {str(cid): int(n) for cid, n in conn.execute(query)}


def finished(conn: Connection, ids: Sequence[str]) -> int:
    query = select(func.count()).where(
        executions.c.id.in_(list(ids)), executions.c.status == "finished"
    )
    return int(conn.execute(query).scalar_one())


async def start_deadlines(
    engine: Engine, due_at: float, count: int, first: int
) -> tuple[list[str], list[float]]:
    """Start ``count`` executions one at a time, as requests arrive; their ids and seconds each."""
    ids, took = [], []
    for n in range(first, first + count):
        begin = time.perf_counter()
        request = Request("deadline", USER, {"channel": "CBENCH", "thread_ts": str(n)})
        ids.append(await engine.start("deadline", {"due_at": due_at, "n": n}, request))
        await engine.settled(ids[-1])
        took.append(time.perf_counter() - begin)
    return ids, took


async def sweep_pass(engine: Engine, scheduler: TimerScheduler) -> float:
    begin = time.perf_counter()
    await engine.sweep()
    await scheduler.plan()
    return (time.perf_counter() - begin) * 1000


async def run(url: str, pending: int, due: int, lead: float | None) -> dict[str, Any]:
    store = await SQLStore.open(url)
    notes = Counting()
    engine = Engine(store, [app], notes)
    scheduler = TimerScheduler(engine, every=SWEEP_EVERY)
    try:
        t0 = time.perf_counter()
        await create_pending(store, max(0, pending - WARMUP), engine.config.default_timeout)
        await store.run(analyze)
        create_s = time.perf_counter() - t0

        warmup = min(WARMUP, pending)  # the rest through the engine: one start's cost, for later
        _, took = await start_deadlines(engine, time.time() + FAR, warmup, pending)
        per_start = statistics.median(took) if took else 0.0

        gc.collect()
        rss_before = rss()
        scheduler.start()
        for _ in range(RSS_PASSES):
            await sweep_pass(engine, scheduler)
        gc.collect()
        rss_growth = (rss() - rss_before) / MB
        jobs = len(scheduler.scheduler.get_jobs())
        sweeps = [await sweep_pass(engine, scheduler) for _ in range(SWEEP_PASSES)]

        notes.expect = due
        ahead = lead if lead is not None else LEAD + 2 * per_start * due
        due_at = float(math.ceil(time.time() + ahead))
        t2 = time.perf_counter()
        ids, _ = await start_deadlines(engine, due_at, due, pending + WARMUP)
        due_create_s = time.perf_counter() - t2
        margin = due_at - time.time()  # negative: some locks opened after their deadline
        jobs_due = len(scheduler.scheduler.get_jobs())
        try:
            await asyncio.wait_for(notes.all_expired.wait(), max(0.0, margin) + FIRE_TIMEOUT)
            await asyncio.wait_for(engine.idle(), FIRE_TIMEOUT)
            timed_out = False
        except TimeoutError:  # report what did fire; close() stops the rest
            timed_out = True

        lags = [(at - (lock.deadline or math.nan)) * 1000 for at, lock in notes.expired.values()]
        late = sum(1 for _, lock in notes.expired.values() if lock.created_at > due_at)
        counts = await store.run(expired_events)
        locks = {notes.opened[eid].id for eid in ids}
        done = await store.run(finished, ids)
    finally:
        scheduler.shutdown()
        await engine.close()
        await store.close()
    return {
        "backend": make_url(url).get_backend_name(),
        "pending": pending,
        "create_s": round(create_s, 2),
        "scheduler_rss_growth_mb": round(rss_growth, 2),
        "scheduler_jobs": jobs,
        "sweep_pass_p50_ms": round(statistics.median(sweeps), 2),
        "sweep_pass_max_ms": round(max(sweeps), 2),
        "due": due,
        "due_start_s": round(due_create_s, 2),
        "due_margin_s": round(margin, 2),
        "scheduler_jobs_before_deadline": jobs_due,
        "fire_lag_p50_ms": rounded(pct(lags, 50)),
        "fire_lag_p99_ms": rounded(pct(lags, 99)),
        "fire_lag_max_ms": rounded(pct(lags, 100)),
        "due_opened_late": late,
        "timed_out": timed_out,
        "fired_exactly_once": sum(1 for lock in locks if counts.get(lock) == 1),
        "expired_other": sum(n for cid, n in counts.items() if cid not in locks),
        "finished": done,
        "reminders": notes.counts["reminder"],
    }


async def admin(base: str, sql: str) -> None:
    """One statement outside a transaction, on the server ``base`` points at."""
    engine = create_async_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument(
        "--lead",
        type=float,
        help="seconds from the first due start to the deadline (default: "
        f"{LEAD:.0f} s after the starts should have ended, timed on {WARMUP} starts)",
    )
    parser.add_argument("--pg", default=os.environ.get("LOCKSTEP_TEST_DATABASE_URL"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        print(json.dumps(await run(url, args.pending, args.due, args.lead)), flush=True)
    if args.pg:  # a database of its own, as bench.engine does
        name = f"lockstep_bench_{secrets.token_hex(3)}"
        await admin(args.pg, f"CREATE DATABASE {name}")
        url = make_url(normalise_url(args.pg)).set(database=name).render_as_string(False)
        try:
            print(json.dumps(await run(url, args.pending, args.due, args.lead)), flush=True)
        finally:
            await admin(args.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
