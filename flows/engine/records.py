"""The records that cross the store port: small, frozen, typed. The store returns them and takes
them; the engine reasons about them; adapters read them. Tables never leave ``store/``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

Status = Literal["starting", "running", "awaiting", "finished", "error", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"finished", "error", "cancelled"})
CallKind = Literal["lock", "step", "sleep"]
# lock: open -> resolved | rejected | expired | cancelled; step: done | failed; sleep: open -> done
CallStatus = Literal["open", "resolved", "rejected", "expired", "cancelled", "done", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Execution(_Frozen):
    """One run of a flow. ``context`` holds the surface's ids (Slack: channel, thread)."""

    id: str
    flow: str
    runner: str
    inputs: Any
    status: Status
    initiator: str | None
    context: dict[str, Any]
    result: Any
    error: str | None
    created_at: float
    updated_at: float
    owner: str | None
    heartbeat_at: float | None
    wakeups: int
    progress: int

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


class Call(_Frozen):
    """A recorded call of a flow at position ``seq``: a lock, a step or a durable sleep."""

    id: str
    execution_id: str
    seq: int
    kind: CallKind
    name: str
    status: CallStatus
    data: Any
    form: Any
    result: Any
    actor: str | None
    comment: str | None
    deadline: float | None
    created_at: float
    decided_at: float | None
    posted: bool
    message: Any
    policy: Any = None

    @property
    def open(self) -> bool:
        return self.status == "open"


class Event(_Frozen):
    """One fact of the audit trail. Events are only ever appended."""

    id: int
    execution_id: str
    at: float
    kind: str
    actor: str | None
    call_id: str | None
    detail: Any


class NewEvent(_Frozen):
    kind: str
    actor: str | None = None
    call_id: str | None = None
    detail: Any = None


class Timer(_Frozen):
    id: int
    execution_id: str
    call_id: str | None
    kind: str
    due_at: float
    status: Literal["pending", "fired", "cancelled"]
    attempts: int
    fired_at: float | None
    payload: Any


class Decided(NamedTuple):
    """A call closed by this caller: the execution it woke, and where the call is shown."""

    execution: Execution
    message: Any


@dataclass(frozen=True)
class Claim:
    """Who wants to run an execution, and which heartbeats count as dead."""

    owner: str
    now: float
    stale_before: float


@dataclass(frozen=True)
class Closing:
    """A due timer that closes its call: how (``status``, ``result``, ``comment``) and the
    event that says so."""

    timer: Timer
    status: str
    event: NewEvent
    result: Any = None
    comment: str | None = None


Trail = tuple[Execution, list[Call], list[Event]]
