"""APScheduler drives the timers; the store stays the truth.

One interval job sweeps (due timers, orphaned runs, unposted locks). After each sweep, every
timer due within the next ``horizon`` seconds joins the date job of its tenth of a second, so
it fires on time rather than at the next sweep; when sweeps are further apart than the horizon,
another interval job plans (only) twice per horizon. Timers further out cost nothing in memory:
100,000 pending timers are 100,000 rows, not 100,000 jobs. Firing is the timer's
compare-and-set, so a job that loses to another process (or to the sweep) does nothing.

Due times are read on the engine's clock; APScheduler's date jobs run on the system's, so a job
is placed as far from the system's now as its timer is from the engine's.

A job fires its timers as the store has them when it runs: one moved later meanwhile (a lock
snoozed in its last seconds) is not due, stays pending and is planned again for its new time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from flows.engine import Engine, Timer

log = logging.getLogger("lockstep.scheduler")
PLAN_LIMIT = 5000  # date jobs at most at once; the sweep catches the rest
MAX_HORIZON = 60.0
PLAN_DELAY = 0.05
SLOT = 0.1  # timers due within the same tenth of a second share one date job


class TimerScheduler:
    def __init__(self, engine: Engine, every: float, horizon: float | None = None) -> None:
        self.engine = engine
        self.every = every
        self.horizon = horizon if horizon is not None else min(2 * every, MAX_HORIZON)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # the surfaces' upkeep, after each sweep (the clicks a dead process held)
        self.also: list[Callable[[], Awaitable[object]]] = []
        self.planned: set[int] = set()
        self.slots: dict[int, list[Timer]] = {}  # timers by the tenth of a second they are due
        self._replan = False
        self._running: set[asyncio.Task[object]] = set()  # jobs under way (they use the store)
        self.swept_at: float | None = None  # engine time the last sweep finished (or it started)
        self._stopping = False  # shutdown asked (APScheduler stops in a later loop callback)

    def _at(self, due_at: float) -> datetime:
        """The system time at which the engine's clock reads ``due_at`` (now, if past)."""
        ahead = max(0.0, due_at - self.engine.clock.now())
        return datetime.now(UTC) + timedelta(seconds=ahead)

    def start(self) -> None:
        self.scheduler.add_job(
            self._sweep, "interval", seconds=self.every, id="sweep",
            next_run_time=datetime.now(UTC), max_instances=1, coalesce=True,
        )  # fmt: skip
        if self.horizon < self.every:  # sweeps further apart than the horizon (a minute at
            # most): timers entering it between two sweeps are planned all the same
            self.scheduler.add_job(
                self._look_ahead, "interval", seconds=self.horizon / 2, id="look-ahead",
                max_instances=1, coalesce=True,
            )  # fmt: skip
        self.scheduler.start()
        self.swept_at = self.engine.clock.now()
        self.engine.timer_hook = self.soon

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def since_sweep(self) -> float | None:
        """Seconds since the last sweep finished (or the scheduler started); None: not
        running. A sweep that fails or hangs leaves this growing: the readiness probe reads
        it."""
        if not self.running or self.swept_at is None:
            return None
        return self.engine.clock.now() - self.swept_at

    def shutdown(self) -> None:
        """Stop planning and sweeping. Idempotent: APScheduler's asyncio scheduler stops in a
        loop callback, so it still says it is running until then, and a second shutdown would
        raise there."""
        self.engine.timer_hook = None
        if self.scheduler.running and not self._stopping:
            self._stopping = True
            self.scheduler.shutdown(wait=False)

    async def drain(self) -> None:
        """After ``shutdown``: wait for the jobs still under way, so none holds a store
        connection when the store closes (``shutdown(wait=False)`` does not wait for them)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def under_way(self) -> list[asyncio.Task[object]]:
        """The jobs running now (a shutdown that cannot wait for them cancels them)."""
        return list(self._running)

    def _under_way(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def soon(self, due_at: float) -> None:
        """The engine made a timer: plan it now if it is due before the next plan would run.
        A burst of new timers is planned in one pass."""
        if due_at - self.engine.clock.now() >= self.horizon or self._replan:
            return
        self._replan = True  # a burst of new timers shares one pass, a moment later
        run_at = datetime.now(UTC) + timedelta(seconds=PLAN_DELAY)
        self.scheduler.add_job(self._plan_soon, "date", run_date=run_at, id="plan")

    async def _plan_soon(self) -> None:
        self._under_way()
        self._replan = False
        await self.plan()

    async def _look_ahead(self) -> None:
        self._under_way()
        try:
            await self.plan()
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("planning timers failed; the next pass retries")

    async def _sweep(self) -> None:
        self._under_way()
        try:
            await self.engine.sweep()
            for upkeep in self.also:
                await upkeep()
            await self.plan()
            self.swept_at = self.engine.clock.now()
        except asyncio.CancelledError:
            return  # shutting down: the store keeps everything for the next start
        except Exception:
            log.exception("sweep failed; the next one retries")

    async def plan(self) -> int:
        """Give every timer due within the horizon a place in a date job; returns how many."""
        now = self.engine.clock.now()
        added = 0
        for timer in await self.engine.due(self.horizon, PLAN_LIMIT):
            if timer.id in self.planned:
                continue
            self.planned.add(timer.id)
            slot = math.ceil(max(timer.due_at, now) / SLOT)  # never early, at most SLOT late
            batch = self.slots.get(slot)
            if batch is None:
                batch = self.slots[slot] = []
                self.scheduler.add_job(
                    self._fire, "date", run_date=self._at(slot * SLOT), args=[slot],
                    id=f"slot-{slot}", misfire_grace_time=None, replace_existing=True,
                )  # fmt: skip
            batch.append(timer)
            added += 1
        return added

    async def _fire(self, slot: int) -> None:
        """Fire a slot's timers together: the deadlines in one transaction."""
        self._under_way()
        due = self.slots.pop(slot, [])
        self.planned.difference_update(t.id for t in due)
        try:
            if await self.engine.fire(due) < len(due):
                await self.plan()  # moved later, or a moment early: planned again
        except Exception:
            log.exception("%d timers failed to fire; the sweep retries them", len(due))
