"""The App Home (pure): what waits for a person, their recent runs, and a way to start a flow;
and the modal that chooses a flow to start (from the Home or the global shortcut).

Every text a person or a flow chose is escaped (``literal``); times are Slack date tokens, so
each reader sees their own time zone. The Home holds at most 100 blocks, as Slack allows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bot.render import messages
from bot.render.inputs import choices
from bot.render.mrkdwn import cut, literal

Block = dict[str, Any]
ANSWER_ACTION = "lockstep_home_answer"  # value: the lock's id
START_ACTION = "lockstep_home_start"
START_SHORTCUT = "start_flow"  # the global shortcut's callback id (slack-app-manifest.yml)
CHOOSE_CALLBACK = "lockstep_choose"
CHOOSE_FLOW = "choose_flow"  # block id (and action id) of the chooser's flow select
CHOOSE_CHANNEL = "choose_channel"  # ... and of its channel select
HOME_MAX_BLOCKS = 100
MAX_WAITING = 20  # locks listed; the rest are counted
MAX_RUNS = 10
MAX_OPTIONS = 100  # a static select's options
_SECTION = 3000
SUMMARY_CHARS = 150  # of a run's summary in a line: ten runs fit a section, each in full
_OPTION = 75
_OPTION_VALUE = 150


@dataclass(frozen=True)
class Waiting:
    """An open lock the person may decide: ``link`` to its message, when it is shown."""

    lock_id: str
    title: str
    summary: str
    run_id: str
    deadline: float | None
    link: str | None
    initiator: str | None = None


@dataclass(frozen=True)
class RecentRun:
    run_id: str
    summary: str
    state: str  # how it stands or ended, in words (mrkdwn)
    link: str | None


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, _SECTION)}


def _header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, 150)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _linked(text: str, link: str | None) -> str:
    return f"<{link}|{text}>" if link else text


def _waiting(item: Waiting) -> list[Block]:
    due = messages.HOME_DUE.format(when=messages.when(item.deadline)) if item.deadline else ""
    summary = cut(item.summary, SUMMARY_CHARS)
    flow = "" if item.summary == item.title else literal(summary) + " · "
    line = messages.HOME_LOCK.format(
        title=literal(item.title), flow=flow, id=messages.short(item.run_id),
        who=messages.who(item.initiator),
    )  # fmt: skip
    thread = _linked(messages.HOME_THREAD, item.link)
    button = {
        "type": "button",
        "action_id": ANSWER_ACTION,
        "value": item.lock_id,
        "style": "primary",
        "text": _plain(messages.HOME_ANSWER, 75),
    }
    return [
        {
            "type": "section",
            "block_id": f"wait:{item.lock_id}"[:255],
            "text": _mrkdwn(line),
            "accessory": button,
        },
        _context(" · ".join(t for t in (due, thread) if t)),
    ]


def _run(run: RecentRun) -> str:
    line = messages.HOME_RUN.format(
        id=messages.short(run.run_id),
        summary=literal(cut(run.summary, SUMMARY_CHARS)),
        state=run.state,
    )
    return line + (" · " + _linked(messages.HOME_THREAD, run.link) if run.link else "")


def home_view(waiting: list[Waiting], runs: list[RecentRun]) -> dict[str, Any]:
    """The Home tab: what is ``waiting`` (past ``MAX_WAITING``, the newest are listed and the
    rest said to be there), the person's recent ``runs``."""
    start = {
        "type": "button",
        "action_id": START_ACTION,
        "value": "start",
        "style": "primary",
        "text": _plain(messages.START_A_FLOW, 75),
    }
    blocks: list[Block] = [
        {"type": "actions", "block_id": "home_start", "elements": [start]},
        _header(messages.HOME_WAITING),
    ]
    if not waiting:
        blocks.append(_context(messages.HOME_NOTHING_WAITING))
    for item in waiting[:MAX_WAITING]:
        blocks.extend(_waiting(item))
    if len(waiting) > MAX_WAITING:
        blocks.append(_context(messages.HOME_MORE.format(count=MAX_WAITING)))
    blocks.extend([{"type": "divider"}, _header(messages.HOME_RUNS)])
    if runs:
        lines = "\n".join(_run(r) for r in runs[:MAX_RUNS])
        blocks.append({"type": "section", "text": _mrkdwn(lines)})
    else:
        blocks.append(_context(messages.NO_RUNS))
    return {"type": "home", "blocks": blocks[:HOME_MAX_BLOCKS]}


def flow_value(name: str) -> str:
    """A flow's option value in the chooser: its name; a name past the 150 characters Slack
    takes in an option's value is cut, with a digest of the whole so that it stays unique."""
    if len(name) <= _OPTION_VALUE:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: _OPTION_VALUE - len(digest) - 1]}~{digest}"


def chooser_view(flows: list[tuple[str, str]], private_metadata: str = "") -> dict[str, Any]:
    """The modal that starts a flow: which flow (``(name, summary)``), in which channel (the
    run's messages go there); its submission opens the flow's entry form."""
    options = [
        {"text": _plain(f"{summary or name} ({name})", _OPTION), "value": flow_value(name)}
        for name, summary in sorted(flows)[: MAX_OPTIONS * MAX_OPTIONS]
    ]  # past a select's 100, in groups of 100 (Slack's type-ahead searches them all)
    choose: Block = {
        "type": "input",
        "block_id": CHOOSE_FLOW,
        "label": _plain(messages.CHOOSE_FLOW_LABEL, 2000),
        "element": {
            "type": "static_select",
            "action_id": CHOOSE_FLOW,
            "placeholder": _plain(messages.CHOOSE_FLOW_PLACEHOLDER, 150),
            **choices(options),
        },
    }
    channel: Block = {
        "type": "input",
        "block_id": CHOOSE_CHANNEL,
        "label": _plain(messages.CHOOSE_CHANNEL_LABEL, 2000),
        "hint": _plain(messages.CHOOSE_CHANNEL_HINT, 2000),
        "element": {
            "type": "conversations_select",
            "action_id": CHOOSE_CHANNEL,
            "default_to_current_conversation": True,
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        },
    }
    blocks = [choose, channel] if options else [_context(messages.NO_FLOWS)]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": CHOOSE_CALLBACK,
        "title": _plain(messages.START_A_FLOW, 24),
        "close": _plain(messages.CANCEL_TEXT, 24),
        "blocks": blocks,
    }
    if options:
        view["submit"] = _plain(messages.NEXT_TEXT, 24)
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view
