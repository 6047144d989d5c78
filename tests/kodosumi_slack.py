"""Driving the kodosumi apps (``tests.kodosumi_apps``) through the real bot: what a person
types into Slack's inputs, as Slack puts it in ``state.values``, and the steps of a run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from flows.engine import Clock, Execution
from tests.slackbot import CHANNEL, Bot, running_bot

APPS = ",".join(
    f"tests.kodosumi_apps.{m}"
    for m in (
        "hitl", "form", "hymn", "prime", "throughput", "simple", "upload", "mock", "execution",
        "locks", "news", "wise", "failures", "tracing",
    )
)  # fmt: skip


@asynccontextmanager
async def kodosumi_bot(db_url: str, clock: Clock | None = None) -> AsyncIterator[Bot]:
    async with running_bot(db_url, clock, flows=APPS) as bot:
        yield bot


def _cell(name: str, value: dict[str, Any]) -> dict[str, Any]:
    return {f"f_{name}": {name: value}}


def text(name: str, value: str | None) -> dict[str, Any]:
    return _cell(name, {"type": "plain_text_input", "value": value})


def number(name: str, value: str | None) -> dict[str, Any]:
    return _cell(name, {"type": "number_input", "value": value})


def day(name: str, value: str | None) -> dict[str, Any]:
    return _cell(name, {"type": "datepicker", "selected_date": value})


def clock(name: str, value: str | None) -> dict[str, Any]:
    return _cell(name, {"type": "timepicker", "selected_time": value})


def moment(name: str, epoch: int | None) -> dict[str, Any]:
    return _cell(name, {"type": "datetimepicker", "selected_date_time": epoch})


def box(name: str, ticked: bool, text: str = "on") -> dict[str, Any]:
    chosen = [{"text": {"type": "plain_text", "text": text}, "value": "on"}] if ticked else []
    return _cell(name, {"type": "checkboxes", "selected_options": chosen})


def choice(name: str, value: str | None) -> dict[str, Any]:
    picked = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
    return _cell(name, {"type": "static_select", "selected_option": picked})


def radio(name: str, value: str | None) -> dict[str, Any]:
    picked = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
    return _cell(name, {"type": "radio_buttons", "selected_option": picked})


def files(name: str, uploaded: list[dict[str, Any]]) -> dict[str, Any]:
    return _cell(name, {"type": "file_input", "files": uploaded})


def merged(*cells: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cell in cells:
        out |= cell
    return out


async def open_entry(bot: Bot, flow: str, user: str = "UALICE") -> dict[str, Any]:
    """``/flow start <flow>``: the entry modal Slack opened."""
    before = len(bot.slack.calls_to("views.open"))
    assert await bot.command(f"start {flow}", user=user) == (200, "")
    opened = await bot.slack.wait_for("views.open", count=before + 1)
    view: dict[str, Any] = opened[-1].response["view"]
    return view


async def submit(
    bot: Bot, view: dict[str, Any], values: dict[str, Any], user: str = "UALICE"
) -> dict[str, Any] | None:
    """Submit a modal: Slack's answer (``response_action``...), or None for a plain ack."""
    status, body = await bot.submit_view(view, values, user)
    assert status == 200, body
    return json.loads(body) if body else None


async def started(bot: Bot, flow: str, values: dict[str, Any], user: str = "UALICE") -> Execution:
    """Start ``flow`` from its modal with ``values`` and wait until its run has settled."""
    view = await open_entry(bot, flow, user)
    assert await submit(bot, view, values, user) is None
    return await settled(bot)


async def settled(bot: Bot) -> Execution:
    """The newest run, once this process has nothing left to do for it."""
    assert bot.lockstep is not None
    await bot.lockstep.handlers.drain()
    execution = (await bot.lockstep.engine.runs(limit=1))[0]
    await bot.lockstep.engine.settled(execution.id)
    await bot.lockstep.handlers.drain()
    found = await bot.lockstep.engine.execution(execution.id)
    assert found is not None
    return found


def thread(bot: Bot, execution: Execution) -> list[dict[str, Any]]:
    """The run's thread, its parent message first."""
    key = f"run:{execution.id}"
    [parent] = [
        m
        for m in bot.slack.messages(CHANNEL)
        if (m.get("metadata") or {}).get("event_payload", {}).get("key") == key
    ]
    return bot.slack.thread(CHANNEL, parent["ts"])


def ending(bot: Bot, execution: Execution) -> tuple[str, str]:
    """The thread's last message: its line (how the run ended) and what it shows below it."""
    last = thread(bot, execution)[-1]
    sections = [b["text"]["text"] for b in last.get("blocks", []) if "text" in b]
    fields = [f["text"] for b in last.get("blocks", []) for f in b.get("fields", [])]
    return last["text"], "\n".join(sections[1:] + fields)


def texts(bot: Bot, execution: Execution) -> list[str]:
    return [m["text"] for m in thread(bot, execution)[1:]]


def open_lock(bot: Bot, execution: Execution) -> dict[str, Any]:
    """The run's lock message that still has its buttons."""
    return next(
        m
        for m in thread(bot, execution)
        if any(b["type"] == "actions" for b in m.get("blocks", []))
    )


async def click(
    bot: Bot,
    execution: Execution,
    values: dict[str, Any] | None = None,
    action: str = "lockstep_submit",
    user: str = "UBOB",
) -> Execution:
    """Press a button of the run's open lock message, and wait for the run to settle."""
    assert bot.lockstep is not None
    status, _ = await bot.click(open_lock(bot, execution), action, user, values)
    assert status == 200
    await bot.lockstep.handlers.drain()
    await bot.lockstep.engine.settled(execution.id)
    await bot.lockstep.handlers.drain()
    found = await bot.lockstep.engine.execution(execution.id)
    assert found is not None
    return found


def block(view_or_message: dict[str, Any], name: str) -> dict[str, Any]:
    return next(b for b in view_or_message["blocks"] if b.get("block_id") == f"f_{name}")
