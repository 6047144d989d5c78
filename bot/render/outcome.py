"""How a run ended, in the words people use (pure): approved, rejected, expired, failed,
cancelled, or simply finished, with who decided and when.

The engine keeps three end states: finished, error, cancelled. A deploy whose approval was
rejected, and which then returned ``{"deployed": False}``, is ``finished`` there, yet people call
it rejected. So the run's ending is read from its last decision: the lock closed last, and
whether the run ended *because* of it (its rejection or expiry is the error the run stopped
with).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from flows.engine import Call, Event, Execution
from flows.errors import LockExpired, LockRejected
from flows.policy import Policy

_CLOSED = ("resolved", "rejected", "expired")


class Ending(StrEnum):
    APPROVED = "approved"  # the last decision was an approval
    FINISHED = "finished"  # the flow returned, with no decision to speak of
    REJECTED = "rejected"  # the last decision was a rejection (caught by the flow or not)
    EXPIRED = "expired"  # a lock's deadline passed and the run stopped there (not caught)
    FAILED = "failed"  # the flow raised
    CANCELLED = "cancelled"  # someone cancelled the run


@dataclass(frozen=True)
class Conclusion:
    """``people``: who decided, as the engine recorded them (never typed text); ``comment``: a
    rejection's comment and ``reason``: why a run failed or was cancelled, both shown
    literally."""

    ending: Ending
    at: float | None
    people: tuple[str, ...] = ()
    lock: str | None = None
    comment: str | None = None
    reason: str | None = None


def is_decision(lock: Call) -> bool:
    """An answer to this lock is an approval: its form could have rejected it instead, or it
    waits for a quorum of approvals. Any other answer is just an answer, and so is a choice
    among kodosumi ``Action`` buttons (one may say "Reject": its value is the answer)."""
    form = lock.form if isinstance(lock.form, list) else []
    kinds = {e.get("type") for e in form if isinstance(e, dict)}
    offers_reject = "cancel" in kinds and "action" not in kinds
    return offers_reject or Policy.from_json(lock.policy).quorum > 1


def _last_closed(calls: Sequence[Call]) -> Call | None:
    closed = [c for c in calls if c.kind == "lock" and c.status in _CLOSED]
    return max(closed, key=lambda c: (c.decided_at or 0.0, c.seq), default=None)


def _approvers(lock: Call, events: Sequence[Event]) -> tuple[str, ...]:
    for event in reversed(events):
        if event.kind == "quorum" and event.call_id == lock.id and isinstance(event.detail, dict):
            people = event.detail.get("approvers")
            if isinstance(people, list) and all(isinstance(p, str) for p in people):
                return tuple(people)
    return (lock.actor,) if lock.actor else ()


def _decided(lock: Call, events: Sequence[Event], ended: float) -> Conclusion:
    """The run ended after ``lock`` closed (at ``ended``): as that decision went."""
    match lock.status:
        case "rejected":
            people = (lock.actor,) if lock.actor else ()
            return Conclusion(Ending.REJECTED, lock.decided_at, people, lock.name, lock.comment)
        case "expired":
            return Conclusion(Ending.EXPIRED, lock.decided_at, lock=lock.name)
    if is_decision(lock) or lock.actor is None:
        return Conclusion(Ending.APPROVED, lock.decided_at, _approvers(lock, events), lock.name)
    return Conclusion(Ending.FINISHED, ended)  # an answer, not an approval


def _canceller(events: Sequence[Event]) -> str | None:
    """Who cancelled the run from outside (``/flow cancel``): that event has a person."""
    return next((e.actor for e in reversed(events) if e.kind == "cancelled" and e.actor), None)


def conclude(
    execution: Execution, calls: Sequence[Call], events: Sequence[Event] = ()
) -> Conclusion:
    """How an ended run ended. ``calls`` and ``events`` are the run's (its trail)."""
    last, at = _last_closed(calls), execution.updated_at
    match execution.status:
        case "cancelled":
            if last is not None and last.status == "rejected":
                rejected = LockRejected(last.name, last.actor, last.decided_at, last.comment)
                if execution.error == str(rejected):
                    return _decided(last, events, at)
            who = _canceller(events)
            reason = None if who else execution.error
            return Conclusion(Ending.CANCELLED, at, (who,) if who else (), reason=reason)
        case "error":
            if last is not None and last.status == "expired":
                expired = LockExpired(last.name, last.deadline)
                if execution.error == f"{type(expired).__name__}: {expired}":
                    return _decided(last, events, at)
            return Conclusion(Ending.FAILED, at, reason=execution.error)
        case "finished":  # a lock that expired and was caught: the flow went on, and finished
            if last is None or last.status == "expired":
                return Conclusion(Ending.FINISHED, at)
            return _decided(last, events, at)
    raise ValueError(f"run {execution.id} has not ended ({execution.status})")
