"""The running bot: store, engine and Bolt app wired together, served over HTTP or Socket Mode.

This is the composition root, the one module of ``bot/`` that opens the store (and hands it to
the engine). The HTTP path is a thin adapter: verify the signature, check the payload's shape,
hand it to Bolt, translate the answer back. The scheduler fires timers and sweeps.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import inbound
from bot.directory import SlackDirectory
from bot.handlers import Handlers
from bot.notifier import SlackNotifier
from bot.scheduler import TimerScheduler
from bot.seal import Seal
from bot.settings import Settings, SettingsError
from bot.signature import Verifier
from flows import FlowApp
from flows.app import Registry
from flows.engine import Clock, Engine, EngineConfig, Store, SystemClock
from store import SQLStore
from store.database import DEFAULT_URL, BadDatabaseURL

log = logging.getLogger("lockstep")
CALL_TIMEOUT = 10.0  # seconds a Web API call may take, retries included
_READ = "socket_mode"  # Bolt's mode for a body it need not verify or parse again


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


async def open_store(url: str | None) -> SQLStore:
    """The store at ``DATABASE_URL``, or ``SettingsError``: one line naming the setting, the
    database (password hidden) and why, never a traceback."""
    try:
        return await SQLStore.open(url)
    except BadDatabaseURL as exc:
        raise SettingsError(str(exc)) from None
    except (OSError, SQLAlchemyError) as exc:
        where = make_url(url).render_as_string(hide_password=True) if url else DEFAULT_URL
        cause = getattr(exc, "orig", None) or exc
        reason = " ".join(str(cause).split()) or type(cause).__name__
        raise SettingsError(f"DATABASE_URL: cannot open {where}: {reason}") from None


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
        self.verifier = Verifier(secret.get_secret_value()) if secret else None
        self.scheduler = TimerScheduler(engine, settings.sweep_seconds)

    @classmethod
    async def create(
        cls, settings: Settings, registry: Registry, clock: Clock | None = None
    ) -> Lockstep:
        if settings.slack_bot_token is None:
            raise SettingsError("SLACK_BOT_TOKEN is missing")
        token = settings.slack_bot_token.get_secret_value()
        store = await open_store(settings.database_url)
        # One connection pool for every Web API call; no call may take longer than this.
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT))
        client = AsyncWebClient(  # for answering people: a quick retry, then a private note
            session=session,
            token=token,
            base_url=settings.slack_api_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=1),
                AsyncRateLimitErrorRetryHandler(max_retry_count=1),
                AsyncServerErrorRetryHandler(max_retry_count=1),
            ],
        )
        # The outbox retries with backoff, honouring Retry-After, and looks before it
        # re-posts; a retry inside the client would only hold a delivery up.
        deliveries = AsyncWebClient(
            session=session, token=token, base_url=settings.slack_api_url, retry_handlers=[]
        )
        secret = settings.slack_signing_secret
        bolt = AsyncApp(
            client=client,
            request_verification_enabled=False,  # the HTTP adapter verifies, once (Verifier)
            process_before_response=True,  # listeners ack, then hand slow work to tasks
        )
        clock = clock or SystemClock()
        notifier = SlackNotifier(deliveries, registry, clock)
        config = EngineConfig(default_timeout=settings.default_timeout)
        directory = SlackDirectory(client)
        engine = Engine(store, registry, notifier, clock, config, directory)
        notifier.trail = engine.trail
        # private_metadata is sealed with a key of the bot's own: the signing secret, or in
        # Socket Mode (which has none) the bot token
        handlers = Handlers(engine, Seal(secret.get_secret_value() if secret else token))
        bolt.middleware(TypedInbound())
        handlers.register(bolt)
        _follow_members(bolt, directory)
        return cls(settings, store, engine, bolt, session, handlers)

    # HTTP -----------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/slack/events", self.slack_events)
        app.router.add_get("/healthz", self.healthz)
        app.cleanup_ctx.append(self._background)
        return app

    async def slack_events(self, request: web.Request) -> web.StreamResponse:
        """Bound, verify, read the body once into a typed event, dispatch to Bolt, answer with
        Bolt's response. Whatever is not a signed request Slack could send is a 4xx."""
        raw = await _bounded_body(request)
        if raw is None:
            return web.Response(status=413, text="payload too large")
        if self.verifier is None or not self.verifier.valid(request.headers, raw, time.time()):
            return web.Response(status=401, text="invalid signature")
        try:
            event = inbound.typed(inbound.read_body(raw, request.content_type))
        except inbound.Malformed as exc:
            log.warning("refused a malformed Slack request: %s", exc)
            return web.Response(status=400, text="malformed payload")
        if isinstance(event, inbound.OtherEvent):
            return web.Response(status=200)  # an event Lockstep does not subscribe to
        # Verified and typed: Bolt gets only what it routes by, as a Socket Mode envelope.
        bolt_request = AsyncBoltRequest(
            body=inbound.for_bolt(event), headers=dict(request.headers), mode=_READ,
            context={"inbound": event},
        )  # fmt: skip
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # background -----------------------------------------------------------------------------

    async def _background(self, _app: web.Application) -> AsyncIterator[None]:
        self.scheduler.start()
        yield
        await self.close()

    async def close(self) -> None:
        self.scheduler.shutdown()
        await self.scheduler.drain()
        await self.handlers.drain()
        await self.engine.close()
        await self.store.close()
        await self.session.close()


async def _bounded_body(request: web.Request) -> bytes | None:
    """The request's body, or None if it is longer than any Slack sends."""
    if (request.content_length or 0) > inbound.MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > inbound.MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _follow_members(bolt: AsyncApp, directory: SlackDirectory) -> None:
    """Channel members join and leave: the directory's cached members follow at once (where
    the app subscribes to the events), not only when the cache expires."""

    async def changed(context: AsyncBoltContext) -> None:
        event = context.get("inbound")
        if isinstance(event, inbound.MemberEvent):
            directory.member_changed(event.channel, event.user, joined=event.joined)

    for kind in inbound.MEMBER_EVENTS:
        bolt.event(kind)(changed)


class TypedInbound(AsyncMiddleware):
    """Bolt middleware: the body as one typed event (``context["inbound"]``), or a 400. The HTTP
    adapter has typed it already; in Socket Mode this does. A class, not a function: Bolt reads
    a function middleware's arguments out of the body, which fails on exactly the malformed
    bodies this refuses."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        if "inbound" in req.context:
            return await next()
        try:
            event = req.context["inbound"] = inbound.typed(req.body)
        except inbound.Malformed as exc:
            log.warning("refused a malformed Slack request: %s", exc)
            return BoltResponse(status=400, body="malformed payload")
        if isinstance(event, inbound.OtherEvent):
            return BoltResponse(status=200, body="")
        return await next()
