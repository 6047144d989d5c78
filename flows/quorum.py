"""Locks that need several people: ``quorum=N`` distinct approvals. Every response is an event
(``approved`` or ``declined``) recorded under the lock row's write lock, so concurrent answers
count each other; the approval that completes the quorum decides the lock like any answer."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flows.codec import decode
from flows.decision import Decision, Response, approvers
from flows.policy import Policy
from store.models import Call, Event, NewEvent
from store.repo import Store

if TYPE_CHECKING:
    from flows.engine import Engine


def response(event: Event) -> Response:
    detail = event.detail if isinstance(event.detail, dict) else {}
    inputs = decode(detail.get("inputs")) or {}
    return Response(event.actor, event.kind == "approved", inputs, detail.get("comment"), event.at)


async def responses(store: Store, lock: Call) -> tuple[Response, ...]:
    """A quorum lock's responses so far, oldest first."""
    return tuple(response(e) for e in await store.votes(lock))


async def approve(
    engine: Engine, lock: Call, policy: Policy, result: Any, actor: str | None, detail: Any
) -> Decision:
    """Count an approval whose lease accepted it; decide the lock once ``policy.quorum``
    distinct people have approved."""
    event = NewEvent(kind="approved", actor=actor, call_id=lock.id, detail=detail)
    voted = await engine.store.vote(lock.id, engine.clock.now(), event)
    if voted is None:
        return Decision("decided", await engine.lock(lock.id))
    recorded, events = voted
    so_far = tuple(response(e) for e in events)
    if not recorded:
        return Decision("repeat", lock, responses=so_far)
    people = approvers(so_far)
    if len(people) < policy.quorum:
        await _announce(engine, lock, people)
        return Decision("counted", lock, responses=so_far)
    detail = {"approvers": people}
    decided = await engine.decide(lock, "resolved", result, actor, None, "quorum", detail)
    return replace(decided, responses=so_far)


async def decline(engine: Engine, lock: Call, actor: str | None, comment: str | None) -> Decision:
    """A rejection of a quorum lock without veto: recorded, and the lock waits on."""
    detail = {"comment": comment} if comment else None
    event = NewEvent(kind="declined", actor=actor, call_id=lock.id, detail=detail)
    voted = await engine.store.vote(lock.id, engine.clock.now(), event)
    if voted is None:
        return Decision("decided", await engine.lock(lock.id))
    so_far = tuple(response(e) for e in voted[1])
    await _announce(engine, lock, approvers(so_far))
    return Decision("counted", lock, responses=so_far)


async def _announce(engine: Engine, lock: Call, people: list[str]) -> None:
    execution = await engine.store.execution(lock.execution_id)
    if execution is not None:
        await engine.announce("voted", execution, lock, people)
