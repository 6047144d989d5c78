"""Socket Mode end to end: ``python -m bot`` with an app-level token connects to the fake
Slack's Socket Mode endpoint; a deploy approval runs from slash command to result over the
WebSocket, each envelope acknowledged (with the command's answer riding on the ack)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.fake.slack import FakeSlack
from tests.slackbot import CHANNEL, fields, input_value

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(members={CHANNEL: ["UALICE", "UBOB"]}) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
        env |= {
            "SLACK_BOT_TOKEN": "xoxb-socket-test",
            "SLACK_APP_TOKEN": "xapp-socket-test",
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'socket.db'}",
            "PYTHONPATH": str(ROOT),
        }
        with (tmp_path / "bot.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", cwd=ROOT, env=env, stdout=log, stderr=log
            )
            try:
                yield fake
            finally:
                proc.terminate()
                await proc.wait()


def command(fake: FakeSlack, text: str, user: str) -> dict[str, Any]:
    return {
        "token": "unused-in-socket-mode", "team_id": "T0001", "channel_id": CHANNEL,
        "user_id": user, "command": "/flow", "text": text, "api_app_id": "A0001",
        "response_url": fake.response_url(), "trigger_id": f"trigger-{time.monotonic_ns()}",
    }  # fmt: skip


async def test_a_deploy_approval_over_socket_mode(slack: FakeSlack) -> None:
    listed = await slack.socket_mode.send("slash_commands", command(slack, "list", "UALICE"), 30)
    assert "`deploy`: Deploy approval" in listed["text"]

    await slack.socket_mode.send("slash_commands", command(slack, "start deploy", "UALICE"))
    [opened] = await slack.wait_for("views.open")
    view = opened.response["view"]
    values = input_value("service", "api") | input_value("version", "1.2.3")
    submission = {
        "type": "view_submission", "team": {"id": "T0001"}, "user": {"id": "UALICE"},
        "api_app_id": "A0001", "view": view | {"state": {"values": values}},
    }  # fmt: skip
    assert await slack.socket_mode.send("interactive", submission) == {}

    posted = await slack.wait_for("chat.postMessage", count=2)  # the parent, the approval
    lock = posted[-1].response["message"]
    approve = next(b for b in lock["blocks"] if b["type"] == "actions")["elements"][0]
    click = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
        "api_app_id": "A0001", "trigger_id": f"trigger-{time.monotonic_ns()}",
        "container": {"type": "message", "message_ts": lock["ts"], "channel_id": CHANNEL},
        "channel": {"id": CHANNEL}, "message": lock,
        "state": {"values": input_value("comment", "ship it")},
        "actions": [{**approve, "block_id": "lock_actions"}],
    }  # fmt: skip
    await slack.socket_mode.send("interactive", click)
    done = await slack.wait_for("chat.postMessage", count=4)  # + "Deploying…", the result
    assert done[-1].args["text"].startswith("✅ *Approved* by <@UBOB> · <!date^")
    assert fields(done[-1].args) == {"Deployed": "Yes"}
    decided = [c.args for c in slack.calls_to("chat.update") if c.args["ts"] == lock["ts"]]
    assert fields(decided[-1]) == {"Comment": "ship it"}  # the answer, on the approval itself
