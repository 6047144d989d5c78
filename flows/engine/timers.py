"""What a due timer does. Deadlines close their lock as the lock's policy says (expired,
rejected, or approved with a default) or, for ``keep``, leave it open and nudge; reminders and
escalations nudge. Every timer fires once across processes (its own compare-and-set), and its
nudge is an outbox post written with the firing, so it is shown once and never lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from flows.codec import encode
from flows.engine.ports import Store
from flows.engine.records import Call, Closing, NewEvent, Post, Timer, missed
from flows.engine.runs import Runs
from flows.engine.scope import ids
from flows.engine.setup import timer_row
from flows.policy import Policy, more_reminders, next_overdue_reminder, series_goes_on

log = logging.getLogger("lockstep.timers")
NO_ANSWER = "no answer by the deadline"


def closing(timer: Timer, call: Call | None) -> Closing | None:
    """How a due timer closes its call, or None if it only nudges."""
    if timer.kind == "wake":
        return Closing(timer, "done", NewEvent(kind="woke", call_id=timer.call_id))
    policy = Policy.from_json(call.policy if call else None)
    if timer.kind != "deadline" or policy.on_timeout == "keep" or call is None:
        return None
    then = policy.on_timeout
    event = NewEvent(kind="expired", call_id=timer.call_id, detail={"then": then})
    if then == "reject":
        return Closing(timer, "rejected", event, comment=NO_ANSWER)
    if then == "approve":
        return Closing(timer, "resolved", event, result=encode(policy.default))
    return Closing(timer, "expired", event)


def closes_first(lock: Call | None, now: float) -> bool:
    """A nudge of a lock whose deadline has passed, and closes it (not ``keep``): its job ran
    late, before the deadline's own. Sent, it would say the lock stays open as it closes."""
    if lock is None or not lock.open or lock.deadline is None or now < lock.deadline:
        return False
    return Policy.from_json(lock.policy).on_timeout != "keep"


def more_of(policy: Policy, timer: Timer, lock: Call, now: float) -> list[dict[str, object]]:
    """A reminder series cut at ``MAX_REMINDERS`` goes on from its last planned reminder."""
    deadline = lock.deadline or 0.0
    times = more_reminders(policy, timer.due_at, now, deadline)
    rows = [timer_row(lock.execution_id, lock.id, "remind", at) for at in times]
    if times and series_goes_on(policy, times[-1], deadline):
        rows[-1]["payload"] = {"more": True}
    return rows


async def escalated_to(store: Store, lock: Call) -> list[str]:
    """Everyone added to the lock's answerers by escalations so far."""
    events = await store.events(lock.execution_id)
    found = [e for e in events if e.kind == "escalated" and e.call_id == lock.id]
    return [p for e in found for p in (e.detail or {}).get("to", [])]


