"""The running bot: store, engine and Bolt app wired together, served over HTTP or Socket Mode.

The HTTP path is a thin adapter: verify the signature, check the payload's shape, hand it to
Bolt, translate the answer back. The scheduler sweeps periodically: due timers, orphaned runs,
and locks whose message never made it to Slack (the outbox).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.directory import SlackDirectory
from bot.handlers import Handlers
from bot.notifier import SlackNotifier
from bot.scheduler import TimerScheduler
from bot.settings import Settings, SettingsError
from flows import Engine, EngineConfig, FlowApp, Registry
from flows.clock import Clock, SystemClock
from store import Store

log = logging.getLogger("lockstep")
OUTBOX_GRACE = 10.0  # seconds a lock may take to be posted before the sweep posts it


def load_flows(modules: list[str]) -> Registry:
    apps = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise SettingsError(f"LOCKSTEP_FLOWS: cannot import {name}: {exc}") from None
        found = [v for v in vars(module).values() if isinstance(v, FlowApp)]
        if not found:
            raise SettingsError(f"LOCKSTEP_FLOWS: {name} defines no FlowApp")
        apps.extend(found)
    return Registry(apps)


class Lockstep:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine: Engine,
        bolt: AsyncApp,
        session: aiohttp.ClientSession,
        handlers: Handlers,
    ) -> None:
        self.session = session
        self.handlers = handlers
        self.settings = settings
        self.store = store
        self.engine = engine
        self.bolt = bolt
        secret = settings.slack_signing_secret
        self.verifier = SignatureVerifier(secret.get_secret_value()) if secret else None
        self.scheduler = TimerScheduler(engine, self.sweep, settings.sweep_seconds)

    @classmethod
    async def create(
        cls, settings: Settings, registry: Registry, clock: Clock | None = None
    ) -> Lockstep:
        if settings.slack_bot_token is None:
            raise SettingsError("SLACK_BOT_TOKEN is missing")
        token = settings.slack_bot_token.get_secret_value()
        store = await Store.open(settings.database_url)
        session = aiohttp.ClientSession()  # one connection pool for every Web API call
        client = AsyncWebClient(
            session=session,
            token=token,
            base_url=settings.slack_api_url,
            retry_handlers=[
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                AsyncServerErrorRetryHandler(max_retry_count=2),
            ],
        )
        secret = settings.slack_signing_secret
        bolt = AsyncApp(
            client=client,
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=settings.slack_app_token is None,
            process_before_response=True,  # listeners ack, then hand slow work to tasks
        )
        clock = clock or SystemClock()
        notifier = SlackNotifier(client, store, registry, clock)
        config = EngineConfig(default_timeout=settings.default_timeout)
        engine = Engine(store, registry, notifier, clock, config, SlackDirectory(client))
        handlers = Handlers(engine)
        handlers.register(bolt)
        return cls(settings, store, engine, bolt, session, handlers)

    # HTTP -----------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/slack/events", self.slack_events)
        app.router.add_get("/healthz", self.healthz)
        app.cleanup_ctx.append(self._background)
        return app

    async def slack_events(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.verifier is None or not self.verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        problem = _malformed(body, request.content_type)
        if problem:
            log.warning("refused a malformed Slack request: %s", problem)
            return web.Response(status=400, text="malformed payload")
        response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # background -----------------------------------------------------------------------------

    async def _background(self, _app: web.Application) -> AsyncIterator[None]:
        self.scheduler.start()
        yield
        await self.close()

    async def sweep(self, outbox_grace: float = OUTBOX_GRACE) -> None:
        await self.engine.sweep()
        now = self.engine.clock.now()
        for lock in await self.store.unposted_locks(created_before=now - outbox_grace):
            execution = await self.store.execution(lock.execution_id)
            if execution is not None:
                await self.engine.announce("lock_opened", execution, lock)

    async def close(self) -> None:
        self.scheduler.shutdown()
        await self.handlers.drain()
        await self.engine.close()
        await self.store.close()
        await self.session.close()


def _malformed(body: bytes, content_type: str) -> str | None:
    """Why a signed request cannot be a Slack command or interaction, or None."""
    if content_type != "application/x-www-form-urlencoded":
        return None if content_type == "application/json" else f"content type {content_type}"
    form = parse_qs(body.decode("utf-8", "replace"))
    if "payload" not in form:
        return None if "command" in form else "neither a command nor a payload"
    try:
        payload = json.loads(form["payload"][0])
    except ValueError:
        return "payload is not JSON"
    if not isinstance(payload, dict):
        return "payload is not an object"
    try:
        if payload.get("type") == "block_actions":
            inbound.button_click(payload)
        elif payload.get("type") == "view_submission":
            inbound.view_submit(payload)
    except ValueError as exc:
        return str(exc)
    return None
