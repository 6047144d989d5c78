"""A Lockstep bot installed to many workspaces through OAuth, for tests: the real bot over real
HTTP, FakeSlack as Slack (its authorize page, ``oauth.v2.access``, a bot token per install),
and helpers that send signed requests from a given workspace."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestServer

from bot.app import Lockstep
from bot.fake.signing import interaction_body, signed_headers, slash_command_body
from bot.fake.slack import FakeSlack
from bot.loading import load_flows
from bot.settings import Settings
from flows.engine import Clock
from tests.slackbot import EXAMPLES, SECRET

ALPHA, BETA = "TALPHA", "TBETA"
CHANNELS = {ALPHA: "CALPHA", BETA: "CBETA"}
PEOPLE = {ALPHA: ["UANN", "UAMOS", "USHARED"], BETA: ["UBEA", "UBEN", "USHARED"]}


class Workspaces:
    """The bot, FakeSlack, and requests as each workspace sends them."""

    def __init__(
        self, lockstep: Lockstep, slack: FakeSlack, server: TestServer, http: aiohttp.ClientSession
    ) -> None:
        self.lockstep, self.slack, self.server, self.http = lockstep, slack, server, http

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def install(self, team: str) -> str:
        """Install the app to ``team`` as a person would: the install page, Slack's authorize
        page (approved at once), back to the redirect URL with the state cookie. Returns the
        page the bot shows at the end."""
        async with self.http.get(self.url("/slack/install")) as page:
            assert page.status == 200, await page.text()
            link = re.search(r'<a href="([^"]+)"', await page.text())
            cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        assert link is not None
        authorize = html.unescape(link.group(1))
        assert urlsplit(authorize).path == "/oauth/v2/authorize"
        async with self.http.get(f"{authorize}&team={team}", allow_redirects=False) as slack:
            assert slack.status == 302, await slack.text()
            back = slack.headers["Location"]
        async with self.http.get(back, headers={"Cookie": cookie}) as done:
            text = await done.text()
            assert done.status == 200, text
            return text

    async def post(self, body: bytes, content_type: str | None = None) -> tuple[int, str]:
        headers = signed_headers(SECRET, body)
        if content_type:
            headers["Content-Type"] = content_type
        async with self.http.post(self.url("/slack/events"), data=body, headers=headers) as r:
            return r.status, await r.text()

    async def command(self, team: str, text: str, user: str) -> tuple[int, str]:
        body = slash_command_body(
            "/flow", text, user_id=user, channel_id=CHANNELS[team], team_id=team,
            response_url=self.slack.response_url(),
        )  # fmt: skip
        return await self.post(body)

    async def click(
        self,
        team: str,
        message: dict[str, Any],
        action: str,
        user: str,
        channel: str | None = None,
    ) -> tuple[int, str]:
        """Click ``action`` on ``message`` (in ``channel``, its workspace's by default)."""
        button = next(
            e
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action
        )
        where = channel or CHANNELS[team]
        payload = {
            "type": "block_actions", "team": {"id": team, "domain": team.lower()},
            "user": {"id": user, "team_id": team}, "api_app_id": "A0001",
            "trigger_id": f"trigger-{time.monotonic_ns()}",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": where},
            "channel": {"id": where}, "message": message, "state": {"values": {}},
            "actions": [{**button, "block_id": "lock_actions"}],
        }  # fmt: skip
        return await self.post(interaction_body(payload))

    async def submit_view(self, team: str, view: dict[str, Any], user: str) -> tuple[int, str]:
        payload = {
            "type": "view_submission", "team": {"id": team}, "user": {"id": user},
            "api_app_id": "A0001", "view": view,
        }  # fmt: skip
        return await self.post(interaction_body(payload))

    async def event(self, team: str, event: dict[str, Any]) -> tuple[int, str]:
        body = {"type": "event_callback", "team_id": team, "api_app_id": "A0001", "event": event}
        return await self.post(json.dumps(body).encode(), "application/json")

    def tokens(self, team: str) -> list[str]:
        return self.slack.oauth.tokens_of(team)

    def calls_in(self, channel: str) -> list[Any]:
        """Every call about ``channel`` (posting, updating, reading members, ...)."""
        return [c for c in self.slack.calls if c.args.get("channel") == channel]


@asynccontextmanager
async def installed_bot(
    database_url: str, clock: Clock | None = None, **extra: Any
) -> AsyncIterator[Workspaces]:
    """The bot in OAuth mode, both workspaces known to Slack, none installed yet."""
    members = {CHANNELS[t]: people for t, people in PEOPLE.items()}
    async with FakeSlack(members=members) as slack:
        slack.oauth.add(ALPHA, "Alpha")
        slack.oauth.add(BETA, "Beta")
        config = Settings(
            LOCKSTEP_MODE="http",
            SLACK_CLIENT_ID=slack.oauth.client_id,
            SLACK_CLIENT_SECRET=slack.oauth.client_secret,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
            DATABASE_URL=database_url,
            LOCKSTEP_SWEEP_SECONDS=3600,
            LOCKSTEP_FLOWS=EXAMPLES,
            **extra,
        )
        config.check()
        lockstep = await Lockstep.create(config, load_flows(config.flows), clock)
        server = TestServer(lockstep.web_app(), host="127.0.0.1", port=0)
        await server.start_server()
        slack.oauth.redirect_url = str(server.make_url("/slack/oauth_redirect"))
        try:
            async with aiohttp.ClientSession() as http:
                yield Workspaces(lockstep, slack, server, http)
        finally:
            await server.close()
