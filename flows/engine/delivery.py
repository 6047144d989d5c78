"""Showing what the store says people should see: the outbox's deliverer.

Every state change writes or bumps its outbox rows in its own transaction (``store``); this
shows them through the ``Notifier``. Right after a change, the rows of that run go at once
(``soon``; or ``taken``, claimed in the transaction of the change, when a run parks or ends);
the periodic sweep (``drain``) takes anything still behind, oldest first: rows whose
delivery failed (after their backoff), and rows of a process that died. A row is shown by one
deliverer at a time (a lease in the store), so its updates go in order, and it records the
version it showed, so a lost update is shown again and a late one never goes back.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from flows.app import Registry
from flows.engine.every import Every
from flows.engine.inflight import InFlight
from flows.engine.observers import NullObserver
from flows.engine.ports import (
    REFUSED,
    Clock,
    Notifier,
    Observer,
    Refused,
    Store,
    Unavailable,
)
from flows.engine.records import Claimed, Delivery, ShowState, Take
from flows.engine.reminder import Reminder, again_at, backoff
from flows.engine.scope import scope
from flows.engine.showing import receiver, show_of

log = logging.getLogger("lockstep.delivery")
LEASE = 6.0  # seconds a deliverer holds a row unless it renews it: a dead one's go soon
BATCH = 50
CONCURRENCY = 8  # runs shown at once; a run's own rows go one after another
HOLD = 0.2  # at most this long, a run this process is driving holds its rows for its next change
HOMES_EVERY = 0.5  # after a run's rows are shown, App Homes (bumped with them) follow this soon
NO_RUN = ""  # a pass over the rows about no run (App Homes), as the store names them


class Deliverer:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        registry: Registry,
        owner: str,
        lease: float = LEASE,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.registry = registry
        self.owner = owner
        self.lease = lease
        self.observer: Observer = observer or NullObserver()
        self.closed = False
        self._batches: dict[object, float] = {}  # batches under way -> when each began
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._tasks: dict[str | None, asyncio.Task[None]] = {}  # by run id (None: any run)
        self._wanted: dict[str | None, bool] = {}  # run id -> another pass wanted
        self._reminder = Reminder(clock, self.drain)  # drains again when a row given back is due
        self._held: dict[str, asyncio.TimerHandle] = {}  # run id -> its release
        self._homes: asyncio.TimerHandle | None = None  # the drain that shows App Homes
        self._inflight = InFlight()  # a run's rows in order, across this process's passes
        # One claim at a time here, its rows in flight before the next claim begins: on
        # Postgres two claims at once would each miss the other's leases (not yet committed),
        # and a run's later row could be claimed, and shown, beside its earlier ones.
        self._claiming = asyncio.Lock()
        self._given: dict[str, Claimed] = {}  # run id -> rows claimed for it, not yet shown
        self._keeping: dict[str, Every] = {}  # run id -> the leases of its given rows, renewed
        self._taking: dict[str, bool] = {}  # run id -> a pass of it ran while a take was open

    # asking -------------------------------------------------------------------------------

    def soon(self, execution_id: str, hold: float = 0.0) -> None:
        """A run's state changed: show its rows now. With ``hold``, at most that many seconds
        later, or with the run's next change, whichever comes first: a decision and the next
        lock it leads to then go in one pass."""
        if hold > 0 and not self.closed:
            if execution_id not in self._held:
                loop = asyncio.get_running_loop()
                self._held[execution_id] = loop.call_later(hold, self._release, execution_id)
            return
        self._release(execution_id)

    def _release(self, execution_id: str) -> None:
        self._unhold(execution_id)
        self._pass(execution_id)

    def _unhold(self, execution_id: str) -> None:
        held = self._held.pop(execution_id, None)
        if held is not None:
            held.cancel()

    def taking(self, execution_id: str) -> Take | None:
        """What a transaction that changes the run claims for this deliverer (its due rows, as
        ``soon`` would), to hand to ``taken``; None once closed."""
        if self.closed:
            return None
        # A pass of the run under way now, or begun before ``taken``, may hold a new row that
        # holds back a later one from this claim: then the run is claimed again after it.
        self._taking[execution_id] = execution_id in self._wanted
        return Take(self.owner, self.lease, BATCH)

    def taken(self, execution_id: str, claimed: Claimed | None) -> None:
        """The run's rows claimed for this deliverer with the change that made them due (as
        ``taking`` said): show them now, without claiming them again. None: the change
        claimed nothing (it failed, or did not happen); the take is forgotten."""
        contended = self._taking.pop(execution_id, True)
        if claimed is None:
            return
        rows, states = claimed
        self._unhold(execution_id)
        if self.closed:
            return  # their leases lapse: another process, or this one restarted, shows them
        if not rows:
            self._pass(execution_id)  # as ``soon``: a pass under way goes round again
            return
        if execution_id in self._given:  # a pass of the run has not shown the last ones yet
            earlier, read = self._given[execution_id]
            # in the run's order, each row once: a pass's rows go lowest first, so no two
            # passes wait for each other (``InFlight.after_earlier``)
            merged = {row.id: row for row in [*earlier, *rows]}
            rows, states = sorted(merged.values(), key=lambda r: r.id), {**read, **states}
        self._given[execution_id] = (rows, states)
        running = execution_id in self._wanted  # if so, it shows them when it goes round
        if running:
            self._keep(execution_id)
        else:
            self._pass(execution_id)
        if running or contended:
            self._wanted[execution_id] = True  # and then claims what waited behind its rows

    def _keep(self, execution_id: str) -> None:
        """Renew the leases of the run's given rows while they wait for its pass (Slack may
        keep it longer than a lease): no other process takes them meanwhile."""
        if execution_id in self._keeping:
            return

        async def renew() -> None:
            rows, _ = self._given.get(execution_id, ([], {}))
            if rows:
                until = self.clock.now() + self.lease
                await self.store.renew_deliveries([r.id for r in rows], self.owner, until)

        self._keeping[execution_id] = Every(self.lease / 3, renew)

    def drain(self) -> None:
        """Show every row that is due, oldest first."""
        self._pass(None)

    def busy(self) -> float | None:
        """How long the oldest batch under way has been (None: none is). A batch takes as
        long as Slack does; one that takes minutes means the deliverer is stuck."""
        return self.clock.now() - min(self._batches.values()) if self._batches else None

    def _pass(self, execution_id: str | None) -> None:
        if self.closed:
            return  # shutting down: another process, or this one restarted, shows the rest
        if execution_id in self._wanted:
            self._wanted[execution_id] = True  # running: it goes round once more
            return
        self._wanted[execution_id] = False
        if execution_id in self._taking:
            self._taking[execution_id] = True
        task = asyncio.create_task(self._passes(execution_id))
        self._tasks[execution_id] = task
        if execution_id:
            self._homes_soon()

    def _homes_soon(self) -> None:
        """A person's App Home lists many runs: it is shown again by a pass over the rows about
        no run, at most every ``HOMES_EVERY`` seconds, not with each run's pass."""
        if self._homes is None and not self.closed:
            loop = asyncio.get_running_loop()
            self._homes = loop.call_later(HOMES_EVERY, self._homes_now)

    def _homes_now(self) -> None:
        self._homes = None
        self._pass(NO_RUN)

    async def idle(self, execution_id: str | None = None) -> None:
        """Wait until this process is showing nothing (of ``execution_id``, if given); rows
        held for a run's next change go now."""
        held = list(self._held) if execution_id is None else [execution_id]
        for eid in held:
            if eid in self._held:
                self._release(eid)
        while True:
            if execution_id is None and self._homes is not None:  # Homes go now too
                self._homes.cancel()
                self._homes_now()
            if execution_id is not None:  # the run's own pass, and a pass over every run
                found = (self._tasks.get(execution_id), self._tasks.get(None))
                waiting = [t for t in found if t is not None]
            else:
                waiting = list(self._tasks.values())
            if not waiting:
                return
            await asyncio.gather(*map(asyncio.shield, waiting), return_exceptions=True)

    async def close(self) -> None:
        self.closed = True
        for held in self._held.values():
            held.cancel()
        self._held.clear()
        self._given.clear()
        self._taking.clear()
        for keeping in self._keeping.values():
            keeping.stop()
        self._keeping.clear()
        if self._homes is not None:
            self._homes.cancel()
            self._homes = None
        self._reminder.cancel()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # showing ------------------------------------------------------------------------------

    async def _passes(self, execution_id: str | None) -> None:
        try:
            while True:
                try:
                    full = await self._once(execution_id)
                except Exception:
                    log.exception("delivery pass failed; the sweep tries again")
                    full = False
                if execution_id:  # a change handed to this pass bumped the Homes too
                    self._homes_soon()
                if execution_id in self._given:
                    continue  # rows handed over meanwhile go next (a wanted claim after them)
                if not full and not self._wanted.get(execution_id):
                    return
                self._wanted[execution_id] = False
        finally:
            self._wanted.pop(execution_id, None)
            self._tasks.pop(execution_id, None)

    async def _once(self, execution_id: str | None) -> bool:
        """One batch; True when it was full (more may be due). The batch's state is read in
        one transaction and what was shown recorded in one; a row whose state changed while it
        was being shown goes round again."""
        now = self.clock.now()
        batch = object()
        self._batches[batch] = now
        try:
            given = self._given.pop(execution_id, None) if execution_id else None
            keeping = self._keeping.pop(execution_id or "", None)
            if keeping is not None:
                keeping.stop()  # this batch's own renewal takes over
            if given is not None:
                # In flight from now, not from when they were handed over: a pass under way
                # would wait for them while holding them back.
                rows, read = given
                self._inflight.add(rows)
            else:
                async with self._claiming:
                    rows, read = await self.store.claim_deliveries(
                        self.owner, now, self.lease, BATCH, execution_id
                    )
                    self._inflight.add(rows)
            states: dict[int, ShowState] | None = read
            ids = [row.id for row in rows]

            async def renew() -> None:  # the lease holds however long Slack takes
                until = self.clock.now() + self.lease
                await self.store.renew_deliveries(ids, self.owner, until)

            renewal = Every(self.lease / 3, renew)
            try:
                pending = rows
                while pending:
                    pending = await self._show_all(pending, execution_id, states)
                    states = None
            finally:
                renewal.stop()
                await self._inflight.landed(rows)
        finally:
            del self._batches[batch]
        return len(rows) == BATCH

    async def _show_all(
        self, rows: list[Delivery], target: str | None, states: dict[int, ShowState] | None
    ) -> list[Delivery]:
        """Show ``rows`` (``states``: what they show, if just read); returns those to show
        again (their state moved on meanwhile)."""
        if states is None:
            states = await self.store.show_states([(r.id, r.execution_id, r.call_id) for r in rows])
        chains: dict[tuple[str | None, Any], list[Delivery]] = {}
        for row in rows:  # each webhook receiver apart: one that is down holds nothing back
            chains.setdefault((row.execution_id, receiver(row)), []).append(row)
        shown: list[tuple[Delivery, Any]] = []
        if len(chains) == 1:  # the common case: one run's rows, no task of their own
            [chain] = chains.values()
            await self._chain(chain, states, shown)
        else:
            await asyncio.gather(*(self._chain(c, states, shown) for c in chains.values()))
        marks = [(row.id, row.version, where) for row, where in shown]
        placed = any(row.kind == "run" and row.location is None for row, where in shown if where)
        now = self.clock.now()
        again = {row.id: at for row, where in shown if (at := again_at(where)) is not None}
        behind = await self.store.delivered(self.owner, marks, now, placed=placed, again=again)
        for at in again.values():
            self._reminder.at(at)
        fresh = {row.execution_id for row, _ in shown if row.location is None and row.execution_id}
        for eid in fresh - {target}:
            self.soon(eid)  # its new messages may have waited behind this one
        if placed:
            self._homes_soon()  # a run's message is somewhere now: the Homes link it
        return [
            row.model_copy(update={"version": behind[row.id], "location": where, "attempts": 0})
            for row, where in shown
            if row.id in behind
        ]

    async def _chain(
        self,
        chain: list[Delivery],
        states: dict[int, ShowState],
        shown: list[tuple[Delivery, Any]],
    ) -> None:
        """A run's rows, in order (after its earlier rows another pass holds); the first that
        fails holds back the new ones behind it."""
        mine = {row.id for row in chain}
        thread, ready = chain[0].thread, chain[0].thread_ready
        failed = False
        for row in chain:
            await self._inflight.after_earlier(row, mine)
            try:
                async with self._gate:
                    if failed and row.location is None and row.kind not in ("run", "direct"):
                        await self._give_back(row, self.clock.now(), None, tried=False)
                        continue  # a new message waits for the ones before it
                    if row.kind in ("lock", "post") and not ready:
                        # Its run's message is being shown by another pass (claimed together on
                        # Postgres, each before the other's lease showed): the run goes round
                        # again once that pass is done, and this row with it.
                        await self._give_back(row, self.clock.now(), None, tried=False)
                        if row.execution_id is not None:
                            self.soon(row.execution_id)
                        failed = True
                        continue
                    row = row.model_copy(update={"thread": thread, "thread_ready": ready})
                    try:
                        with scope(row.execution_id, row.call_id):
                            show = show_of(row, states[row.id], self.registry)
                            where = None if show is None else await self.notifier.show(show)
                    except Exception as exc:
                        self.observer.delivered(row.kind, False)
                        with scope(row.execution_id, row.call_id):
                            await self._failed(row, exc)
                        failed = True
                        continue
                    if show is not None:
                        self.observer.delivered(row.kind, True)
                    shown.append((row, where))
                    if row.kind == "run":
                        thread, ready = where, True
            finally:
                await self._inflight.landed([row])

    async def _failed(self, row: Delivery, exc: Exception) -> None:
        """Back the row off, as long as the surface asked (``Unavailable.retry_after``). A wait
        the surface asked for (a rate limit) is its pacing, not a failure: it does not count
        as an attempt, so the backoff of later failures does not grow with it."""
        now = self.clock.now()
        after = exc.retry_after if isinstance(exc, Unavailable) else None
        paced = after is not None and math.isfinite(after)
        wait = after if paced and after is not None else backoff(row.attempts)
        if isinstance(exc, Refused):  # the notifier said why, once
            error = f"{REFUSED}{exc}"
        else:
            said = " ".join(str(exc).split())  # one line (slack_sdk's errors take two)
            error = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
            log.warning("showing %s failed (attempt %d, again in %.0f s): %s", row.key,
                        row.attempts, wait, error)  # fmt: skip
        await self._give_back(row, now + max(0.0, wait), error, not paced)

    async def _give_back(
        self, row: Delivery, due_at: float, error: str | None, tried: bool
    ) -> None:
        await self.store.retry_delivery(row.id, self.owner, due_at, error, tried, self.clock.now())
        self._reminder.at(due_at)
