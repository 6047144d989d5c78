"""APScheduler fires timers on time from the store; only timers due soon become jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

from bot.scheduler import TimerScheduler
from flows import Request
from flows.engine import Engine, FakeClock, RecordingNotifier, Show, Snooze
from store import SQLStore
from tests.sample_flows import app


class Watcher(RecordingNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.resolved = asyncio.Event()

    async def show(self, show: Show) -> Any:
        shown = await super().show(show)
        if show.lock is not None and not show.lock.open:
            self.resolved.set()
        return shown


async def test_a_deadline_fires_on_time_without_waiting_for_the_sweep(store: SQLStore) -> None:
    notes = Watcher()
    clock = FakeClock()
    engine = Engine(store, [app], notes, clock)
    scheduler = TimerScheduler(engine, every=3600)  # the sweep is an hour away
    scheduler.scheduler.start()
    try:
        eid = await engine.start("quick", {"timeout": 30}, Request("quick", "U1"))
        await engine.settled(eid)
        [lock] = notes.of("lock_opened", eid)
        clock.advance(30)  # the deadline is now: its date job runs at once
        assert await scheduler.plan() == 1
        await asyncio.wait_for(notes.resolved.wait(), 5)
        [expired] = notes.of("lock_resolved", eid)
        assert expired.status == "expired" and expired.decided_at == lock.deadline
        await engine.settled(eid)
        execution = await engine.execution(eid)
        assert execution and execution.status == "error"
        assert "final expired" in (execution.error or "")
    finally:
        scheduler.shutdown()
        await engine.close()


def test_jobs_run_when_the_engine_clock_reaches_their_time(store: SQLStore) -> None:
    clock = FakeClock(1000.0)
    scheduler = TimerScheduler(Engine(store, [app], clock=clock), every=10)
    ahead = (scheduler._at(1012.5) - datetime.now(UTC)).total_seconds()
    assert 12 < ahead <= 12.5
    assert (scheduler._at(990.0) - datetime.now(UTC)).total_seconds() <= 0  # overdue: now


async def test_only_timers_due_within_the_horizon_become_jobs(store: SQLStore) -> None:
    engine = Engine(store, [app], RecordingNotifier())
    for i in range(30):
        eid = await engine.start("quick", {"timeout": 3600 if i % 10 else 5}, Request("quick"))
        await engine.settled(eid)
    scheduler = TimerScheduler(engine, every=10)
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


class SlowSweep(Engine):
    """An engine whose sweep is under way at shutdown, and takes a while to let go of the store
    when cancelled (as a Postgres query does: the connection goes back to the pool)."""

    def __init__(self, store: SQLStore) -> None:
        super().__init__(store, [app], RecordingNotifier())
        self.sweeping = asyncio.Event()
        self.release = asyncio.Event()
        self.let_go = False

    async def sweep(self, *, grace: float | None = None) -> None:
        self.sweeping.set()
        try:
            await asyncio.Event().wait()  # mid-transaction, until cancelled
        finally:
            await self.release.wait()
            self.let_go = True


async def test_shutdown_waits_for_a_sweep_under_way_before_the_store_closes(
    store: SQLStore,
) -> None:
    engine = SlowSweep(store)
    scheduler = TimerScheduler(engine, every=3600)
    scheduler.start()  # the first sweep runs at once
    await asyncio.wait_for(engine.sweeping.wait(), 5)
    scheduler.shutdown()  # APScheduler cancels the job, and does not wait for it
    drained = asyncio.ensure_future(scheduler.drain())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not drained.done() and not engine.let_go  # the sweep still holds the store
    engine.release.set()
    await asyncio.wait_for(drained, 5)
    assert engine.let_go  # only now may the store close
    await engine.close()


async def test_a_snooze_in_the_last_seconds_moves_the_deadline_that_fires(
    store: SQLStore,
) -> None:
    """The date job was planned with the old deadline; it fires the timer as the store has it
    when it runs: moved a day later, it waits for its new time, and fires then."""
    notes = Watcher()
    clock = FakeClock()
    engine = Engine(store, [app], notes, clock)
    scheduler = TimerScheduler(engine, every=3600)  # the horizon: a minute
    ran = asyncio.Event()
    scheduler.scheduler.add_listener(lambda _: ran.set(), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.scheduler.start(paused=True)
    try:
        eid = await engine.start("snoozable", {}, Request("snoozable", "U1"))
        await engine.settled(eid)
        [lock] = notes.of("lock_opened", eid)
        clock.advance(3600 - 0.2)  # a fifth of a second left
        assert await scheduler.plan() == 1  # its date job is planned for the old deadline
        snoozed = await engine.snooze(lock.id, "U1")
        assert snoozed.lock is not None and snoozed.lock.deadline == lock.deadline + 86400
        clock.advance(1)  # the old deadline has passed; the job runs
        scheduler.scheduler.resume()
        await asyncio.wait_for(ran.wait(), 5)
        assert (await engine.lock(lock.id)).open  # not expired: it was snoozed
        [timer] = await engine.due(86400)
        assert (timer.kind, timer.due_at) == ("deadline", lock.deadline + 86400)
        assert not scheduler.slots  # a day away: a row, not a job
        clock.advance(86400)
        assert await scheduler.plan() == 1
        await asyncio.wait_for(notes.resolved.wait(), 5)
        expired = await engine.lock(lock.id)
        assert expired.status == "expired" and expired.decided_at == clock.now()
    finally:
        scheduler.shutdown()
        await engine.close()


async def test_a_timer_moved_later_does_not_fire_at_its_old_time(store: SQLStore) -> None:
    """Whoever holds the timer as it was (a planned job, another process) fires nothing."""
    clock = FakeClock()
    engine = Engine(store, [app], RecordingNotifier(), clock)
    try:
        eid = await engine.start("snoozable", {}, Request("snoozable", "U1"))
        await engine.settled(eid)
        [stale] = await engine.due(3600)
        assert (await engine.snooze(stale.call_id or "", "U1")).outcome is Snooze.SNOOZED
        clock.advance(3600)
        assert await engine.fire([stale]) == 0
        assert await engine.fire_due() == 0
        assert (await engine.lock(stale.call_id or "")).open
        clock.advance(86400)
        assert await engine.fire_due() == 1
        assert (await engine.lock(stale.call_id or "")).status == "expired"
    finally:
        await engine.close()


async def test_stopping_twice_is_quiet(store: SQLStore, caplog: pytest.LogCaptureFixture) -> None:
    """SIGTERM and then close both stop the scheduler: the second stop does nothing (APScheduler
    stops in a loop callback, so it still said it was running)."""
    engine = Engine(store, [], RecordingNotifier())
    scheduler = TimerScheduler(engine, every=3600)
    scheduler.start()
    scheduler.shutdown()
    scheduler.shutdown()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not scheduler.scheduler.running
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    await scheduler.drain()
    await engine.close()


async def test_timers_entering_the_horizon_between_distant_sweeps_fire_on_time(
    store: SQLStore,
) -> None:
    """Sweeps an hour apart (``LOCKSTEP_SWEEP_SECONDS=3600``), a horizon of a second: a
    deadline made half a minute out (beyond the horizon) was not planned, and when it came due
    nothing fired it until the next sweep, up to an hour late."""
    notes = Watcher()
    clock = FakeClock()
    engine = Engine(store, [app], notes, clock)
    scheduler = TimerScheduler(engine, every=3600, horizon=1)
    scheduler.start()
    try:
        eid = await engine.start("quick", {"timeout": 30}, Request("quick", "U1"))
        await engine.settled(eid)
        [lock] = notes.of("lock_opened", eid)
        assert not scheduler.slots  # beyond the horizon: a row, not a job
        clock.advance(30)  # due: no sweep comes for an hour
        await asyncio.wait_for(notes.resolved.wait(), 5)
        [expired] = notes.of("lock_resolved", eid)
        assert expired.status == "expired" and expired.decided_at == lock.deadline
    finally:
        scheduler.shutdown()
        await scheduler.drain()
        await engine.close()
