"""What the bot posts, besides lock forms: the run's parent message, its ending, and lock
messages before and after their decision (pure: data in, text and blocks out)."""

from __future__ import annotations

import html
import json
from typing import Any

from bot.render import answers, blocks, messages, outcome
from bot.render.htmltext import html_to_mrkdwn
from bot.render.inputs import form_inputs, label_of
from bot.render.mrkdwn import (
    as_terminal_shows,
    cut,
    literal,
    markdown_to_mrkdwn,
    mrkdwn_chunks,
    unmarked,
    without_ansi,
)
from flows import response
from flows.codec import decode
from flows.engine import Answer, Call, Decision, Execution
from flows.errors import GLOBAL
from flows.policy import Policy, humanize
from flows.prompts import PREFIX as PROMPT

SNOOZE_ACTION = "lockstep_snooze"
_PROGRESS = 3900  # characters of a progress message
_SECTION_CHARS = 3000  # of a section's text

Surface = tuple[str, list[dict[str, Any]]]  # notification text, blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def parent(
    execution: Execution,
    summary: str,
    open_locks: list[str],
    conclusion: outcome.Conclusion | None = None,
) -> Surface:
    """ "Document review · started by @alice · awaiting Content review", kept current; once the
    run has ended, how (``conclusion``): "rejected by @bob"."""
    status = messages.STATUS_WORDS[execution.status]
    if execution.status == "awaiting" and open_locks:
        status += " " + ", ".join(messages.title(n) for n in open_locks)
    if conclusion is not None:
        status = ending_words(conclusion)
    text = messages.PARENT.format(
        summary=literal(summary), who=messages.who(execution.initiator), status=status
    )
    run_id = messages.RUN_ID.format(id=messages.short(execution.id))
    return text, [_section(text), _context(run_id)]


def ending_words(conclusion: outcome.Conclusion, templates: dict[str, str] | None = None) -> str:
    """How a run ended, short ("rejected by @bob"), or with ``templates`` another way."""
    templates = messages.ENDINGS if templates is None else templates
    key = conclusion.ending.value
    if not conclusion.people and f"{key}-auto" in templates:
        key += "-auto"
    return templates[key].format(
        who=messages.mention(list(conclusion.people)),
        when=messages.when(conclusion.at),
        lock=f"*{messages.title(conclusion.lock or '')}*",
    )


def ending(conclusion: outcome.Conclusion, result: Any, forms: list[Any]) -> Surface:
    """The thread's last word: how the run ended, who decided, the comment or the reason, and
    the result: formatted when the flow returned Markdown, HTML or text (kodosumi's
    ``response``) or a crew's output (its Markdown), else as labelled fields (``forms``: the
    run's forms, whose labels the result's keys take)."""
    line = ending_words(conclusion, messages.ENDING_LINES)
    notes = answers.notes(
        [(messages.COMMENT_LABEL, conclusion.comment), (messages.REASON_LABEL, conclusion.reason)]
    )
    value = response.body_of(decode(result))
    if value is not None:
        body = formatted(value.kind, value.body) or ""
        return line, [_section(line), *notes, *_report(body)]
    return line, [_section(line), *notes, *answers.result_blocks(result, forms)]


def _report(body: str) -> list[dict[str, Any]]:
    """A formatted result in sections of Slack's size, as much as the message holds (what a
    result's fields may take); one cut short ends with an ellipsis."""
    blocks: list[dict[str, Any]] = []
    room = answers.FIELDS_MAX_CHARS
    for part in mrkdwn_chunks(body, _SECTION_CHARS):
        size = len(json.dumps(_section(part), ensure_ascii=False)) + 2
        if size > room:
            keep = len(part) * room // size - 1
            if keep > 100:
                blocks.append(_section(cut(part, keep)))
            elif blocks:
                text = blocks[-1]["text"]["text"]
                blocks[-1] = _section(text[: len(text) - 1] + "…")
            break
        blocks.append(_section(part))
        room -= size
    return blocks


def formatted(kind: str, text: str) -> str | None:
    """Markdown, HTML or preformatted text as mrkdwn (mentions and links in it stay inert);
    None for other kinds."""
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
    fence = "`" * 3
    return fence + html.escape(text, quote=False).replace(fence, "'" * 3) + fence


