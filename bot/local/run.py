"""Local mode: the real bot, a fake Slack for its Web API, and the page, on loopback.

A signing secret and a bot token are made up for this process and never shown: the page signs
what it sends with the one, the bot presents the other to the fake.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from bot.app import Lockstep
from bot.fake.slack import FakeSlack
from bot.local.standin import StandIn
from bot.local.web import LocalPage
from bot.local.workspace import Workspace
from bot.settings import Settings, SettingsError
from flows.app import Registry

HOST = "127.0.0.1"  # loopback only: the page acts as anyone in the pretend workspace
SHUTDOWN_GRACE = 5.0  # seconds open requests get when the bot stops


@dataclass(frozen=True)
class LocalBot:
    url: str  # the page
    slack: FakeSlack
    lockstep: Lockstep
    standin: StandIn


@asynccontextmanager
async def local_bot(
    settings: Settings, registry: Registry, workspace: Workspace | None = None
) -> AsyncIterator[LocalBot]:
    """The bot in local mode, serving on ``127.0.0.1:$PORT`` (0: a free port) until the block
    ends. ``SettingsError`` if the port cannot be had."""
    workspace = workspace or Workspace()
    secret = secrets.token_urlsafe(32)
    token = "xoxb-local-" + secrets.token_hex(24)
    async with FakeSlack(members=workspace.members, users=workspace.names) as slack:
        config = settings.model_copy(
            update={
                "slack_bot_token": SecretStr(token),
                "slack_signing_secret": SecretStr(secret),
                "slack_api_url": slack.api_url,
                "database_url": settings.store_url,
            }
        )
        lockstep = await Lockstep.create(config, registry)
        await lockstep.reshow()  # the fake Slack starts empty: show what is open again
        standin = StandIn(slack, workspace, secret)
        app = lockstep.web_app()
        LocalPage(standin).attach(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, HOST, settings.port).start()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise SettingsError(
                    f"PORT {settings.port}: cannot listen on {HOST}: {reason}"
                ) from None
            port = runner.addresses[0][1]
            standin.events_url = f"http://{HOST}:{port}/slack/events"
            await standin.start()
            yield LocalBot(f"http://{HOST}:{port}/", slack, lockstep, standin)
        finally:
            await runner.cleanup()


async def serve(
    settings: Settings, registry: Registry, announce: Callable[[str], None] = print
) -> None:
    """Run until SIGINT or SIGTERM, after announcing the page's address in one line."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a sweep every 5 s is noise here
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with local_bot(settings, registry) as bot:
        announce(f"Lockstep runs in local mode, no Slack needed: open {bot.url}")
        await stop.wait()
