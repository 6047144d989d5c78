"""Values that leave the store: small, frozen, typed. Tables never leave ``store/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["starting", "running", "awaiting", "finished", "error", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"finished", "error", "cancelled"})
CallKind = Literal["lock", "step", "sleep"]
# lock: open -> resolved | rejected | expired | cancelled; step: done | failed; sleep: open -> done
CallStatus = Literal["open", "resolved", "rejected", "expired", "cancelled", "done", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


def utc(at: float | None) -> datetime | None:
    return datetime.fromtimestamp(at, UTC) if at is not None else None


class Execution(_Frozen):
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


Lock = Call


class Event(_Frozen):
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
