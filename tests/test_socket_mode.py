"""Socket Mode end to end: ``python -m bot`` with an app-level token connects to the fake
Slack's Socket Mode endpoint; a deploy approval runs from slash command to result over the
WebSocket, each envelope acknowledged (with the command's answer riding on the ack)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Lockstep
from bot.fake.slack import FakeSlack
from bot.loading import load_flows
from bot.settings import Settings
from bot.socketmode import TypedSocketMode
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
    # the click decided before its ack, and the same click again at once (a replay): each
    # acked in Slack's three seconds, decided once; the replay, held already, changes nothing
    began = time.monotonic()
    assert await asyncio.gather(
        slack.socket_mode.send("interactive", click), slack.socket_mode.send("interactive", click)
    ) == [{}, {}]
    assert time.monotonic() - began < 3
    done = await slack.wait_for("chat.postMessage", count=4)  # + "Deploying…", the result
    assert done[-1].args["text"].startswith("✅ *Approved* by <@UBOB> · <!date^")
    assert fields(done[-1].args) == {"Deployed": "Yes"}
    decided = [c.args for c in slack.calls_to("chat.update") if c.args["ts"] == lock["ts"]]
    assert fields(decided[-1]) == {"Comment": "ship it"}  # the answer, on the approval itself
    await asyncio.sleep(0.5)
    assert sum(c.args["text"].startswith("✅") for c in slack.calls_to("chat.postMessage")) == 1
    assert not slack.calls_to("chat.postEphemeral")


async def test_an_envelope_slack_would_not_send_is_acknowledged_and_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As over HTTP, Bolt sees only a body rebuilt from the typed event: a payload of a shape
    Slack never sends is one warning and an ack, not a traceback from inside Bolt and an
    envelope left unacknowledged (which Slack sends again)."""
    async with FakeSlack(members={CHANNEL: ["UALICE"]}) as fake:
        config = Settings(
            SLACK_BOT_TOKEN="xoxb-socket-test", SLACK_APP_TOKEN="xapp-socket-test",
            SLACK_API_URL=fake.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'socket.db'}",
            LOCKSTEP_SWEEP_SECONDS=3600,
        )  # fmt: skip
        lockstep = await Lockstep.create(config, load_flows(config.flows))
        handler = TypedSocketMode(lockstep.bolt, "xapp-socket-test")
        await handler.connect_async()  # type: ignore[no-untyped-call]
        caplog.set_level(logging.INFO)
        try:
            untyped = {"id": "V1", "callback_id": "lockstep_lock", "private_metadata": "x"}
            submission = {"type": "view_submission", "team": {"id": "T0001"},
                          "user": {"id": "UALICE"}, "view": untyped}  # fmt: skip
            answer = await fake.socket_mode.send("interactive", submission)
            assert answer["response_action"] == "update"  # "not one Lockstep opened"
            odd = {"type": "block_actions", "user": 5.0, "actions": []}
            assert await fake.socket_mode.send("interactive", odd) == {}
            listed = await fake.socket_mode.send("slash_commands", command(fake, "list", "UALICE"))
            assert "`deploy`" in listed["text"]  # and it goes on serving
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await lockstep.close()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    assert "refused a malformed Slack request: payload has no actions" in caplog.messages


async def test_envelopes_no_one_takes_are_one_line_a_minute_over_socket_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As over HTTP: malformed envelopes and requests no listener takes are refusals, one line
    at once and then one a minute at most for each kind, and nothing more per envelope."""
    async with FakeSlack(members={CHANNEL: ["UALICE"]}) as fake:
        config = Settings(
            SLACK_BOT_TOKEN="xoxb-socket-test", SLACK_APP_TOKEN="xapp-socket-test",
            SLACK_API_URL=fake.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'socket.db'}",
            LOCKSTEP_SWEEP_SECONDS=3600,
        )  # fmt: skip
        lockstep = await Lockstep.create(config, load_flows(config.flows))
        handler = TypedSocketMode(lockstep.bolt, "xapp-socket-test", refusals=lockstep.refusals)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        caplog.set_level(logging.INFO)
        try:
            for _ in range(3):
                assert await fake.socket_mode.send("interactive", {"type": "view_closed"}) == {}
            button = {"action_id": "old_button", "value": "x"}
            old = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UALICE"},
                   "trigger_id": "t", "actions": [button]}  # fmt: skip
            for _ in range(3):
                with pytest.raises(TimeoutError):  # unanswered, as over HTTP (404)
                    await asyncio.wait_for(fake.socket_mode.send("interactive", old), 0.5)
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await lockstep.close()
    said = [r.getMessage() for r in caplog.records if r.name.startswith("lockstep")]
    assert [s for s in said if "request" in s] == [
        "refused a malformed Slack request: a kind of request Lockstep does not take",
        "refused a Slack request no listener takes: block_actions",
    ]


async def test_an_envelope_whose_payload_is_no_object_is_acknowledged_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """slack_sdk raises on an envelope whose payload is a list, a number or null, and on a frame
    that opens as JSON but is not: a traceback each, and the envelope left unacknowledged (sent
    again). Each is a refusal like any malformed payload: acknowledged, one line."""
    async with FakeSlack(members={CHANNEL: ["UALICE"]}) as fake:
        config = Settings(
            SLACK_BOT_TOKEN="xoxb-socket-test", SLACK_APP_TOKEN="xapp-socket-test",
            SLACK_API_URL=fake.api_url, DATABASE_URL=f"sqlite:///{tmp_path / 'socket.db'}",
            LOCKSTEP_SWEEP_SECONDS=3600,
        )  # fmt: skip
        lockstep = await Lockstep.create(config, load_flows(config.flows))
        handler = TypedSocketMode(lockstep.bolt, "xapp-socket-test", refusals=lockstep.refusals)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        caplog.set_level(logging.INFO)
        try:
            for payload in ([1, 2], 5, None, True):
                assert await fake.socket_mode.send("interactive", payload) == {}  # type: ignore[arg-type]
            await fake.socket_mode.send_text('{"envelope_id": "env-x", "payload": ')
            await fake.socket_mode.send_text('{"a": ' * 100_000)
            listed = await fake.socket_mode.send("slash_commands", command(fake, "list", "UALICE"))
            assert "`deploy`" in listed["text"]  # and it goes on serving
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await lockstep.close()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    said = [r.getMessage() for r in caplog.records if "request" in r.getMessage()]
    assert said == ["refused a malformed Slack request: the envelope's payload is not an object"]