class Timers:
    def __init__(self, runs: Runs) -> None:
        self.runs = runs
        self.setup = runs.setup

    async def fire_many(self, due: Sequence[Timer]) -> int:
        """Fire timers due together; returns how many this caller fired. Those that close their
        call (deadlines, durable sleeps) go in one transaction, whatever their number; nudges
        (reminders, escalations, kept locks past their deadline) one by one, after: a nudge due
        with its lock's deadline goes with the lock."""
        store = self.setup.store
        found = {c.id: c for c in await store.calls_by_id([t.call_id for t in due if t.call_id])}
        closes: list[Closing] = []
        nudges: list[tuple[Timer, Call | None]] = []
        for timer in due:
            call = found.get(timer.call_id or "")
            close = closing(timer, call)
            if close is None:
                nudges.append((timer, call))
            else:
                closes.append(close)
        fired = await self._close(closes, found) if closes else 0
        reminders = sorted((t for t, _ in nudges if t.kind == "remind"), key=lambda t: t.due_at)
        latest = {t.call_id: t.id for t in reminders}  # each lock's last reminder due
        kept = {t.call_id for t, _ in nudges if t.kind == "deadline"}  # a kept lock's deadline
        for timer, call in nudges:
            # SQLite's transactions never yield: a thousand reminders due together would hold
            # the event loop (Slack's clicks unacknowledged) until the last was written
            await asyncio.sleep(0)
            if timer.kind == "remind" and timer.call_id in kept:
                fired += await self._missed(timer, call, "the deadline")  # it says overdue
            elif timer.kind == "remind" and latest[timer.call_id] != timer.id:
                fired += await self._missed(timer, call)  # a later reminder is due too: it says
            else:  # the same, now
                fired += await self._nudge(timer, call)
        return fired

    async def _missed(
        self, timer: Timer, lock: Call | None, instead: str = "a later reminder"
    ) -> bool:
        """A reminder due when a later one of its lock (or its kept deadline) is due too (no
        process ran between), or a nudge of a lock its deadline closes (``closes_first``): only
        the later one is sent, this one is in the trail as ``missed``."""
        event = missed(timer.call_id, timer.kind, timer.due_at, instead)
        fired = await self.setup.store.fire_only(timer, self.setup.clock.now(), [], [event])
        if fired and lock is not None:
            self.setup.soon(lock.execution_id)
        return fired

    async def _close(self, closes: list[Closing], calls: dict[str, Call]) -> int:
        setup = self.setup
        now = setup.clock.now()
        woken = await setup.store.fire_closing(closes, now, setup.claim())
        for close in closes:
            execution = woken.get(close.timer.id)
            if execution is None:
                continue
            timer = close.timer
            setup.observer.timer_fired(timer.kind, now - timer.due_at)
            lock = calls.get(timer.call_id or "")
            if timer.kind == "deadline" and lock is not None:
                log.info("lock %r expired", lock.name, extra=ids(lock.execution_id, lock.id))
                setup.observer.lock_decided(execution.flow, "expired", now - lock.created_at)
            setup.soon(close.timer.execution_id)
            self.runs.wake(close.timer.execution_id, execution)
        return len(woken)

    async def _nudge(self, timer: Timer, lock: Call | None) -> bool:
        """A reminder or an escalation: a post in the thread (and direct messages), written
        with the firing."""
        setup = self.setup
        store, now = setup.store, setup.clock.now()
        if lock is None or not lock.open:
            fired = await store.fire_only(timer, now)  # answered meanwhile: nothing to say
            if fired:
                setup.observer.timer_fired(timer.kind, now - timer.due_at)
            return fired
        if closes_first(lock, now):
            return await self._missed(timer, lock, "the deadline")
        policy = Policy.from_json(lock.policy)
        new_timers: list[dict[str, object]] = []
        if timer.kind == "escalate":
            to = list((timer.payload or {}).get("to", []))
            event = NewEvent(kind="escalated", call_id=lock.id, detail={"to": to})
            posts = [Post(key=f"escalate:{timer.id}", call_id=lock.id,
                          payload={"type": "escalated", "to": to, "at": now})]  # fmt: skip
            posts += [
                Post(
                    key=f"escalate:{timer.id}:{person}",
                    kind="direct",
                    call_id=lock.id,
                    payload={"type": "escalated_dm", "to": person},
                )
                for person in to
            ]
        else:
            named = [p for p in policy.approvers if p != "channel"]
            people = named + [p for p in await escalated_to(store, lock) if p not in named]
            overdue = lock.deadline is not None and now >= lock.deadline
            # Past the deadline, a kept lock is reminded by one chain, begun by its deadline:
            # a reminder of before the deadline that fires late (a process died over both)
            # begins none of its own (two reminders at every interval, for good).
            chained = lock.deadline is not None and timer.due_at >= lock.deadline
            if overdue and policy.on_timeout == "keep" and chained:
                at = next_overdue_reminder(policy, now)
                new_timers.append(timer_row(lock.execution_id, lock.id, "remind", at))
            elif (timer.payload or {}).get("more") and lock.deadline is not None:
                new_timers += more_of(policy, timer, lock, now)
            event = NewEvent(kind="overdue" if overdue else "reminded", call_id=lock.id)
            posts = [Post(key=f"remind:{timer.id}", call_id=lock.id,
                          payload={"type": "reminder", "people": people, "at": now,
                                   "deadline": lock.deadline})]  # fmt: skip
        fired = await store.fire_only(timer, now, posts, [event], new_timers)
        if fired:
            setup.observer.timer_fired(timer.kind, now - timer.due_at)
            self.runs.timers_added(new_timers)
            setup.soon(lock.execution_id)
        return fired
