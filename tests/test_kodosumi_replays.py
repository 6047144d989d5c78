"""kodosumi apps whose code does what a replay must not repeat or mix up (``replays``): cleanup
around a lock, a lock's data made afresh outside any step; and how they read in Slack."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from store import SQLStore
from tests.kodosumi_apps import replays
from tests.kodosumi_slack import (
    click,
    ending,
    open_entry,
    open_lock,
    radio,
    started,
    submit,
    text,
    texts,
)
from tests.slackbot import Bot, running_bot


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with running_bot(db_url, flows="tests.kodosumi_apps.replays") as running:
        yield running


async def test_cleanup_around_a_lock_runs_once_the_lock_is_answered(bot: Bot) -> None:
    replays.released.clear()
    run = await started(bot, "reserve", {})
    assert run.status == "awaiting"
    assert replays.released == [] and "room given back" not in texts(bot, run)
    run = await click(bot, run, text("note", "fine"))
    assert run.status == "finished" and run.result == {"note": "fine"}
    assert replays.released == ["room 1"]
    assert texts(bot, run).count("room given back") == 1


async def test_a_lock_whose_data_a_replay_makes_afresh_is_logged(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """The approver signed off "draft #n"; the replay made another draft outside any step: the
    answer is the one given (as in the recorded run), and the log names the lock."""
    caplog.set_level(logging.WARNING, "lockstep.engine")
    run = await started(bot, "draft", {})
    shown = " ".join(b["text"]["text"] for b in open_lock(bot, run)["blocks"] if "text" in b)
    assert "draft #" in shown
    run = await click(bot, run, text("note", "ship it"))
    assert run.status == "finished"
    [warned] = [r for r in caplog.records if "other data than it was answered for" in r.message]
    assert "'sign'" in warned.message and "tracer.step" in warned.message


def _sections(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


async def test_indented_markdown_reads_as_markdown(bot: Bot) -> None:
    """Markdown in indented triple-quoted strings (the form, the output, the result) reads as
    if written flush left: headings bold, lists bulleted."""
    view = await open_entry(bot, "indented")
    shown = _sections(view["blocks"])
    assert "## Details" not in shown and "*Details*" in shown and "• one" in shown
    run = await started(bot, "indented", text("topic", "x"))
    said = "\n".join(texts(bot, run))
    assert "*Step*" in said and "• *done*" in said and "##" not in said
    _, result = ending(bot, run)
    assert "*Section*" in result and "• a" in result and "#" not in result


async def test_an_error_for_a_choice_of_buttons_shows_under_that_choice(bot: Bot) -> None:
    """In a modal a group of Action buttons is a choice of its own: an InputsError naming it
    comes back under it, not under the first field."""
    view = await open_entry(bot, "publish")
    assert [b["block_id"] for b in view["blocks"]] == ["f_title", "f_mode"]
    answer = await submit(bot, view, text("title", "Hello"))
    assert answer == {"response_action": "errors", "errors": {"f_mode": "Choose draft or publish"}}
    answer = await submit(bot, view, text("title", "Hello") | radio("mode", "publish"))
    assert answer is None  # chosen: it starts


async def test_models_inside_a_result_show_their_fields(bot: Bot) -> None:
    run = await started(bot, "reports", {})
    _, result = ending(bot, run)
    assert '"title": "a", "score": 1' in result and '"title": "b", "score": 2' in result
    assert "title=" not in result  # never Python's repr
