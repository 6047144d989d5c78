"""``/flow status <id>``: a run's audit trail as lines people read (pure: data in, mrkdwn out)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.render import messages
from flows.engine import Call, Event, Execution
from flows.policy import humanize

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
    template = messages.EVENT_LINES.get(event.kind)
    detail = event.detail if isinstance(event.detail, dict) else {}
    who = messages.who(event.actor)
    if template is None:
        return messages.UNKNOWN_EVENT.format(kind=event.kind, who=who)
    comment = detail.get("comment")
    return template.format(
        who=who,
        what=f"*{lock}*" if lock else messages.THE_RUN,
        inputs=_values(detail.get("inputs")),
        approvers=messages.mention(detail.get("approvers", [])),
        said=f": “{comment}”" if comment else "",
        errors=_errors(detail.get("errors")),
        error_id=detail.get("error_id"),
        action=detail.get("action", "act on"),
        to=messages.mention(detail.get("to", [])),
        then=detail.get("then", "fail"),
        by=humanize(detail.get("by", 0)),
        reason=detail.get("reason") or detail.get("error"),
        level=detail.get("level", "note"),
        text=str(detail.get("text", ""))[:_VALUE],
        status=detail.get("status", "waiting"),
        error=detail.get("error", messages.UNKNOWN_ERROR),
    )


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