def progress(kind: str, text: str, of: str | None = None) -> str:
    """A flow's output as a thread message: ``markdown`` as Markdown made mrkdwn (the mentions
    the author asked for with ``flows.mention`` live, every other Slack sequence escaped),
    ``html`` converted, ``text`` and ``print()`` preformatted, ``result``/``action`` JSON as
    code (a crew's task output, ``of`` its type, as its Markdown); ``debug``, ``warning``,
    ``stderr`` and other results as the plain text they are, so a value the flow quotes cannot
    ping anyone or link anywhere. Blank output (``tracer.markdown("")``, a spacer in
    kodosumi's page) is "": nothing to post."""
    text = without_ansi(text)
    if kind in ("stdout", "stderr"):
        text = as_terminal_shows(text)
    if not text.strip():
        return ""
    shown = formatted(kind, text)
    if shown is None and kind in ("result", "action") and of in response.CREW_OUTPUTS:
        shown = _crew_output(text, "raw")
    if shown is None and kind in ("result", "action") and of == response.AGENT_FINISH:
        shown = _crew_output(text, "output")
    if shown is None and kind in ("result", "action") and text.lstrip()[:1] in ("{", "["):
        shown = _code(text)
    if shown is None:
        shown = literal(text)
    prefix = messages.WARNING_PREFIX if kind in ("warning", "stderr") else ""
    return cut(prefix + shown, _PROGRESS) or messages.NOTHING_TO_SHOW


def _crew_output(text: str, answer: str) -> str | None:
    """A crew's task output or an agent's finish (its fields as JSON) as kodosumi's page shows
    it: the task's name and agent, then its answer (``answer``) as Markdown. None if it has no
    answer."""
    try:
        fields = json.loads(text)
    except ValueError:
        return None
    raw = fields.get(answer) if isinstance(fields, dict) else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    name, agent = (literal(str(fields.get(k) or "")).strip() for k in ("name", "agent"))
    title = (
        f"*{name}* ({agent})" if name and agent else f"*{name or agent}*" if name or agent else ""
    )
    return "\n".join(filter(None, [title, markdown_to_mrkdwn(raw)]))


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
    """The open lock: its form (or a button opening it), snooze, a quorum's progress, and
    whom it asks, where it names people (mentioned: the first post notifies them)."""
    title = messages.title(lock.name)
    policy = Policy.from_json(lock.policy)
    quorum = [_context(quorum_line(policy.quorum, approvers or []))] if policy.quorum > 1 else []
    named = any(a != "channel" for a in policy.approvers)
    who = messages.asked(policy.approvers) if named else ""
    quorum = ([_context(messages.ASKED.format(who=who))] if named else []) + quorum
    snooze = [_snooze_button(lock.id, policy.snooze)] if policy.snooze else []
    if blocks.fits_message(lock.form, quorum, snooze):
        body = blocks.message_blocks(
            lock.form, lock_id=lock.id, title=title, errors=errors, values=values, extra=quorum,
            buttons=snooze,
        )  # fmt: skip
    else:
        body = blocks.open_form_blocks(
            lock.form, lock_id=lock.id, title=title, extra=quorum, buttons=snooze
        )
    return _waiting(lock, title, who), body


def _waiting(lock: Call, title: str, who: str) -> str:
    """The lock message's text (its notification): what a typed prompt asks, else that it
    waits; and whom, where it names people."""
    prompt = _prompt(lock.form) if lock.name.startswith(PROMPT) else ""
    if prompt:
        return (messages.ASKING_FOR if who else messages.ASKING).format(
            title=title, who=who, prompt=prompt
        )
    return (messages.WAITING_FOR if who else messages.WAITING).format(title=title, who=who)


def _prompt(form: list[Any]) -> str:
    """A typed prompt's question: its form's opening text, else its one field's label; its
    first line, short."""
    first = form[0] if form and isinstance(form[0], dict) else {}
    if first.get("type") == "markdown" and isinstance(first.get("text"), str):
        said = markdown_to_mrkdwn(first["text"])
    else:
        fields = form_inputs(form)
        said = literal(label_of(fields[0])) if fields else ""
    line = next((x.strip() for x in said.splitlines() if x.strip()), "")
    return cut(line, messages.PROMPT_CHARS)


