"""What a due timer does. Deadlines close their lock as the lock's policy says (expired,
rejected, or approved with a default) or, for ``keep``, leave it open and nudge; reminders and
escalations nudge. Every timer fires once across processes (its own compare-and-set); a nudge
that cannot be delivered goes back to pending with a backoff, so it is never lost."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flows import access
from flows.codec import encode
from flows.policy import Policy, next_overdue_reminder
from flows.tracer import timer_row
from store.models import Call, NewEvent, Timer

if TYPE_CHECKING:
    from flows.engine import Engine

log = logging.getLogger("lockstep.timers")
NO_ANSWER = "no answer by the deadline"


def backoff(attempts: int) -> float:
    """Seconds before a failed nudge is tried again: 5 s, 10 s, 20 s ... at most 10 min."""
    return float(min(600, 5 * 2 ** max(0, attempts - 1)))


async def fire(engine: Engine, timer: Timer) -> bool:
    lock = await engine.store.call(timer.call_id) if timer.call_id else None
    policy = Policy.from_json(lock.policy if lock else None)
    if timer.kind == "wake":
        woke = NewEvent(kind="woke", call_id=timer.call_id)
        return await _close(engine, timer, None, "done", woke)
    if timer.kind == "deadline" and policy.on_timeout != "keep":
        event = NewEvent(kind="expired", call_id=timer.call_id, detail={"then": policy.on_timeout})
        if policy.on_timeout == "reject":
            return await _close(engine, timer, lock, "rejected", event, comment=NO_ANSWER)
        if policy.on_timeout == "approve":
            default = encode(policy.default)
            return await _close(engine, timer, lock, "resolved", event, result=default)
        return await _close(engine, timer, lock, "expired", event)
    return await _nudge(engine, timer, lock, policy)


async def _close(
    engine: Engine,
    timer: Timer,
    lock: Call | None,
    status: str,
    event: NewEvent,
    *,
    result: object = None,
    comment: str | None = None,
) -> bool:
    now = engine.clock.now()
    execution = await engine.store.fire_timer(
        timer, now, status=status, event=event, result=result, comment=comment,
        claim=engine.claim_for(now),
    )  # fmt: skip
    if execution is None:
        return False
    if lock is not None:
        change = {"status": status, "result": result, "comment": comment, "decided_at": now}
        await engine.announce("lock_resolved", execution, lock.model_copy(update=change))
    engine.wake(timer.execution_id, execution)
    return True


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
    if execution is None or not await access.manages(
        engine.admins(execution), actor, execution, engine.directory
    ):
        await engine.authorize(lock, actor, "snooze")  # raises Forbidden
    now = engine.clock.now()
    event = NewEvent(kind="snoozed", actor=actor, call_id=lock.id, detail={"by": policy.snooze})
    snoozed = await engine.store.snooze(lock.id, policy.snooze, now, event)
    if snoozed is not None:
        execution = await engine.store.execution(snoozed.execution_id)
        if execution is not None:
            await engine.announce("snoozed", execution, snoozed, actor)
    return snoozed
