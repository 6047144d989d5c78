"""``/flow status <id>``: a run's audit trail as lines people read (pure: data in, mrkdwn out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.render import answers, messages, outcome, surfaces
from bot.render.inputs import form_inputs, label_of
from bot.render.mrkdwn import cut, literal
from flows.codec import decode
from flows.engine import Call, Event, Execution
from flows.policy import humanize

SHOWN = 40  # the latest events; `/flow audit` has them all
_VALUE = 160  # characters of a submitted value shown


def status(execution: Execution, calls: Sequence[Call], events: Sequence[Event]) -> str:
    """Person-typed values (inputs, comments, refused answers) show literally: escaped, so no
    mention or link in them goes live."""
    locks = {c.id: c for c in calls}
    state = standing(execution, calls, events)
    lines = [
        f"*{execution.flow}* `{messages.short(execution.id)}`: {state}",
        *(f"• waiting: *{messages.title(c.name)}*" for c in calls if c.kind == "lock" and c.open),
    ]
    if len(events) > SHOWN:
        short = messages.short(execution.id)
        lines.append(messages.EARLIER_EVENTS.format(count=len(events) - SHOWN, id=short))
    for event in events[-SHOWN:]:
        lines.append(f"  {messages.when(event.at)}: {line(event, locks.get(event.call_id or ''))}")
    return "\n".join(lines)


def standing(execution: Execution, calls: Sequence[Call], events: Sequence[Event]) -> str:
    """How a run stands, or how it ended, in words (``🚫 rejected by @bob``)."""
    if execution.done:
        return surfaces.ending_words(outcome.conclude(execution, calls, events))
    return messages.STATUS_WORDS[execution.status]


def line(event: Event, lock: Call | None) -> str:
    """One event, e.g. ``<@UBOB> answered *Content review*: Score=5``."""
    template = messages.EVENT_LINES.get(event.kind)
    detail = event.detail if isinstance(event.detail, dict) else {}
    who = messages.who(event.actor)
    if template is None:
        return messages.UNKNOWN_EVENT.format(kind=literal(event.kind), who=who)
    comment = detail.get("comment")
    labels = _labels(lock)
    return template.format(
        who=who,
        what=f"*{messages.title(lock.name)}*" if lock else messages.THE_RUN,
        inputs=_values(detail.get("inputs"), labels),
        approvers=messages.mention(detail.get("approvers", [])),
        said=f": “{literal(cut(str(comment), _VALUE))}”" if comment else "",
        errors=_errors(detail.get("errors"), labels),
        error_id=detail.get("error_id"),
        action=detail.get("action", "act on"),
        to=messages.mention(detail.get("to", [])),
        then=detail.get("then", "fail"),
        timer=detail.get("timer", "reminder"),
        instead=detail.get("instead", "the deadline"),
        due=messages.when(due if isinstance(due := detail.get("due_at"), int | float) else None),
        by=humanize(detail.get("by", 0)),
        reason=_reason(detail.get("reason") or detail.get("error"), event.actor),
        level=detail.get("level", "note"),
        text=literal(str(detail.get("text", ""))[:_VALUE]),
        status=detail.get("status", "waiting"),
        error=literal(cut(str(detail.get("error", messages.UNKNOWN_ERROR)), _VALUE)),
    )


def _reason(reason: Any, actor: str | None) -> str:
    """Why a run was cancelled, after a colon; nothing where it only says who cancelled it (what
    the engine and the API record when they were given no reason, with a raw id in it)."""
    name = (actor or "someone").removeprefix(messages.API_ACTOR)
    said = {f"cancelled by {name}", f"cancelled by {name} (API)", f"killed by {name} (API)"}
    if not reason or str(reason) in said:
        return ""
    return ": " + literal(cut(str(reason), _VALUE))


def _labels(lock: Call | None) -> dict[str, str]:
    form = lock.form if lock is not None and isinstance(lock.form, list) else []
    return {e["name"]: label_of(e) for e in form_inputs(form)}


def _values(values: Any, labels: dict[str, str]) -> str:
    if not isinstance(values, dict) or not values:
        return ""
    parts = [f"{labels.get(k, k)}={answers.text(decode(v))}" for k, v in values.items()]
    return ": " + literal(cut(", ".join(parts), _VALUE))


def _errors(errors: Any, labels: dict[str, str]) -> str:
    if not isinstance(errors, dict):
        return ""
    parts = [f"{labels.get(k, k)}: {' '.join(map(str, v))}" for k, v in errors.items() if v]
    return literal(cut("; ".join(parts), _VALUE))
