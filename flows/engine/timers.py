"""What a due timer does. Deadlines close their lock as the lock's policy says (expired,
rejected, or approved with a default) or, for ``keep``, leave it open and nudge; reminders and
escalations nudge. Every timer fires once across processes (its own compare-and-set); a nudge
that cannot be delivered goes back to pending with a backoff, so it is never lost."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flows.codec import encode
from flows.engine.ports import Store
from flows.engine.records import Call, Closing, NewEvent, Timer
from flows.engine.runs import Runs, timer_row
from flows.policy import Policy, next_overdue_reminder

log = logging.getLogger("lockstep.timers")
NO_ANSWER = "no answer by the deadline"


def backoff(attempts: int) -> float:
    """Seconds before a failed nudge is tried again: 5 s, 10 s, 20 s ... at most 10 min."""
    return float(min(600, 5 * 2 ** max(0, attempts - 1)))


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
        for timer, call in nudges:
            fired += await self._nudge(timer, call)
        return fired

    async def _close(self, closes: list[Closing], calls: dict[str, Call]) -> int:
        setup = self.setup
        now = setup.clock.now()
        woken = await setup.store.fire_closing(closes, now, setup.claim())
        for close in closes:
            execution = woken.get(close.timer.id)
            call = calls.get(close.timer.call_id or "")
            if execution is None:
                continue
            if call is not None and call.kind == "lock":
                change = {"status": close.status, "result": close.result, "decided_at": now}
                closed = call.model_copy(update=change | {"comment": close.comment})
                await setup.announce.resolved(execution, closed)
            self.runs.wake(close.timer.execution_id, execution)
        return len(woken)

    async def _nudge(self, timer: Timer, lock: Call | None) -> bool:
        setup = self.setup
        store, now = setup.store, setup.clock.now()
        if not await store.fire_only(timer, now):
            return False
        if lock is None or not lock.open:
            return False  # answered meanwhile: nothing to say
        execution = await store.execution(lock.execution_id)
        if execution is None:
            return False
        policy = Policy.from_json(lock.policy)
        named = [p for p in policy.approvers if p != "channel"]
        people = named + [p for p in await escalated_to(store, lock) if p not in named]
        if timer.kind == "escalate":
            to = list((timer.payload or {}).get("to", []))
            event = NewEvent(kind="escalated", call_id=lock.id, detail={"to": to})
            told = await setup.announce.tell("escalated", execution, lock, to)
        else:
            overdue = lock.deadline is not None and now >= lock.deadline
            if overdue and policy.on_timeout == "keep":
                again = timer_row(
                    lock.execution_id, lock.id, "remind", next_overdue_reminder(policy, now)
                )
                await store.add(lock.execution_id, now, new_timers=[again])
                self.runs.timers_added([again])
            event = NewEvent(kind="overdue" if overdue else "reminded", call_id=lock.id)
            told = await setup.announce.tell("reminder", execution, lock, people)
        if told:
            await store.append(lock.execution_id, now, event)
        else:
            await store.retry_timer(timer, now + backoff(timer.attempts + 1))
        return told
