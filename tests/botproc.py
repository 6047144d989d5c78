"""``python -m bot`` in a subprocess against the fake Slack, and a person driving a run to its
end through whatever happens to the bot: the crash tests' harness."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.fake.slack import FakeSlack
from tests.slackbot import CHANNEL, SECRET, Bot, input_value

ROOT = Path(__file__).resolve().parent.parent
FAST = {  # a dead process's work is taken over in ~2 s; sweeps every 0.5 s; slow calls fail
    "LOCKSTEP_TAKEOVER_SECONDS": "2",
    "LOCKSTEP_SWEEP_SECONDS": "0.5",
    "LOCKSTEP_SLACK_TIMEOUT": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """``python -m bot`` in a subprocess; ready once it logs that it is listening."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    @classmethod
    async def start(
        cls, slack: FakeSlack, database_url: str, env: dict[str, str] | None = None
    ) -> BotProcess:
        port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
        base |= {
            "SLACK_BOT_TOKEN": "xoxb-crash-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url,
            "PORT": str(port),
            "LOCKSTEP_HOST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
            "LOCKSTEP_FLOWS": "flows.examples.review,tests.slack_flows",
        } | (env or {})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=base, stderr=asyncio.subprocess.PIPE
        )
        started = cls(proc, port)
        await started.wait_for_log("Running on")
        asyncio.get_running_loop().create_task(started._drain())  # keep its stderr flowing
        return started

    async def wait_for_log(self, text: str) -> None:
        assert self.proc.stderr
        while True:
            line = await asyncio.wait_for(self.proc.stderr.readline(), 30)
            if not line:
                raise AssertionError(f"the bot exited before logging {text!r}")
            if text in line.decode():
                return

    async def _drain(self) -> None:
        assert self.proc.stderr
        while await self.proc.stderr.readline():
            pass

    def kill_now(self) -> None:
        """SIGKILL, from wherever (a fake Slack hook runs this mid-call)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def kill(self) -> None:
        self.kill_now()
        await self.proc.wait()


def key_of(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("key", ""))


def has_buttons(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks") or ())


@dataclass
class Person:
    """Starts a ledger run and answers its locks, the way a person in Slack would: retrying
    what failed (a command that opened nothing, a click the bot never answered)."""

    slack: FakeSlack
    http: aiohttp.ClientSession
    item: str
    user: str = "UBOB"
    accepted: bool = False  # the entry modal was submitted and Slack got its 200
    parent_ts: str | None = None
    clicked: dict[str, float] = field(default_factory=dict)  # lock key -> when, loop time
    patience: float = 5.0  # seconds before clicking again a form that still waits

    def bot(self, url: str) -> Bot:
        return Bot(None, self.slack, url, self.http)

    async def step(self, url: str) -> bool:
        """One thing a person would do next; True once the run is shown finished."""
        bot = self.bot(url)
        try:
            if not self.accepted:
                await self._start(bot)
                return False
            now = asyncio.get_running_loop().time()
            for message in self._thread():
                key = key_of(message)
                if not (key.startswith("lock:") and has_buttons(message)):
                    continue
                if now - self.clicked.get(key, -self.patience) < self.patience:
                    continue  # clicked a moment ago: give it time to show the answer
                status, _ = await bot.click(message, "lockstep_submit", self.user)
                if status == 200:  # a bot killed right after its ack loses the click:
                    self.clicked[key] = now  # the form stays open, and is clicked again
                return False
            return self.finished()
        except (aiohttp.ClientError, TimeoutError, StopIteration):
            return False  # the bot is down, or was mid-restart: try again

    async def _start(self, bot: Bot) -> None:
        opened_before = len(self.slack.calls_to("views.open"))
        status, _ = await bot.command(f"start ledger item={self.item}")
        if status != 200:
            return
        await self.slack.until(lambda: len(self.slack.calls_to("views.open")) > opened_before, 5)
        opened = self.slack.calls_to("views.open")[-1]
        if not opened.ok:
            return
        view = opened.response["view"]
        status, body = await bot.submit_view(view, input_value("item", self.item), self.user)
        self.accepted = status == 200 and body == ""

    def _parent(self) -> dict[str, Any] | None:
        found = [m for m in self.slack.messages(CHANNEL) if key_of(m).startswith("run:")]
        for message in found:  # the parent does not name the item: its thread's locks do
            thread = self.slack.thread(CHANNEL, message["ts"])
            if any(self.item in json.dumps(m) for m in thread):
                return message
        return None

    def _thread(self) -> list[dict[str, Any]]:
        parent = self._parent()
        return self.slack.thread(CHANNEL, parent["ts"]) if parent else []

    def finished(self) -> bool:
        thread = self._thread()
        ended = [m for m in thread if key_of(m).startswith("end:")]
        locks = [m for m in thread if key_of(m).startswith("lock:")]
        parent = self._parent()
        return bool(
            ended and len(locks) == 2 and not any(has_buttons(m) for m in locks)
            and parent and "approved" in parent.get("text", "")
        )  # fmt: skip


def posted_keys(slack: FakeSlack) -> list[str]:
    """The key of every message the fake actually made (whether or not the bot heard back)."""
    return [
        str(call.args["metadata"]["event_payload"]["key"])
        for call in slack.calls_to("chat.postMessage")
        if call.response.get("ok") and call.args.get("metadata")
    ]
