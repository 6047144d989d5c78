"""``python -m bot``: run Lockstep in its mode (``LOCKSTEP_MODE``, or as the credentials say):
HTTP on $PORT, Socket Mode with SLACK_APP_TOKEN, or local mode, with a page standing in for
Slack, when no Slack credentials are set.

``python -m bot migrate [REVISION]``: move the store's schema to the newest migration (or to
REVISION, up or down) and exit, for a release phase or a rollback; it needs only
``DATABASE_URL``."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from typing import assert_never

from aiohttp import web

from bot import credentials, logs
from bot.app import Lockstep
from bot.loading import load_flows, migrate_store
from bot.settings import Settings, SettingsError, load, load_store
from flows.app import Registry

USAGE = "usage: python -m bot [migrate [REVISION]]"
log = logging.getLogger("lockstep")


async def http_app(settings: Settings, registry: Registry) -> web.Application:
    lockstep = await Lockstep.create(settings, registry)  # the store first: it is ours
    await _checked(lockstep, settings)
    return lockstep.web_app()


async def _checked(lockstep: Lockstep, settings: Settings) -> None:
    """The tokens, asked of Slack (``bot.credentials``); one refused closes ``lockstep``."""
    try:
        await credentials.check(settings)
    except SettingsError:
        await lockstep.close()
        raise


async def socket_mode(settings: Settings, registry: Registry, app_token: str) -> None:
    """Until SIGTERM or SIGINT; then the connection closes (no new work) and what is under way
    gets ``LOCKSTEP_SHUTDOWN_SECONDS`` to finish."""
    from bot.socketmode import TypedSocketMode

    lockstep = await Lockstep.create(settings, registry)
    await _checked(lockstep, settings)
    handler = TypedSocketMode(lockstep.bolt, app_token, refusals=lockstep.refusals)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    lockstep.scheduler.start()
    connecting = asyncio.ensure_future(handler.connect_async())  # type: ignore[no-untyped-call]
    stopping = asyncio.ensure_future(stop.wait())
    try:  # a connection Slack keeps refusing is retried until it opens, or until told to stop
        await asyncio.wait((connecting, stopping), return_when=asyncio.FIRST_COMPLETED)
        if connecting.done():
            connecting.result()
            log.info("Lockstep is connected to Slack over Socket Mode")
            await stopping
        lockstep.stop()
    finally:
        for waiting in (connecting, stopping):
            waiting.cancel()
        await handler.close_async()  # type: ignore[no-untyped-call]
        await lockstep.close()


def _unlistenable(settings: Settings, exc: OSError) -> Exception:
    """Why HTTP mode cannot listen, as the setting to change (else ``exc`` itself)."""
    where = f"{settings.host or 'every address'}, port {settings.port}"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        why = exc.strerror or os.strerror(exc.errno or 0)
        return SettingsError(f"LOCKSTEP_HOST: cannot listen on {where}: {why}")
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        return SettingsError(f"PORT: cannot listen on {where}: {os.strerror(exc.errno)}")
    return exc


def main(argv: list[str] | None = None) -> None:
    """Run the bot in its mode, or a command. Whatever stops start-up for want of a good
    setting (including a database that cannot be opened) is one line on stderr naming it, and
    exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        match args:
            case []:
                settings = load()
                configure_logs(settings)
                run(settings)
            case ["migrate", *rest] if len(rest) <= 1:
                settings = load_store()
                configure_logs(settings)
                migrate(settings, rest[0] if rest else "head")
            case _:
                print(USAGE, file=sys.stderr)
                raise SystemExit(2)
    except SettingsError as exc:
        print(f"lockstep: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def configure_logs(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format, settings.secrets())


def migrate(settings: Settings, target: str) -> None:
    before, after = asyncio.run(migrate_store(settings.database_url, target))
    if before == after:
        print(f"lockstep: the store is at {after or 'no revision'}; nothing to do", flush=True)
    else:
        print(f"lockstep: the store went from {before or 'nothing'} to {after}", flush=True)


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
            app = http_app(settings, registry)
            try:
                web.run_app(
                    app, host=settings.host, port=settings.port, print=log.info,
                    access_log=None, shutdown_timeout=settings.shutdown_seconds,
                )  # fmt: skip
            except OSError as exc:
                raise _unlistenable(settings, exc) from None
        case _:
            assert_never(settings.mode)


if __name__ == "__main__":
    main()
