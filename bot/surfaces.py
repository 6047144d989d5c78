"""What the bot posts, besides lock forms: the run's parent message, its ending, and lock
messages before and after their decision (pure: data in, text and blocks out)."""

from __future__ import annotations

import json
from typing import Any

from bot import blocks, messages
from flows.decision import Decision
from flows.policy import Policy, humanize
from store import Call, Execution

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
    text = f"*{summary}* · started by {messages.who(execution.initiator)} · {status}"
    return text, [_section(text), _context(f"Run `{execution.id}`")]


def ending(execution: Execution) -> str:
    """The thread's last word: the result, or why the run stopped."""
    if execution.status == "finished":
        result = json.dumps(execution.result, ensure_ascii=False, indent=1)
        return f"✅ Finished.\n```{result[:2800]}```"
    if execution.status == "cancelled":
        return f"🚫 Cancelled: {execution.error or 'no reason given'}"
    return f"❌ Failed: {execution.error or 'unknown error'}"


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
    return f"{title}: waiting for an answer", body


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
    needed = Policy.from_json(decision.lock.policy).quorum
    count = len(decision.approvers)
    if declined:
        return messages.DECLINE_COUNTED.format(needed=needed)
    if decision.outcome == "repeat":
        return messages.REPEAT.format(left=max(1, needed - count))
    return messages.COUNTED.format(count=count, needed=needed)


def error_list(errors: dict[str, list[str]]) -> str:
    lines = [f"• *{'Form' if k == '_global_' else k}*: {m}" for k, ms in errors.items() for m in ms]
    return messages.FIX_FIELDS.format(errors="\n".join(lines))
