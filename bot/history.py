"""``/flow status <id>``: a run's audit trail as lines people read (pure: data in, mrkdwn out)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from bot import messages
from flows.policy import humanize
from store import Call, Event, Execution

SHOWN = 40  # the latest events; `/flow audit` has them all
_VALUE = 160  # characters of a submitted value shown


def status(execution: Execution, calls: Sequence[Call], events: Sequence[Event]) -> str:
    names = {c.id: messages.title(c.name) for c in calls}
    lines = [
        f"*{execution.flow}* `{execution.id}`: {messages.STATUS_WORDS[execution.status]}",
        *(f"• waiting: *{names[c.id]}*" for c in calls if c.kind == "lock" and c.open),
    ]
    if len(events) > SHOWN:
        lines.append(messages.EARLIER_EVENTS.format(count=len(events) - SHOWN, id=execution.id))
    for event in events[-SHOWN:]:
        lines.append(f"  {messages.when(event.at)}: {line(event, names.get(event.call_id or ''))}")
    return "\n".join(lines)


def line(event: Event, lock: str | None) -> str:
    """One event, e.g. ``<@UBOB> answered *Content review*: score=5``."""
    render = _LINES.get(event.kind)
    detail = event.detail if isinstance(event.detail, dict) else {}
    who = messages.who(event.actor)
    what = f"*{lock}*" if lock else "the run"
    return render(who, what, detail) if render else f"{event.kind} ({who})"


def _values(values: Any) -> str:
    if not isinstance(values, dict) or not values:
        return ""
    parts = [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in values.items()]
    text = ", ".join(parts)
    return ": " + (text if len(text) <= _VALUE else text[: _VALUE - 1] + "…")


def _errors(errors: Any) -> str:
    if not isinstance(errors, dict):
        return ""
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items() if v)


Render = Callable[[str, str, dict[str, Any]], str]
_LINES: dict[str, Render] = {
    "started": lambda who, _, d: f"started by {who}{_values(d.get('inputs'))}",
    "lock_opened": lambda _, what, d: f"{what} waits for an answer",
    "lease": lambda who, what, d: f"{who} answered {what}{_values(d.get('inputs'))}",
    "approved": lambda who, what, d: f"{who} approved {what}{_values(d.get('inputs'))}",
    "quorum": lambda who, what, d: (
        f"{what} decided: approved by {messages.mention(d.get('approvers', []))}"
    ),
    "declined": lambda who, what, d: f"{who} rejected {what}" + _said(d),
    "rejected": lambda who, what, d: f"{who} rejected {what}" + _said(d),
    "invalid": lambda who, what, d: (
        f"{who}'s answer to {what} was refused: {_errors(d.get('errors'))}"
    ),
    "lease_failed": lambda who, what, d: (
        f"{who}'s answer to {what} failed (error id `{d.get('error_id')}`)"
    ),
    "refused": lambda who, what, d: f"{who} may not {d.get('action', 'act on')} {what}",
    "reminded": lambda _, what, d: f"reminder sent for {what}",
    "overdue": lambda _, what, d: f"{what} is overdue; reminder sent",
    "escalated": lambda _, what, d: f"{what} escalated to {messages.mention(d.get('to', []))}",
    "expired": lambda _, what, d: f"{what} expired with no answer (then: {d.get('then', 'fail')})",
    "snoozed": lambda who, what, d: f"{who} snoozed {what} by {humanize(d.get('by', 0))}",
    "cancelled": lambda who, _, d: f"cancelled by {who}: {d.get('reason') or d.get('error')}",
    "progress": lambda _, __, d: f"{d.get('level', 'note')}: {str(d.get('text', ''))[:_VALUE]}",
    "woke": lambda _, __, d: "a durable sleep ended",
    "status": lambda _, __, d: f"the run is {d.get('status', 'waiting')}",
    "finished": lambda _, __, d: "finished",
    "error": lambda _, __, d: f"failed: {d.get('error', 'unknown error')}",
}


def _said(detail: dict[str, Any]) -> str:
    comment = detail.get("comment")
    return f": “{comment}”" if comment else ""
