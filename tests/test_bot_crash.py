"""The bot process is killed (SIGKILL) between the steps of a document review and restarted on
the same store; the review carries on from Slack as if nothing happened."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.fake.slack import FakeSlack
from tests.slackbot import CHANNEL, SECRET, Bot, checked, input_value

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """``python -m bot`` in a subprocess; ready once it logs that it is listening."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    @classmethod
    async def start(
        cls, slack: FakeSlack, database_url: str, more: dict[str, str] | None = None
    ) -> BotProcess:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
        env |= {
            "SLACK_BOT_TOKEN": "xoxb-crash-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url,
            "PORT": str(port),
            "LOCKSTEP_HOST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
        } | (more or {})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
        )
        started = cls(proc, port)
        await started.wait_for_log("Running on")
        return started

    async def wait_for_log(self, text: str) -> None:
        assert self.proc.stderr
        while True:
            line = await asyncio.wait_for(self.proc.stderr.readline(), 30)
            if not line:
                raise AssertionError(f"the bot exited before logging {text!r}")
            if text in line.decode():
                return

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


async def test_review_survives_bot_restarts_between_steps(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'lockstep.db'}"
    people = {CHANNEL: ["UALICE", "UBOB", "UCAROL"]}
    async with FakeSlack(members=people) as slack, aiohttp.ClientSession() as http:
        process = await BotProcess.start(slack, database_url)
        try:
            bot = Bot(None, slack, f"http://127.0.0.1:{process.port}/slack/events", http)
            await bot.command(f"start review document=crash-{secrets.token_hex(2)}")
            [opened] = await slack.wait_for("views.open", timeout=20)
            await bot.submit_view(
                opened.response["view"], input_value("document", "Spec"), "UALICE"
            )
            await slack.wait_for("chat.postMessage", count=3, timeout=20)  # parent, progress, lock
            [parent] = slack.messages(CHANNEL)
            content = slack.thread(CHANNEL, parent["ts"])[-1]

            await process.kill()  # 1: while the flow waits at its first lock
            process = await BotProcess.start(slack, database_url)
            bot.url = f"http://127.0.0.1:{process.port}/slack/events"
            await bot.click(content, "lockstep_submit", "UBOB", input_value("score", "4"))
            await slack.wait_for("chat.postMessage", count=5, timeout=20)  # progress, final lock
            final = slack.thread(CHANNEL, parent["ts"])[-1]
            assert "Final review" in final["text"]

            await process.kill()  # 2: while it waits at the second
            process = await BotProcess.start(slack, database_url)
            bot.url = f"http://127.0.0.1:{process.port}/slack/events"
            await bot.click(final, "lockstep_submit", "UCAROL", checked("publish"))
            posts = await slack.wait_for("chat.postMessage", count=6, timeout=20)
            assert posts[-1].args["text"].startswith("✅ *Approved* by <@UCAROL>")
            [parent] = slack.messages(CHANNEL)
            assert parent["text"].endswith("✅ approved by <@UCAROL>")
            keys = [
                c.args["metadata"]["event_payload"]["key"]
                for c in slack.calls_to("chat.postMessage")
                if c.ok
            ]
            assert len(keys) == len(set(keys)) == 6  # each posted once, restarts notwithstanding
            assert sum(k.startswith("lock:") for k in keys) == 2
        finally:
            await process.kill()


