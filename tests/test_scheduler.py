"""APScheduler fires timers on time from the store; only timers due soon become jobs."""

from __future__ import annotations

import asyncio
import time

from bot.scheduler import TimerScheduler
from flows import Engine, RecordingNotifier, Request
from store import Call, Execution, Store
from tests.sample_flows import app


class Watcher(RecordingNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.resolved = asyncio.Event()

    async def lock_resolved(self, execution: Execution, lock: Call) -> None:
        await super().lock_resolved(execution, lock)
        self.resolved.set()


async def test_a_deadline_fires_on_time_without_waiting_for_the_sweep(store: Store) -> None:
    notes = Watcher()
    engine = Engine(store, [app], notes)
    scheduler = TimerScheduler(engine, engine.sweep, every=3600)
    scheduler.start()
    try:
        eid = await engine.start("quick", {"timeout": 0.3}, Request("quick", "U1"))
        await engine.settled(eid)
        [lock] = notes.of("lock_opened", eid)
        await asyncio.wait_for(notes.resolved.wait(), 5)
        lag = time.time() - (lock.deadline or 0)
        assert 0 <= lag < 5, lag  # the sweep is an hour away: a date job fired it
        await engine.settled(eid)
        execution = await store.execution(eid)
        assert (
            execution and execution.status == "error" and "final expired" in (execution.error or "")
        )
    finally:
        scheduler.shutdown()
        await engine.close()


async def test_only_timers_due_within_the_horizon_become_jobs(store: Store) -> None:
    engine = Engine(store, [app], RecordingNotifier())
    for i in range(30):
        eid = await engine.start("quick", {"timeout": 3600 if i % 10 else 5}, Request("quick"))
        await engine.settled(eid)
    scheduler = TimerScheduler(engine, engine.sweep, every=10)
    scheduler.scheduler.start(paused=True)
    try:
        assert (
            await scheduler.plan() == 3
        )  # due in 5 s: within 2 x 10 s; the rest wait in the store
        assert await scheduler.plan() == 0  # planned once
        assert len(scheduler.scheduler.get_jobs()) <= 3  # one job per tenth of a second
        assert sum(len(batch) for batch in scheduler.slots.values()) == 3
    finally:
        scheduler.scheduler.shutdown(wait=False)
        await engine.close()
