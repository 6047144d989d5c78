"""What became of an answer to a lock, and one person's response to it (pure values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from store.models import Call

Outcome = Literal[
    "accepted", "rejected", "invalid", "decided", "failed", "forbidden", "counted", "repeat"
]


@dataclass(frozen=True)
class Response:
    """One person's answer to a lock: an approval with its parsed inputs, or a rejection with
    its comment. A lease handler that names ``responses`` gets every one so far, this one last
    (earlier ones as the audit trail keeps them: passwords are ``***``)."""

    user: str | None
    approved: bool
    inputs: dict[str, Any]
    comment: str | None
    at: float


@dataclass(frozen=True)
class Decision:
    """What became of an answer to a lock.

    accepted/rejected: this answer decided it. invalid: ``errors`` (wire form), lock stays open.
    decided: someone or something decided first; ``lock`` says who, how and when.
    failed: the lease handler crashed; ``error_id`` is in the log, the lock stays open.
    forbidden: this person may not decide it (``allowed`` says who may); nothing changed.
    counted: a quorum lock took this response and waits for more (``responses`` so far).
    repeat: this person already approved this quorum lock; it counts once."""

    outcome: Outcome
    lock: Call
    errors: dict[str, list[str]] = field(default_factory=dict)
    error_id: str | None = None
    allowed: tuple[str, ...] = ()  # forbidden: who may decide (empty: anyone but the initiator)
    responses: tuple[Response, ...] = ()

    @property
    def approvers(self) -> list[str]:
        """Who has approved so far, first come first, each once."""
        return approvers(self.responses)


def approvers(responses: tuple[Response, ...] | list[Response]) -> list[str]:
    seen: dict[str, None] = {}
    for r in responses:
        if r.approved and r.user is not None:
            seen.setdefault(r.user)
    return list(seen)
