"""What the front door answers: each kind of request has its own outcome enum, handled with
``match`` by the adapters. A refusal is always an outcome (``FORBIDDEN``), never an exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from flows.app import Response, approvers
from flows.engine.records import Call, Execution, Trail
from flows.errors import LockstepError


@dataclass(frozen=True)
class Launched:
    """A launch recorded: the run's id, and whether this launch made it (``new``) or found it
    made by an earlier one with the same id."""

    id: str
    new: bool


class Answer(StrEnum):
    """What became of an answer (Submit or Reject) to a lock."""

    ACCEPTED = "accepted"  # this answer decided it
    REJECTED = "rejected"  # this rejection decided it
    INVALID = "invalid"  # ``errors`` (kodosumi's wire form); the lock stays open
    DECIDED = "decided"  # someone or something decided first; ``lock`` says who, how and when
    FAILED = "failed"  # the lease handler crashed; ``error_id`` is in the log; still open
    FORBIDDEN = "forbidden"  # this person may not decide it (``allowed`` says who may)
    COUNTED = "counted"  # a quorum lock took this response and waits for more
    REPEAT = "repeat"  # this person already approved this quorum lock; it counts once
    GONE = "gone"  # there is no such lock


@dataclass(frozen=True)
class Decision:
    """The answer's outcome, with the lock as it now stands (None only when ``GONE``)."""

    outcome: Answer
    lock: Call | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    error_id: str | None = None
    allowed: tuple[str, ...] = ()  # FORBIDDEN: who may decide (empty: anyone but the initiator)
    responses: tuple[Response, ...] = ()

    @property
    def approvers(self) -> list[str]:
        """Who has approved so far, first come first, each once."""
        return approvers(self.responses)


class Snooze(StrEnum):
    SNOOZED = "snoozed"  # the deadline moved; ``lock.deadline`` is the new one
    NOT_ALLOWED = "not_allowed"  # the flow gave this lock no snooze
    DECIDED = "decided"  # the lock is no longer open
    FORBIDDEN = "forbidden"
    GONE = "gone"


@dataclass(frozen=True)
class Snoozed:
    outcome: Snooze
    lock: Call | None
    allowed: tuple[str, ...] = ()


class Cancel(StrEnum):
    CANCELLED = "cancelled"
    ENDED = "ended"  # it had already ended; ``execution.status`` says how
    FORBIDDEN = "forbidden"  # only its initiator or its flow's admins (``admins``) may
    GONE = "gone"


@dataclass(frozen=True)
class Cancelled:
    outcome: Cancel
    execution: Execution | None
    admins: tuple[str, ...] = ()


class Access(StrEnum):
    SHOWN = "shown"
    FORBIDDEN = "forbidden"  # only the run's channel members, its initiator and its admins
    GONE = "gone"


@dataclass(frozen=True)
class Reading:
    """A run's whole trail, if the reader may see it."""

    outcome: Access
    trail: Trail | None = None


class EntryProblem(StrEnum):
    """Why a flow could not start, though its form was fine: the flow's code is at fault, so
    the person is told plainly, and nothing was started."""

    CRASHED = "crashed"  # the enter handler raised (the log has it, under ``error_id``)
    NOT_LAUNCH = "not_launch"  # it returned something other than ``Launch(...)``
    ENTRY_POINT = "entry_point"  # the entry point it named does not resolve
    NOT_STORABLE = "not_storable"  # the inputs it launched with cannot be recorded


class EntryFailed(LockstepError):
    """Raised by ``Engine.prepare``: the flow's code failed at its entry. ``detail`` is safe to
    show (a type name, an entry point's name), never an exception's message."""

    def __init__(self, flow: str, problem: EntryProblem, detail: str, error_id: str) -> None:
        self.flow, self.problem, self.detail, self.error_id = flow, problem, detail, error_id
        super().__init__(f"flow {flow!r} cannot start ({problem}): {detail} [{error_id}]")


class Place(StrEnum):
    """Whether a lock is shown where a surface says a person acted on it."""

    HERE = "here"  # this is the lock's own message
    ELSEWHERE = "elsewhere"  # its message is somewhere else: the action named another lock
    UNSHOWN = "unshown"  # its message is not recorded yet (being posted): try again shortly
    GONE = "gone"  # there is no such lock
