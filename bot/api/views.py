"""Records as the API shows them (pure): a run with its open locks and how it ended, a lock with
its form, an audit event. Values come out as plain JSON (dates as ISO strings); passwords never
come out at all."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, time
from typing import Any

from bot.api.models import Lock, LockSummary, Run, RunEvent
from bot.render.outcome import conclude
from flows import codec
from flows.codec import decode
from flows.engine import Call, Event, Execution
from flows.forms import Model, redacted
from flows.policy import Policy
from flows.when import iso


def plain(value: Any) -> Any:
    """A recorded value as plain JSON: the codec's tagged dates become ISO strings."""
    return _plain(decode(value))


def _plain(value: Any) -> Any:
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return codec.plain(codec.encode(value, loose=True))  # fields; bytes as their text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _stamp(at: float) -> str:
    found = iso(at)
    assert found is not None
    return found


def _form(call: Call) -> Model | None:
    return Model.from_json(call.form) if call.form else None


def lock_summary(call: Call) -> LockSummary:
    policy = Policy.from_json(call.policy)
    return LockSummary(
        id=call.id, name=call.name, status=call.status,
        opened_at=_stamp(call.created_at), deadline=iso(call.deadline), decided_by=call.actor,
        decided_at=iso(call.decided_at), comment=call.comment, approvers=list(policy.approvers),
        quorum=policy.quorum, exclude_initiator=policy.exclude_initiator,
    )  # fmt: skip


def lock_view(call: Call, execution: Execution, approved_by: Sequence[str] = ()) -> Lock:
    summary = lock_summary(call)
    result = redacted(_form(call), plain(call.result)) if call.status == "resolved" else None
    return Lock(
        id=call.id, run_id=call.execution_id, flow=execution.flow, name=call.name,
        status=summary.status, elements=list(call.form or []), data=plain(call.data),
        deadline=summary.deadline, decided_by=call.actor, decided_at=summary.decided_at,
        comment=call.comment, result=result, approvers=summary.approvers,
        quorum=summary.quorum, exclude_initiator=summary.exclude_initiator,
        approved_by=list(approved_by),
    )  # fmt: skip


def run_view(
    execution: Execution,
    calls: Sequence[Call],
    events: Sequence[Event] = (),
    slack_url: str | None = None,
) -> Run:
    """``calls`` and ``events``: the run's trail (how an ended run ended is read from it)."""
    outcome = conclude(execution, calls, events).ending.value if execution.done else None
    channel = execution.context.get("channel")
    open_locks = [lock_summary(c) for c in calls if c.kind == "lock" and c.open]
    return Run(
        id=execution.id, flow=execution.flow, status=execution.status, outcome=outcome,
        initiator=execution.initiator, channel=channel if isinstance(channel, str) else None,
        created_at=_stamp(execution.created_at), updated_at=_stamp(execution.updated_at),
        result=plain(execution.result), error=execution.error, locks=open_locks,
        slack_url=slack_url,
    )  # fmt: skip


def event_view(event: Event, names: dict[str, str], status: str) -> RunEvent:
    """``names``: the run's lock names by id."""
    return RunEvent(
        id=event.id, kind=event.kind, at=_stamp(event.at), actor=event.actor,
        lock_id=event.call_id, lock=names.get(event.call_id or ""), detail=plain(event.detail),
        status=status,
    )  # fmt: skip