async def test_a_bot_killed_while_deciding_a_click_decides_it_after_a_restart(
    tmp_path: Path,
) -> None:
    """A click is stored (held) before it is acked and decided after: the bot killed while
    deciding it (asking Slack who is in the lock's group) has lost nothing, and the restarted
    bot decides it once, with no one clicking again; a later click is told who decided."""
    database_url = f"sqlite:///{tmp_path / 'lockstep.db'}"
    people = {CHANNEL: ["UALICE", "UGROUPIE"]}
    groups = {"SREVIEW": ["UGROUPIE"]}
    env = {"LOCKSTEP_FLOWS": "tests.slack_flows", "LOCKSTEP_SWEEP_SECONDS": "0.5",
           "LOCKSTEP_TAKEOVER_SECONDS": "2"}  # fmt: skip
    async with (
        FakeSlack(members=people, usergroups=groups) as slack,
        aiohttp.ClientSession() as http,
    ):
        process = await BotProcess.start(slack, database_url, env)
        try:
            bot = Bot(None, slack, f"http://127.0.0.1:{process.port}/slack/events", http)
            await bot.command("start vetted")
            [_, posted] = await slack.wait_for("chat.postMessage", count=2, timeout=20)
            lock = posted.response["message"]
            dying = process.proc
            slack.on_call("usergroups.users.list", lambda: os.kill(dying.pid, signal.SIGKILL))
            status, _ = await bot.click(lock, "lockstep_submit", "UGROUPIE", input_value("x", "1"))
            assert status == 200  # acked: held, then killed deciding it
            await asyncio.wait_for(dying.wait(), 20)
            assert not slack.calls_to("chat.update")  # nothing decided, nothing shown

            process = await BotProcess.start(slack, database_url, env)
            bot.url = f"http://127.0.0.1:{process.port}/slack/events"
            done = await slack.wait_for("chat.postMessage", count=3, timeout=30)
            assert done[-1].args["text"].startswith("✅ *Approved* by <@UGROUPIE>")
            await bot.click(lock, "lockstep_submit", "UGROUPIE", input_value("x", "2"))
            [told] = await slack.wait_for("chat.postEphemeral", timeout=20)
            assert "Already answered by <@UGROUPIE>" in told.args["text"]
            approved = [c for c in slack.calls_to("chat.postMessage") if c.ok]
            assert sum(c.args["text"].startswith("✅") for c in approved) == 1
        finally:
            await process.kill()


async def test_a_click_acked_before_its_decision_is_decided_after_a_kill_without_a_click_again(
    tmp_path: Path,
) -> None:
    """A click whose decision takes long (a slow lease) is acked first; the bot killed after
    that ack, before deciding, has held the click: the restarted bot decides it, once, with no
    one clicking again, and tells nobody privately (the thread shows it)."""
    database_url = f"sqlite:///{tmp_path / 'lockstep.db'}"
    env = {"LOCKSTEP_FLOWS": "tests.slack_flows", "LOCKSTEP_SWEEP_SECONDS": "0.5",
           "LOCKSTEP_TAKEOVER_SECONDS": "2"}  # fmt: skip
    async with (
        FakeSlack(members={CHANNEL: ["UALICE", "UBOB"]}) as slack,
        aiohttp.ClientSession() as http,
    ):
        slow = env | {"LOCKSTEP_TEST_CONSIDERING": "30"}
        process = await BotProcess.start(slack, database_url, slow)
        try:
            bot = Bot(None, slack, f"http://127.0.0.1:{process.port}/slack/events", http)
            await bot.command("start considered")
            [_, posted] = await slack.wait_for("chat.postMessage", count=2, timeout=20)
            lock = posted.response["message"]
            status, _ = await bot.click(lock, "lockstep_submit", "UBOB", input_value("x", "1"))
            assert status == 200  # acked, still deciding
            await process.kill()
            assert not slack.calls_to("chat.update")  # nothing decided, nothing shown

            process = await BotProcess.start(slack, database_url, env)
            await slack.until(
                lambda: "by <@UBOB>" in slack.thread(CHANNEL, lock["thread_ts"])[1]["text"],
                timeout=30,
            )
            await asyncio.sleep(3)  # more sweeps: it stays decided, once
            decided = [e for e in await _events(database_url) if e[0] == "lease"]
            assert decided == [("lease", "UBOB")]
            assert not slack.calls_to("chat.postEphemeral")
        finally:
            await process.kill()


async def _events(database_url: str) -> list[tuple[str, str | None]]:
    from store import SQLStore

    store = await SQLStore.open(database_url)
    try:
        [run] = await store.executions()
        return [(e.kind, e.actor) for e in await store.events(run.id)]
    finally:
        await store.close()
