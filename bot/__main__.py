"""``python -m bot``: run Lockstep in its mode (``LOCKSTEP_MODE``, or as the credentials say):
HTTP on $PORT, Socket Mode with SLACK_APP_TOKEN, or local mode, with a page standing in for
Slack, when no Slack credentials are set."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import assert_never

from aiohttp import web

from bot.app import Lockstep, load_flows
from bot.settings import Settings, SettingsError, load
from flows.app import Registry


async def http_app(settings: Settings, registry: Registry) -> web.Application:
    lockstep = await Lockstep.create(settings, registry)
    return lockstep.web_app()


async def socket_mode(settings: Settings, registry: Registry, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    lockstep = await Lockstep.create(settings, registry)
    handler = AsyncSocketModeHandler(lockstep.bolt, app_token)
    lockstep.scheduler.start()
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await lockstep.close()


def main() -> None:
    """Run the bot in its mode. Whatever stops start-up for want of a good setting (including
    a database that cannot be opened) is one line on stderr naming it, and exit status 2."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run(load())
    except SettingsError as exc:
        print(f"lockstep: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run(settings: Settings) -> None:
    registry = load_flows(settings.flows)
    match settings.mode:
        case "local":
            from bot.local.run import serve

            asyncio.run(serve(settings, registry, lambda line: print(line, flush=True)))
        case "socket":
            assert settings.slack_app_token is not None  # Settings.check
            token = settings.slack_app_token.get_secret_value()
            asyncio.run(socket_mode(settings, registry, token))
        case "http":
            announce = logging.getLogger("lockstep").info
            app = http_app(settings, registry)
            web.run_app(app, port=settings.port, print=announce, access_log=None)
        case _:
            assert_never(settings.mode)


if __name__ == "__main__":
    main()
