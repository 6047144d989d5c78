"""A running Lockstep bot for tests: the real Bolt app served over real HTTP on a loopback port,
its Web API client pointed at ``FakeSlack``, and helpers that send correctly signed requests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.app import Lockstep
from bot.fake import limits
from bot.fake.signing import event_body, interaction_body, signed_headers, slash_command_body
from bot.fake.slack import FakeSlack
from bot.loading import load_flows
from bot.render import home
from bot.settings import Settings
from flows.engine import Clock

SECRET = "test-signing-secret"
CHANNEL = "C0CHANNEL"


def acked(body: str) -> str:
    """An ack's body, checked as Slack checks it: the view a ``response_action`` shows, the
    message a slash command answers with (Slack refuses them whole, as it refuses a call)."""
    try:
        answer = json.loads(body) if body.startswith("{") else None
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        if isinstance(answer.get("view"), dict):
            limits.check_view(answer["view"])
        if "blocks" in answer or "text" in answer:
            limits.check_message(answer)
    return body


class Bot:
    def __init__(
        self, lockstep: Lockstep | None, slack: FakeSlack, url: str, http: aiohttp.ClientSession
    ):
        self.lockstep = lockstep
        self.slack = slack
        self.url = url
        self.http = http

    async def post(
        self, body: bytes, *, secret: str = SECRET, timestamp: int | None = None, retry: int = 0
    ) -> tuple[int, str]:
        headers = signed_headers(secret, body, timestamp=timestamp)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        async with self.http.post(self.url, data=body, headers=headers) as response:
            return response.status, acked(await response.text())

    async def event(self, event: dict[str, Any]) -> tuple[int, str]:
        """An Events API callback, signed, as JSON."""
        body = event_body(event)
        headers = signed_headers(SECRET, body, content_type="application/json")
        async with self.http.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.text()

    async def open_home(self, user: str) -> tuple[int, str]:
        """``user`` opens the bot's Home tab."""
        event = {"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home"}
        return await self.event(event | {"event_ts": f"{time.time():.6f}"})

    async def shortcut(self, callback_id: str, user: str) -> tuple[int, str]:
        """``user`` picks a global shortcut."""
        payload = {
            "type": "shortcut",
            "token": "unused-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": "T0001", "domain": "test"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
            "callback_id": callback_id,
            "trigger_id": f"trigger-{time.monotonic_ns()}",
        }
        return await self.post(interaction_body(payload))

    async def click_view(
        self, view: dict[str, Any], action: str, value: str, user: str
    ) -> tuple[int, str]:
        """``user`` clicks the button ``action`` (with ``value``) in a view (their Home)."""
        button = next(
            e
            for b in view["blocks"]
            for e in [*b.get("elements", []), b.get("accessory") or {}]
            if e.get("action_id") == action and e.get("value") == value
        )
        payload = {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "trigger_id": f"trigger-{time.monotonic_ns()}",
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [{**button, "block_id": "home"}],
        }
        return await self.post(interaction_body(payload))

    async def command(
        self, text: str, user: str = "UALICE", channel: str = CHANNEL
    ) -> tuple[int, str]:
        body = slash_command_body(
            "/flow", text, user_id=user, channel_id=channel, response_url=self.slack.response_url()
        )
        return await self.post(body)

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], user: str
    ) -> tuple[int, str]:
        payload = {
            "type": "view_submission",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "view": {**view, "state": {"values": values}},
        }
        return await self.post(interaction_body(payload))

    async def click(
        self,
        message: dict[str, Any],
        action: str,
        user: str,
        values: dict[str, Any] | None = None,
        retry: int = 0,
        trigger: str | None = None,
    ) -> tuple[int, str]:
        """``user`` clicks ``action`` on ``message``; the same ``trigger`` again is the same
        click sent again (as a replayed request)."""
        button = next(
            e
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action
        )
        payload = {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "trigger_id": trigger or f"trigger-{time.monotonic_ns()}",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL},
            "channel": {"id": CHANNEL},
            "message": message,
            "state": {"values": values or {}},
            "actions": [{**button, "block_id": "lock_actions"}],
        }
        return await self.post(interaction_body(payload), retry=retry)


