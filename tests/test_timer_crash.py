"""The bot is killed (SIGKILL) around a lock's timers, with the fake Slack failing; after the
restart every nudge is shown once, and none after its lock was answered."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.fake.slack import FakeSlack
from tests.botproc import FAST, BotProcess, has_buttons, key_of
from tests.slackbot import CHANNEL, Bot

pytestmark = pytest.mark.slow
# a dead process's deliveries are taken over 9 s after it took them (3/4 of this): the test's
# answer comes well before
FLOWS = FAST | {"LOCKSTEP_FLOWS": "tests.timer_flows", "LOCKSTEP_TAKEOVER_SECONDS": "12"}


def thread(slack: FakeSlack) -> list[dict[str, Any]]:
    [parent] = slack.messages(CHANNEL)
    return slack.thread(CHANNEL, parent["ts"])


async def all_shown(database: Path) -> None:
    """Until the store has nothing left to show (read as an operator would)."""
    async with asyncio.timeout(30):
        while True:
            with sqlite3.connect(database) as db:
                (waiting,) = db.execute("SELECT count(*) FROM outbox WHERE pending").fetchone()
            if not waiting:
                return
            await asyncio.sleep(0.2)


async def test_a_reminder_killed_before_slack_took_it_is_not_posted_after_the_answer(
    tmp_path: Path,
) -> None:
    """Killed as it posts the lock's reminder (Slack never took it); restarted, Bob answers
    before the dead process's hold on the reminder lapses. Its retry finds it was never posted,
    and leaves it unsaid: it would call people to a form already answered."""
    database = tmp_path / "brisk.db"
    url = f"sqlite:///{database}"
    async with (
        FakeSlack(members={CHANNEL: ["UALICE", "UBOB"]}) as slack,
        aiohttp.ClientSession() as http,
    ):
        process = await BotProcess.start(slack, url, FLOWS)
        try:
            bot = Bot(None, slack, process.url, http)
            assert (await bot.command("start brisk"))[0] == 200
            await slack.wait_for("chat.postMessage", count=2, timeout=20)  # the parent, the lock
            slack.on_call("chat.postMessage", process.kill_now)  # the reminder, 2 s later:
            slack.fail_next("chat.postMessage", status=503)  # killed, and Slack never took it
            await slack.wait_for("chat.postMessage", count=3, timeout=20)
            await process.proc.wait()
            process = await BotProcess.start(slack, url, FLOWS)
            bot.url = process.url
            [lock] = [m for m in thread(slack) if key_of(m).startswith("lock:")]
            assert (await bot.click(lock, "lockstep_submit", "UBOB"))[0] == 200
            await slack.until(lambda: any(key_of(m).startswith("end:") for m in thread(slack)), 30)
            await all_shown(database)
            keys = [key_of(m) for m in thread(slack)]
            assert not any(k.startswith("remind:") for k in keys), keys
            assert not any(has_buttons(m) for m in thread(slack))
        finally:
            await process.kill()