def _snooze_button(lock_id: str, by: float) -> dict[str, Any]:
    text = messages.SNOOZE_BUTTON.format(by=humanize(by))
    button = {"type": "button", "action_id": SNOOZE_ACTION, "value": lock_id}
    return button | {"text": {"type": "plain_text", "text": text[:75]}}


def decided(lock: Call, approvers: list[str] | None = None) -> Surface:
    """The lock once closed: who decided how and when, and the answer itself (its values under
    their labels, the comment); ``approvers``: a quorum's people, all named when they decided
    it (approved); a rejection, an expiry or a cancel names who did it, not who approved."""
    if lock.status != "resolved":
        approvers = None
    automatic = lock.actor is None and lock.status in ("resolved", "rejected")
    key = f"auto-{lock.status}" if automatic else lock.status
    if key == "resolved":
        key = "approved" if outcome.is_decision(lock) else "answered"
    if key == "cancelled" and lock.actor:  # by whoever cancelled the run
        key = "cancelled-by"
    template = messages.OUTCOME_WORDS.get(key, "{when}")
    who = messages.mention(approvers) if approvers else messages.who(lock.actor)
    line = template.format(who=who, when=messages.when(lock.decided_at))
    value = lock.result if lock.status == "resolved" else None
    answer = answers.answer_blocks(lock.form, value, lock.comment)
    title, _ = blocks.titled(lock.form, messages.title(lock.name))
    rendered = blocks.decided_blocks(lock.form, title=title, outcome=line, answer=answer)
    return f"{literal(title)}: {line}", rendered  # a heading may quote what a person typed


def already_decided(
    lock: Call, approvers: list[str] | None = None, reader: str | None = None
) -> str:
    """What ``reader``, answering ``lock`` after its decision, is told (``approvers``: everyone
    who approved a quorum lock; when ``reader`` is one of them, their approval was counted,
    even if it came together with the one that decided it)."""
    key: str = "cancelled-by" if lock.status == "cancelled" and lock.actor else lock.status
    if lock.status == "resolved" and approvers and reader in approvers:
        key = "approved-with-you"
    if lock.actor is None and lock.status in ("resolved", "rejected"):  # by its deadline
        key = f"auto-{lock.status}"
    template = messages.DECIDED_ALREADY.get(key, messages.LOCK_GONE)
    who = messages.mention(approvers) if approvers else messages.who(lock.actor)
    return template.format(who=who, when=messages.when(lock.decided_at))


def quorum_reply(decision: Decision, *, declined: bool = False) -> str:
    """What the person who answered a quorum lock is told, privately."""
    needed = Policy.from_json(decision.lock.policy if decision.lock else None).quorum
    count = len(decision.approvers)
    if declined:
        left = max(1, needed - count)
        approvals = "approval" if left == 1 else "approvals"
        return messages.DECLINE_COUNTED.format(
            left=left, approvals=approvals, count=count, needed=needed
        )
    if decision.outcome is Answer.REPEAT and count >= needed:  # their approval, sent twice
        return messages.REPEAT_MET.format(count=count, needed=needed)  # at once, decides it
    if decision.outcome is Answer.REPEAT:
        return messages.REPEAT.format(left=needed - count)
    return messages.COUNTED.format(count=count, needed=needed)


def error_list(errors: dict[str, list[str]], form: Any = None) -> str:
    """What was wrong, each under the label the person sees (``form``: the form answered)."""
    labels = {e["name"]: label_of(e) for e in form_inputs(form if isinstance(form, list) else [])}
    lines = [
        messages.ERROR_LINE.format(
            field=literal(messages.FORM_FIELD if k == GLOBAL else labels.get(k, k)),
            message=literal(unmarked(m)),
        )
        for k, ms in errors.items()
        for m in ms
    ]
    return messages.FIX_FIELDS.format(errors="\n".join(lines))
