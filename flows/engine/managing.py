"""``Managing``: what a person does to a run or a lock other than answering it: snoozing a lock's
deadline, cancelling a run. Each is open to those the run's rules name (``Guard.manages``:
whoever started it and its flow's admins; a snooze also to whoever may decide the lock),
recorded with who did it, and shown."""

from __future__ import annotations

import hashlib
import logging

from flows.engine.answers import Changed
from flows.engine.guard import Guard
from flows.engine.outcomes import Cancel, Cancelled, Snooze, Snoozed
from flows.engine.records import NewEvent, Post, Workspace
from flows.engine.runs import Runs, ending_post
from flows.engine.scope import ids
from flows.parse import MAX_TEXT
from flows.policy import Policy, reminder_times
from flows.text import clean

log = logging.getLogger("lockstep.engine")


class Managing:
    def __init__(self, guard: Guard, runs: Runs, changed: Changed) -> None:
        self.guard, self.changed, self.runs = guard, changed, runs
        setup = runs.setup
        self.store, self.clock, self.observer = setup.store, setup.clock, setup.observer

    async def snooze(
        self,
        lock_id: str,
        actor: str | None,
        *,
        workspace: Workspace | None = None,
        request: str | None = None,
    ) -> Snoozed:
        """As ``Engine.snooze`` says."""
        lock = await self.guard.lock(lock_id, workspace)
        if lock is None:
            return Snoozed(Snooze.GONE, None)
        if not lock.open:
            return Snoozed(Snooze.DECIDED, lock)
        policy = Policy.from_json(lock.policy)
        if not policy.snooze:
            return Snoozed(Snooze.NOT_ALLOWED, lock)
        execution = await self.store.execution(lock.execution_id)
        if execution is None or not await self.guard.manages(execution, actor):
            if refused := await self.guard.may_decide(lock, actor, "snooze", execution):
                return Snoozed(Snooze.FORBIDDEN, lock, refused.allowed)
        now = self.clock.now()
        event = NewEvent(kind="snoozed", actor=actor, call_id=lock.id, detail={"by": policy.snooze})
        named = hashlib.sha256(request.encode()).hexdigest()[:32] if request else f"{now}"
        said = Post(key=f"snooze:{lock.id}:{named}", call_id=lock.id,
                    payload={"type": "snoozed", "actor": actor})  # fmt: skip

        def reminders(deadline: float) -> list[float]:
            return reminder_times(policy, lock.created_at, deadline)

        snoozed = await self.store.snooze(lock.id, policy.snooze, now, event, [said], reminders)
        if snoozed is None:
            return Snoozed(Snooze.DECIDED, await self.guard.lock(lock.id))
        if snoozed.deadline is not None:
            soon = [{"due_at": t} for t in reminders(snoozed.deadline) if t > now]
            self.runs.timers_added(soon)  # planned now if due before the next sweep
        self.changed(lock.execution_id)
        return Snoozed(Snooze.SNOOZED, snoozed)

    async def cancel(
        self,
        execution_id: str,
        actor: str | None,
        reason: str | None = None,
        *,
        workspace: Workspace | None = None,
        expire: bool = False,
    ) -> Cancelled:
        """As ``Engine.cancel`` says."""
        execution = await self.guard.execution(execution_id, workspace)
        if execution is None:
            return Cancelled(Cancel.GONE, None)
        if execution.done:
            return Cancelled(Cancel.ENDED, execution)
        if actor is not None and not await self.guard.manages(execution, actor):
            await self.guard.refused(execution.id, actor, "cancel")
            return Cancelled(Cancel.FORBIDDEN, execution, self.guard.admins(execution))
        now = self.clock.now()
        reason = clean(reason).strip()[:MAX_TEXT] if reason else None  # free text: cut, kept
        why = reason or f"cancelled by {actor or 'someone'}"
        event = NewEvent(kind="cancelled", actor=actor, detail={"reason": why})
        ending = [ending_post(execution_id)]
        if not await self.store.cancel(execution_id, now, why, event, ending, expire=expire):
            # Ended meanwhile. This losing transaction may have held the run's rows while the
            # winner's pass went by (Postgres skips rows locked by another): show them now.
            self.changed(execution_id)
            return Cancelled(Cancel.ENDED, await self.store.execution(execution_id) or execution)
        log.info("run of %s ended: cancelled", execution.flow, extra=ids(execution_id))
        self.observer.run_ended(execution.flow, "cancelled")
        self.changed(execution_id)
        ended = await self.store.execution(execution_id) or execution
        return Cancelled(Cancel.CANCELLED, ended)