def settings(slack: FakeSlack, database_url: str, **extra: Any) -> Settings:
    return Settings(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=database_url,
        **extra,
    )


EXAMPLES = "flows.examples.review,flows.examples.deploy,tests.slack_flows"


@asynccontextmanager
async def running_bot(
    database_url: str, clock: Clock | None = None, flows: str = EXAMPLES, more_flows: str = ""
) -> AsyncIterator[Bot]:
    """``flows``: the modules of flows to load; ``more_flows``: more besides (comma-separated)."""
    people = ["UALICE", "UBOB", "UCAROL", "UGROUPIE"]
    async with FakeSlack(members={CHANNEL: people}, usergroups={"SREVIEW": ["UGROUPIE"]}) as slack:
        flows += f",{more_flows}" if more_flows else ""
        config = settings(slack, database_url, LOCKSTEP_SWEEP_SECONDS=3600, LOCKSTEP_FLOWS=flows)
        lockstep = await Lockstep.create(config, load_flows(config.flows), clock)
        server = TestServer(lockstep.web_app(), host="127.0.0.1", port=0)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                yield Bot(lockstep, slack, str(server.make_url("/slack/events")), http)
        finally:
            await server.close()


def assert_valid_surfaces(slack: FakeSlack) -> int:
    """Every message and view the bot sent is valid Block Kit, within Slack's block limits."""
    checked = 0
    for call in slack.calls:
        if "blocks" in call.args:
            blocks = call.args["blocks"]
            assert len(blocks) <= 50, call.method
            for block in blocks:
                parsed = Block.parse(block)
                assert parsed is not None and parsed.to_dict() == block, block
            checked += 1
        if "view" in call.args:
            view = call.args["view"]
            assert len(view["blocks"]) <= 100
            assert View(**view).to_dict() == {k: v for k, v in view.items() if v != ""}
            checked += 1
    return checked


async def start_without_form(bot: Bot, flow: str, failures: int = 0) -> dict[str, Any]:
    """Start a flow that has no entry form; return its first lock message."""
    before = len(bot.slack.calls_to("chat.postMessage"))
    assert (await bot.command(f"start {flow}"))[0] == 200
    await bot.slack.wait_for("chat.postMessage", count=before + 2 + failures)
    parent = bot.slack.messages(CHANNEL)[-1]
    return next(m for m in bot.slack.thread(CHANNEL, parent["ts"]) if m["ts"] != parent["ts"])


def chosen(flow: str | None, channel: str | None) -> dict[str, Any]:
    """The Home chooser's state: ``flow`` picked (None: no choice) to run in ``channel``."""
    option = {"value": flow} if flow else None
    return {
        home.CHOOSE_FLOW: {home.CHOOSE_FLOW: {"type": "static_select", "selected_option": option}},
        home.CHOOSE_CHANNEL: {
            home.CHOOSE_CHANNEL: {"type": "conversations_select", "selected_conversation": channel}
        },
    }


def input_value(name: str, value: str) -> dict[str, Any]:
    return {f"f_{name}": {name: {"type": "plain_text_input", "value": value}}}


def checked(name: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": name}, "value": "on"}
    return {f"f_{name}": {name: {"type": "checkboxes", "selected_options": [option]}}}


def fields(message: dict[str, Any]) -> dict[str, str]:
    """A message's labelled fields (sections of label and value, two columns), as the label's
    words to the value's text; ``message``: a posted message or a call's arguments."""
    found: dict[str, str] = {}
    for block in message.get("blocks") or []:
        cells = block.get("fields") or []
        for label, value in zip(cells[::2], cells[1::2], strict=True):
            found[label["text"].strip("*")] = value["text"]
    return found


def dumps(value: Any) -> str:
    return json.dumps(value)
