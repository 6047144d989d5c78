"""What the bot posts, besides lock forms: the run's parent message, its ending, and lock
messages before and after their decision (pure: data in, text and blocks out)."""

from __future__ import annotations

import html
import json
from typing import Any

from bot.render import blocks, messages
from bot.render.mrkdwn import cut, html_to_mrkdwn, markdown_to_mrkdwn, mrkdwn_escape
from flows import response
from flows.codec import decode, plain
from flows.engine import Answer, Call, Decision, Execution
from flows.errors import GLOBAL
from flows.policy import Policy, humanize

SNOOZE_ACTION = "lockstep_snooze"

Surface = tuple[str, list[dict[str, Any]]]  # notification text, blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def parent(execution: Execution, summary: str, open_locks: list[str]) -> Surface:
    """ "Document review · started by @alice · awaiting Content review", kept current."""
    status = messages.STATUS_WORDS[execution.status]
    if execution.status == "awaiting" and open_locks:
        status += " " + ", ".join(messages.title(n) for n in open_locks)
    text = messages.PARENT.format(
        summary=summary, who=messages.who(execution.initiator), status=status
    )
    return text, [_section(text), _context(messages.RUN_ID.format(id=execution.id))]


PROGRESS_MAX = 3900


def formatted(kind: str, text: str) -> str | None:
    """Markdown, HTML or preformatted text as mrkdwn; None for other kinds."""
    match kind:
        case "markdown":
            return markdown_to_mrkdwn(text)
        case "html":
            return html_to_mrkdwn(text)
        case "text" | "stdout":
            return _code(text) if text.strip() else ""
    return None


def _code(text: str) -> str:
    """Preformatted, literally: nothing in it is a mention or a link."""
    return "```" + html.escape(text, quote=False).replace("```", "'''") + "```"


def progress(kind: str, text: str) -> str:
    """A flow's output as a thread message: ``debug``/``result``/``action`` as written (JSON
    as code), ``markdown``/``html`` converted, ``text`` and ``print()`` preformatted,
    warnings and ``stderr`` flagged."""
    shown = formatted(kind, text)
    if shown is None and kind in ("warning", "stderr"):
        shown = messages.WARNING_PREFIX + mrkdwn_escape(text)
    elif shown is None and kind in ("result", "action") and text.lstrip()[:1] in ("{", "["):
        shown = _code(text)
    return cut(text if shown is None else shown, PROGRESS_MAX) or messages.NOTHING_TO_SHOW


def ending(execution: Execution) -> str:
    """The thread's last word: the result, or why the run stopped."""
    if execution.status == "finished":
        value = decode(execution.result)
        if isinstance(value, response.Body):
            text = formatted(value.kind, value.body) or ""
            return messages.FINISHED_TEXT.format(text=cut(text, 2800))
        result = json.dumps(plain(execution.result), ensure_ascii=False, indent=1)
        return messages.FINISHED.format(result=result[:2800])
    if execution.status == "cancelled":
        return messages.ENDED_CANCELLED.format(reason=execution.error or messages.NO_REASON)
    return messages.ENDED_FAILED.format(reason=execution.error or messages.UNKNOWN_ERROR)


def quorum_line(needed: int, approvers: list[str]) -> str:
    if not approvers:
        return messages.QUORUM_WAITING.format(needed=needed)
    who = messages.mention(approvers)
    return messages.QUORUM_PROGRESS.format(who=who, count=len(approvers), needed=needed)


def lock_message(
    lock: Call,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, Any] | None = None,
    approvers: list[str] | None = None,
) -> Surface:
    """The open lock: its form (or a button opening it), snooze, and a quorum's progress."""
    title = messages.title(lock.name)
    if blocks.fits_message(lock.form):
        body = blocks.message_blocks(
            lock.form, lock_id=lock.id, title=title, errors=errors, values=values
        )
    else:
        body = blocks.open_form_blocks(lock.form, lock_id=lock.id, title=title)
    policy = Policy.from_json(lock.policy)
    snooze = policy.snooze
    actions = next((b for b in body if b["type"] == "actions"), None)
    if policy.quorum > 1:
        at = body.index(actions) if actions is not None else len(body)
        body.insert(at, _context(quorum_line(policy.quorum, approvers or [])))
    if snooze and actions is not None:
        text = messages.SNOOZE_BUTTON.format(by=humanize(snooze))
        actions["elements"].append(
            {
                "type": "button",
                "action_id": SNOOZE_ACTION,
                "value": lock.id,
                "text": {"type": "plain_text", "text": text[:75]},
            }
        )
    return messages.WAITING.format(title=title), body


def decided(lock: Call, approvers: list[str] | None = None) -> Surface:
    """The lock once closed; ``approvers``: a quorum's people, all named."""
    automatic = lock.actor is None and lock.status in ("resolved", "rejected")
    key = f"auto-{lock.status}" if automatic else lock.status
    template = messages.OUTCOME_WORDS.get(key, "{when}")
    who = messages.mention(approvers) if approvers else messages.who(lock.actor)
    outcome = template.format(who=who, when=messages.when(lock.decided_at))
    if lock.comment:
        outcome += f": “{lock.comment}”"
    title = messages.title(lock.name)
    return f"{title}: {outcome}", blocks.decided_blocks(lock.form, title=title, outcome=outcome)


def already_decided(lock: Call) -> str:
    template = messages.DECIDED_ALREADY.get(lock.status, messages.LOCK_GONE)
    return template.format(who=messages.who(lock.actor), when=messages.when(lock.decided_at))


def quorum_reply(decision: Decision, *, declined: bool = False) -> str:
    """What the person who answered a quorum lock is told, privately."""
    needed = Policy.from_json(decision.lock.policy if decision.lock else None).quorum
    count = len(decision.approvers)
    if declined:
        return messages.DECLINE_COUNTED.format(needed=needed)
    if decision.outcome is Answer.REPEAT:
        return messages.REPEAT.format(left=max(1, needed - count))
    return messages.COUNTED.format(count=count, needed=needed)


def error_list(errors: dict[str, list[str]]) -> str:
    lines = [
        messages.ERROR_LINE.format(field=messages.FORM_FIELD if k == GLOBAL else k, message=m)
        for k, ms in errors.items()
        for m in ms
    ]
    return messages.FIX_FIELDS.format(errors="\n".join(lines))
