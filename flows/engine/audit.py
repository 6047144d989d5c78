"""A run's audit trail as one JSON document: who started it with what, each lock with who
answered what and when, and every event in order (failed attempts, refusals, reminders,
escalations, expiries). Events are only ever appended; this only reads them. Passwords are
``***`` here as everywhere in the trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from flows.engine.records import Call, Event, Execution, Trail
from flows.forms import Model, redacted
from flows.when import iso

FORMAT = "lockstep.audit/1"


def document(
    execution: Execution, calls: Sequence[Call], events: Sequence[Event]
) -> dict[str, Any]:
    """The whole trail of one run, JSON-ready (times as ISO 8601 UTC)."""
    started = next((e for e in events if e.kind == "started"), None)
    names = {c.id: c.name for c in calls}
    return {
        "format": FORMAT,
        "execution": {
            "id": execution.id,
            "flow": execution.flow,
            "status": execution.status,
            "initiator": execution.initiator,
            "inputs": (started.detail or {}).get("inputs") if started else None,
            "result": execution.result,
            "error": execution.error,
            "created_at": iso(execution.created_at),
            "updated_at": iso(execution.updated_at),
        },
        "locks": [_lock(c) for c in calls if c.kind == "lock"],
        "events": [
            {
                "at": iso(e.at),
                "kind": e.kind,
                "actor": e.actor,
                "lock": names.get(e.call_id) if e.call_id else None,
                "detail": e.detail,
            }
            for e in events
        ],
    }


def _lock(call: Call) -> dict[str, Any]:
    form = Model.from_json(call.form) if call.form else None
    result = call.result if call.status == "resolved" else None
    return {
        "id": call.id,
        "name": call.name,
        "status": call.status,
        "decided_by": call.actor,
        "comment": call.comment,
        "result": redacted(form, result),  # as recorded (dates in the codec's tagged form)
        "opened_at": iso(call.created_at),
        "deadline": iso(call.deadline),
        "decided_at": iso(call.decided_at),
        "policy": call.policy,
    }


class _Trails(Protocol):
    async def trail(self, execution_id: str) -> Trail | None: ...


async def export(engine: _Trails, execution_id: str) -> dict[str, Any] | None:
    """The audit document of one run (``await export(engine, id)``), or None if unknown."""
    trail = await engine.trail(execution_id)
    return document(*trail) if trail else None
