"""What a due timer does. Deadlines close their lock as the lock's policy says (expired,
rejected, or approved with a default) or, for ``keep``, leave it open and nudge; reminders and
escalations nudge. Every timer fires once across processes (its own compare-and-set); a nudge
that cannot be delivered goes back to pending with a backoff, so it is never lost."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flows.codec import encode
from flows.policy import Policy, next_overdue_reminder
from flows.tracer import timer_row
from store.models import Call, NewEvent, Timer
from store.timer_queries import Closing

if TYPE_CHECKING:
    from flows.engine import Engine

log = logging.getLogger("lockstep.timers")
NO_ANSWER = "no answer by the deadline"


def backoff(attempts: int) -> float:
    """Seconds before a failed nudge is tried again: 5 s, 10 s, 20 s ... at most 10 min."""
    return float(min(600, 5 * 2 ** max(0, attempts - 1)))


async def fire(engine: Engine, timer: Timer) -> bool:
    return await fire_many(engine, [timer]) == 1


async def fire_many(engine: Engine, due: Sequence[Timer]) -> int:
    """Fire timers due together; returns how many this caller fired. Those that close their
    call (deadlines, durable sleeps) go in one transaction, whatever their number; nudges
    (reminders, escalations, kept locks past their deadline) one by one, after: a nudge due
    with its lock's deadline goes with the lock."""
    calls = await engine.store.calls_by_id([t.call_id for t in due if t.call_id])
    found = {c.id: c for c in calls}
    closing: list[Closing] = []
    nudges: list[tuple[Timer, Call | None]] = []
    for timer in due:
        call = found.get(timer.call_id or "")
        close = _closing(timer, call)
        if close is None:
            nudges.append((timer, call))
        else:
            closing.append(close)
    fired = await _close(engine, closing, found) if closing else 0
    for timer, call in nudges:
        fired += await _nudge(engine, timer, call, Policy.from_json(call.policy if call else None))
    return fired


def _closing(timer: Timer, call: Call | None) -> Closing | None:
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


async def _close(engine: Engine, closing: list[Closing], calls: dict[str, Call]) -> int:
    now = engine.clock.now()
    woken = await engine.store.fire_closing(closing, now, engine.claim_for(now))
    for close in closing:
        execution = woken.get(close.timer.id)
        call = calls.get(close.timer.call_id or "")
        if execution is None:
            continue
        if call is not None and call.kind == "lock":
            change = {"status": close.status, "result": close.result, "decided_at": now}
            closed = call.model_copy(update=change | {"comment": close.comment})
            await engine.announce("lock_resolved", execution, closed)
        engine.wake(close.timer.execution_id, execution)
    return len(woken)


async def _nudge(engine: Engine, timer: Timer, lock: Call | None, policy: Policy) -> bool:
    now = engine.clock.now()
    if not await engine.store.fire_only(timer, now):
        return False
    if lock is None or not lock.open:
        return False  # answered meanwhile: nothing to say
    execution = await engine.store.execution(lock.execution_id)
    if execution is None:
        return False
    named = [p for p in policy.approvers if p != "channel"]
    people = named + [p for p in await escalated_to(engine, lock) if p not in named]
    if timer.kind == "escalate":
        to = list((timer.payload or {}).get("to", []))
        event = NewEvent(kind="escalated", call_id=lock.id, detail={"to": to})
        told = await engine.tell("escalated", execution, lock, to)
    else:
        overdue = lock.deadline is not None and now >= lock.deadline
        if overdue and policy.on_timeout == "keep":
            again = timer_row(
                lock.execution_id, lock.id, "remind", next_overdue_reminder(policy, now)
            )
            await engine.store.add(lock.execution_id, now, new_timers=[again])
            engine.timers_added([again])
        event = NewEvent(kind="overdue" if overdue else "reminded", call_id=lock.id)
        told = await engine.tell("reminder", execution, lock, people)
    if told:
        await engine.store.append(lock.execution_id, now, event)
    else:
        await engine.store.retry_timer(timer, now + backoff(timer.attempts + 1))
    return told


async def escalated_to(engine: Engine, lock: Call) -> list[str]:
    """Everyone added to the lock's answerers by escalations so far."""
    events = await engine.store.events(lock.execution_id)
    found = [e for e in events if e.kind == "escalated" and e.call_id == lock.id]
    return [p for e in found for p in (e.detail or {}).get("to", [])]


async def snooze(engine: Engine, lock_id: str, actor: str | None) -> Call | None:
    """Push a lock's deadline back by its policy's snooze; None if the flow does not allow it
    or the lock is not open; ``Forbidden`` if this person may not decide the lock."""
    lock = await engine.store.call(lock_id)
    policy = Policy.from_json(lock.policy if lock else None)
    if lock is None or not policy.snooze:
        return None
    execution = await engine.store.execution(lock.execution_id)
    if execution is None or not await engine.manages(execution, actor):
        await engine.authorize(lock, actor, "snooze")  # raises Forbidden
    now = engine.clock.now()
    event = NewEvent(kind="snoozed", actor=actor, call_id=lock.id, detail={"by": policy.snooze})
    snoozed = await engine.store.snooze(lock.id, policy.snooze, now, event)
    if snoozed is not None:
        execution = await engine.store.execution(snoozed.execution_id)
        if execution is not None:
            await engine.announce("snoozed", execution, snoozed, actor)
    return snoozed
