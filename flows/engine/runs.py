"""Running executions: claim one, replay its flow with recorded answers, and either park it
(every branch waits for a person or a timer) or end it. Each wake-up is a fresh replay, so the
recovery path after a crash is the normal path.

``Runs`` drives replays (``flows.engine.replay``), at most one per execution in this process,
and across processes through the store's claims with heartbeats.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from flows.app import resolve
from flows.codec import decode, encode
from flows.engine.every import Every
from flows.engine.matching import PATH
from flows.engine.records import Call, Claimed, Execution, NewEvent, Post, Take
from flows.engine.replay import Replay
from flows.engine.scope import ids, mark
from flows.engine.setup import Setup
from flows.entry import run as run_flow
from flows.errors import FlowConfigError, LockCancelled, LockRejected, NotStorable, described
from flows.tracer import Tracer

log = logging.getLogger("lockstep.engine")
SETTLE_ROUNDS = 3  # loop turns a run gets to open sibling locks before it is parked


class Runs:
    """Drives executions in this process: ``wake`` asks for a run; a run already going goes
    round again. Every run claims its execution in the store first (or is handed the claim by
    the decision that woke it), so an execution runs in at most one process at a time."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.timer_hook: Callable[[float], None] | None = None  # told the earliest new timer
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wanted: set[str] = set()
        self._claimed: dict[str, tuple[Execution, list[Call]]] = {}

    def wake(
        self,
        execution_id: str,
        claimed: Execution | None = None,
        recorded: list[Call] | None = None,
    ) -> None:
        """``claimed``, ``recorded``: the execution as this process just claimed it, and its
        calls (saves the claim's round trip)."""
        if claimed is not None and recorded is not None and claimed.owner == self.setup.owner:
            self._claimed[execution_id] = (claimed, recorded)
        self._wanted.add(execution_id)
        if execution_id not in self._tasks:
            self._tasks[execution_id] = asyncio.create_task(self._drive(execution_id))

    async def settled(self, execution_id: str) -> None:
        while (task := self._tasks.get(execution_id)) is not None:
            await asyncio.shield(task)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*map(asyncio.shield, list(self._tasks.values())))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def recover(self) -> int:
        """Wake executions that have work and no live owner (a crashed process's runs)."""
        setup = self.setup
        ids = await setup.store.runnable(setup.clock.now() - setup.claim_ttl)
        for eid in ids:
            self.wake(eid)
        return len(ids)

    def timers_added(self, new_timers: Iterable[Mapping[str, Any]]) -> None:
        """Tell the scheduler (if any) when the earliest of some new timers is due."""
        due = [t["due_at"] for t in new_timers]
        if due and self.timer_hook is not None:
            self.timer_hook(min(due))

    async def _drive(self, execution_id: str) -> None:
        mark(run=execution_id)  # this task's log lines name the run
        try:
            while execution_id in self._wanted:
                self._wanted.discard(execution_id)
                try:
                    await self._run(execution_id)
                except Exception:
                    log.exception("run of execution %s failed; recovery will retry", execution_id)
        finally:
            del self._tasks[execution_id]

    async def _take_claim(self, execution_id: str) -> tuple[Execution, list[Call]] | None:
        handed = self._claimed.pop(execution_id, None)
        if handed is not None:
            return handed
        return await self.setup.store.claim(execution_id, self.setup.claim())

    async def _run(self, execution_id: str) -> None:
        setup = self.setup

        async def beat() -> None:  # the claim stays this process's while the run goes on
            await setup.store.heartbeat(execution_id, setup.owner, setup.clock.now())

        heartbeat = Every(setup.heartbeat_interval, beat)
        try:
            while claimed := await self._take_claim(execution_id):
                execution, recorded = claimed
                if execution.done or await self._replay(Replay(setup, execution, recorded)):
                    return
        finally:
            heartbeat.stop()

    async def _replay(self, run: Replay) -> bool:
        """One run of the flow. True when finished (or nothing more to do), False when the
        execution was woken while this run was parking it, so it must run again."""
        try:
            runner = resolve(run.execution.runner)
        except FlowConfigError as exc:
            return await self._end(run, "error", None, str(exc))
        inputs = decode(run.execution.inputs)
        fresh = contextvars.copy_context()  # its path starts empty, whoever woke the run
        fresh.run(PATH.set, ())
        flow = asyncio.get_running_loop().create_task(
            run_flow(runner, inputs, Tracer(run)), context=fresh
        )
        run.records.root = flow
        try:
            parked = await self._until_parked(run, flow)
        except asyncio.CancelledError:
            run.parking = True  # this process stops: its cleanup records nothing, as parking
            flow.cancel()  # what the flow did not record, a replay redoes
            raise
        if run.fatal:
            if flow.done() and not flow.cancelled():
                flow.exception()  # the fatal error itself, as the flow raised it: seen
            return await self._end(run, "error", None, str(run.fatal))
        if parked:
            return await self._park(run)
        try:
            value = flow.result()
        except (LockRejected, LockCancelled) as exc:
            return await self._end(run, "cancelled", None, str(exc))
        except Exception as exc:
            # The message stays in the trail: a flow's exception may quote what people typed.
            log.info("the flow raised %s", type(exc).__name__, extra=ids(run.execution.id))
            return await self._end(run, "error", None, described(exc))
        if unreached := [c for s, c in run.records.by_seq.items() if s not in run.records.matched]:
            names = ", ".join(f"{c.kind} {c.name!r}" for c in unreached)
            log.warning(
                "the flow finished without reaching recorded calls (%s): its code changed "
                "since they were made", names, extra=ids(run.execution.id),
            )  # fmt: skip
        try:
            result = encode(value)
        except NotStorable:  # never replayed: what cannot be recorded is kept as its text
            try:
                result = encode(value, loose=True)
            except NotStorable as exc:
                return await self._end(
                    run, "error", None, f"the flow's result cannot be recorded: {exc}"
                )
        return await self._end(run, "finished", result, None)

    async def _until_parked(self, run: Replay, flow: asyncio.Future[Any]) -> bool:
        """Drive the flow until it returns, or until a branch waits at a lock, no step runs and
        the other branches have had ``SETTLE_ROUNDS`` turns of the loop to reach theirs (one
        still busy outside a step is stopped: it reaches its lock in a later replay)."""
        while not flow.done():
            changed = asyncio.ensure_future(run.changed.wait())
            await asyncio.wait((flow, changed), return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            run.changed.clear()  # a change from now on (while flushing, say) wakes it again
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            if flow.done() or not (run.waiting or run.held):
                continue
            if run.in_step:
                await self._flush(run)  # show the open locks now; a step is still running
                continue
            if run.held:  # the flow did all it can: the next answer comes, as it did live
                await run.release()
                continue
            run.parking = True
            flow.cancel()
            await asyncio.gather(flow, return_exceptions=True)
            return True
        return False

    async def _flush(self, run: Replay) -> None:
        new_calls, new_timers, new_events = run.take_new()
        if new_calls:
            now = self.setup.clock.now()
            await self.setup.store.add(run.execution.id, now, new_calls, new_timers, new_events)
            self.timers_added(new_timers)
            self.setup.soon(run.execution.id)

    async def _park(self, run: Replay) -> bool:
        setup = self.setup
        new_calls, new_timers, new_events = run.take_new()
        now = setup.clock.now()
        awaiting = NewEvent(kind="status", detail={"status": "awaiting"})
        eid = run.execution.id
        suspended = (setup.owner, run.execution.wakeups, now, new_calls, new_timers, new_events)
        released, claimed = await self._with_take(
            eid, lambda take: setup.store.suspend(eid, *suspended, awaiting, take)
        )
        self.timers_added(new_timers)
        self._show(eid, claimed)
        return released

    async def _with_take(
        self,
        execution_id: str,
        change: Callable[[Take | None], Awaitable[tuple[bool, Claimed | None]]],
    ) -> tuple[bool, Claimed | None]:
        """Make ``change`` (a transaction on the run) claim the run's due rows for this
        process's deliverer too; the deliverer forgets the take if it claimed none."""
        take = self.setup.taking(execution_id)
        claimed: Claimed | None = None
        try:
            done, claimed = await change(take)
        finally:
            if take is not None and claimed is None:
                self.setup.taken(execution_id, None)
        return done, claimed

    def _show(self, execution_id: str, claimed: Claimed | None) -> None:
        """The run changed: show its rows (``claimed`` with the change, or claimed now)."""
        if claimed is not None:
            self.setup.taken(execution_id, claimed)
        else:
            self.setup.soon(execution_id)

    async def _end(self, run: Replay, status: str, result: Any, error: str | None) -> bool:
        await self._flush(run)
        setup = self.setup
        now = setup.clock.now()
        event = NewEvent(kind=status, detail={"error": error} if error else None)
        eid = run.execution.id
        ending_posts = [ending_post(eid)]
        ending = (status, result, error, event, ending_posts)
        ended, claimed = await self._with_take(
            eid, lambda take: setup.store.finish(eid, setup.owner, now, *ending, take)
        )
        if ended:
            flow = run.execution.flow
            log.info("run of %s ended: %s", flow, status, extra=ids(eid))
            setup.observer.run_ended(flow, status)
            self._show(eid, claimed)
        return True


def ending_post(execution_id: str) -> Post:
    """The run's last word in its thread: its result, or why it stopped."""
    return Post(key=f"end:{execution_id}", payload={"type": "ending"})
