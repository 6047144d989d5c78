"""``sys.exit()`` in a flow or a lease (``preflight``) fails that run or that answer, as any
exception does; it raised ``SystemExit`` through the bot's event loop, stopping the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store import SQLStore
from tests.kodosumi_slack import click, ending, started, text, texts
from tests.slackbot import Bot, running_bot


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with running_bot(db_url, flows="tests.kodosumi_apps.preflight") as running:
        yield running


async def test_a_flow_calling_sys_exit_fails_and_the_bot_goes_on(bot: Bot) -> None:
    run = await started(bot, "preflight", {})
    assert run.status == "error"
    assert run.error == "FlowExited: sys.exit('PREFLIGHT_TEST_API_KEY is not set') called"
    assert texts(bot, run)[0] == "checking configuration"
    assert ending(bot, run)[0].startswith("❌ *Failed*")
    run = await started(bot, "batch", {})  # a sync runner, in its worker thread
    assert (run.status, run.error) == ("error", "FlowExited: sys.exit(2) called")
    assert texts(bot, run)[0] == "batch failed"


async def test_a_lease_calling_sys_exit_refuses_that_answer_only(bot: Bot) -> None:
    run = await started(bot, "confirm-exit", {})
    run = await click(bot, run, text("word", "no"))
    assert run.status == "awaiting"  # the lease failed: the lock stays open
    run = await click(bot, run, text("word", "yes"))
    assert (run.status, run.result) == ("finished", {"word": "yes"})
