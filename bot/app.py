"""The running bot: store, engine and Bolt app wired together, served over HTTP or Socket Mode.

This is the composition root: with ``bot.loading`` (which opens the flows and the store the
settings name), the only part of ``bot/`` that touches the store, which it hands to the engine.
The HTTP path is a thin adapter: verify the signature, check the payload's shape, hand it to
Bolt, translate the answer back. The scheduler fires timers and sweeps. Health, metrics and
logs are built in their own modules (``health``, ``metrics``, ``logs``) and mounted here;
SIGTERM stops the work in a bounded time (``Lockstep.stop``, then ``close``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.logger import get_bolt_logger
from slack_bolt.middleware.authorization.async_multi_teams_authorization import (
    AsyncMultiTeamsAuthorization,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot import fields, inbound, installs, logs, middleware
from bot.api import Feed, TokenDirectory, mount
from bot.directory import ARRIVED, AckBudget, SlackDirectory
from bot.files import SlackFiles
from bot.handlers import Handlers
from bot.health import Readiness, alive
from bot.home import HomeHandlers, HomeReader
from bot.loading import open_store
from bot.metrics import Metrics, SlackKind
from bot.notifier import SlackNotifier
from bot.permalinks import Permalinks
from bot.render import messages
from bot.scheduler import TimerScheduler
from bot.seal import Seal
from bot.settings import Settings, SettingsError
from bot.signature import Verifier
from bot.webhooks import Routed, WebhookSender
from bot.workspaces import Workspaces, stores
from flows.app import Registry
from flows.engine import Clock, Engine, EngineConfig, Store, SystemClock
from store import SQLStore

log = logging.getLogger("lockstep")
_READ = "socket_mode"  # Bolt's mode for a body it need not verify or parse again
CLIENTS_KEPT = 256  # Web API clients kept, one per bot token (a workspace each)


class Lockstep:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine: Engine,
        bolt: AsyncApp,
        session: aiohttp.ClientSession,
        handlers: Handlers,
        metrics: Metrics | None = None,
        links: Permalinks | None = None,
        refusals: logs.Refusals | None = None,
    ) -> None:
        self.session = session
        self.metrics = metrics
        self.links = links
        self.feed = Feed()  # readers of runs' event streams, woken by the engine's changes
        engine.on_change = self.feed.changed
        self.handlers = handlers
        self.settings = settings
        self.store = store
        self.engine = engine
        self.bolt = bolt
        secret = settings.slack_signing_secret
        self.verifier = Verifier(secret.get_secret_value()) if secret else None
        self.scheduler = TimerScheduler(engine, settings.sweep_seconds)
        self.readiness = Readiness(engine, self.scheduler, settings.ready_lag)
        self._stop_by: float | None = None  # loop time by which shutdown must be done
        self.refusals = refusals or logs.Refusals(log)  # bad requests: a line a minute at most

    @classmethod
    async def create(
        cls, settings: Settings, registry: Registry, clock: Clock | None = None
    ) -> Lockstep:
        if settings.slack_bot_token is None and not settings.oauth:
            raise SettingsError("SLACK_BOT_TOKEN is missing")
        bot_token = settings.slack_bot_token
        token = bot_token.get_secret_value() if bot_token else None  # None: each install's
        store = await open_store(settings.database_url)
        metrics = None
        if settings.metrics:
            bearer = settings.metrics_token
            metrics = Metrics(bearer.get_secret_value() if bearer else None)
        # Every call of every client is counted (first), when metrics are on.
        meter: list[AsyncRetryHandler] = []
        if metrics:
            meter.append(metrics.slack_meter(settings.slack_api_url))
        # One connection pool for every Web API call; no call may take longer than this.
        timeout = aiohttp.ClientTimeout(total=settings.slack_timeout)
        session = aiohttp.ClientSession(timeout=timeout)
        client = AsyncWebClient(  # for answering people: a quick retry, then a private note
            session=session,
            token=token,
            base_url=settings.slack_api_url,
            retry_handlers=[
                *meter,
                AsyncConnectionErrorRetryHandler(max_retry_count=1),
                AsyncRateLimitErrorRetryHandler(max_retry_count=1),
                AsyncServerErrorRetryHandler(max_retry_count=1),
            ],
        )

        # The outbox retries with backoff, honouring Retry-After, and looks before it
        # re-posts; a retry inside the client would only hold a delivery up. One client per
        # token, made once (making one reads the environment for proxies).
        @functools.lru_cache(maxsize=CLIENTS_KEPT)
        def speaking(with_token: str | None) -> AsyncWebClient:
            url = settings.slack_api_url
            return AsyncWebClient(session=session, token=with_token, base_url=url,
                                  retry_handlers=[*meter])  # fmt: skip

        secret = settings.slack_signing_secret
        oauth = None
        refusals = logs.Refusals(log)
        if token is not None:  # one workspace, one token
            workspaces = Workspaces(speaking, token=token)
        else:  # installs through OAuth: each workspace's token in Lockstep's database
            assert isinstance(store, SQLStore) and settings.slack_client_secret is not None
            assert settings.slack_client_id is not None
            installations, states = stores(store.db, settings.slack_client_id)
            rotator = AsyncTokenRotator(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                client=speaking(None),
            )
            workspaces = Workspaces(speaking, installations=installations, rotator=rotator)
            oauth = installs.oauth_settings(
                settings, installations, states, speaking(None), refusals
            )
        bolt = AsyncApp(
            client=client,
            oauth_settings=oauth,  # None: the one token; else Bolt authorizes each request
            request_verification_enabled=False,  # the HTTP adapter verifies, once (Verifier)
            process_before_response=True,  # listeners ack, then hand slow work to tasks
            raise_error_for_unhandled_request=True,  # to ``_failed``: a line a minute at most
            user_facing_authorize_error_message=messages.NOT_INSTALLED,
        )
        clock = clock or SystemClock()
        # a retry looks once more when a request Slack held past the timeout has surely landed
        recheck = 3 * settings.slack_timeout
        notifier = SlackNotifier(workspaces, registry, clock, recheck=recheck)
        links = Permalinks(workspaces)
        # webhook rows of the same outbox go to their receivers, the rest to Slack
        # (signed with the wall clock's time: receivers refuse a signature five minutes off)
        hooks = WebhookSender(session, store.webhook, lambda eid: _link(engine, links, eid),
                              time.time)  # fmt: skip
        config = EngineConfig(default_timeout=settings.default_timeout, takeover=settings.takeover)
        files = SlackFiles(workspaces, session, settings.slack_api_url)
        slack_directory = SlackDirectory(workspaces)
        directory = TokenDirectory(slack_directory, store.token_named)
        engine = Engine(
            store, registry, Routed(notifier, hooks), clock, config, directory, files,
            observer=metrics,
        )  # fmt: skip
        notifier.says.trail = hooks.trail = engine.trail
        notifier.homes = HomeReader(engine, links)
        # private_metadata is sealed with a key of the bot's own: the signing secret, or in
        # Socket Mode (which has none) the bot token
        key = secret.get_secret_value() if secret else token
        assert key is not None
        handlers = Handlers(engine, Seal(key), workspaces, slack_directory.unseen)
        if metrics:
            bolt.middleware(SlackKind())
        if oauth is not None:  # (the loggers Bolt's authorize and OAuth flow log with)
            installs.NoInstall.attach(get_bolt_logger(AsyncMultiTeamsAuthorization), refusals)
            installs.NoExchange.attach(bolt.logger, refusals)
        bolt.error(middleware.unhandled(refusals))
        bolt.middleware(middleware.TypedInbound(refusals))
        bolt.middleware(logs.RequestScope())
        bolt.middleware(AckBudget())
        handlers.register(bolt)
        HomeHandlers(handlers).register(bolt)
        _follow_members(bolt, slack_directory, workspaces, engine)
        installs.follow_uninstalls(bolt, workspaces, engine, handlers.tasks)
        made = cls(settings, store, engine, bolt, session, handlers, metrics, links, refusals)
        made.scheduler.also.append(lambda: handlers.handle_held(workspaces.client))
        return made

    # HTTP -----------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application(
            middlewares=[*([self.metrics.timed] if self.metrics else []), self._unreadable],
            handler_args={"logger": logs.HttpLog(self.refusals)},
        )
        app.router.add_post("/slack/events", self.slack_events)
        app.router.add_get("/healthz", alive)
        app.router.add_get("/readyz", self.readiness.handle)
        if self.metrics:
            app.router.add_get("/metrics", self.metrics.route(self.engine, self.refusals))
        if self.bolt.oauth_flow is not None:
            installs.mount(app, self.bolt.oauth_flow)
        app.on_shutdown.append(self._stop)
        if isinstance(self.store, SQLStore) and self.links is not None:
            links = self.links
            mount(app, self.engine, self.store, lambda eid: _link(self.engine, links, eid),
                  self.feed, self.refusals)  # fmt: skip
        app.cleanup_ctx.append(self._background)
        return app

    @web.middleware
    async def _unreadable(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """A body aiohttp cannot read (``Content-Encoding: gzip`` over bytes that are not, a
        chunk cut short), on any route: anyone reaching the port can send one, so it is a 400
        and a refusal, one line a minute, not a 500 with aiohttp's tracebacks."""
        try:
            return await handler(request)
        except web.RequestPayloadError:
            self.refusals.warning(logs.UNREADABLE)
            request.content.feed_eof()  # nothing more to read of it: aiohttp reads no further
            refusal = {"error": "bad_request", "message": "the body could not be read"}
            answer = web.json_response(refusal, status=400)  # as the API says every refusal
            answer.force_close()  # the rest of what was sent is not read: no other request
            return answer

    async def slack_events(self, request: web.Request) -> web.StreamResponse:
        """Bound, verify, read the body once into a typed event, dispatch to Bolt, answer with
        Bolt's response. Whatever is not a signed request Slack could send is a 4xx."""
        arrived = time.monotonic()
        raw = await _bounded_body(request)
        if raw is None:
            self.refusals.warning("refused a Slack request: its body is larger than Slack sends")
            return web.Response(status=413, text="payload too large")
        if self.verifier is None or not self.verifier.valid(request.headers, raw, time.time()):
            self.refusals.warning("refused a Slack request: no valid signature")
            return web.Response(status=401, text="invalid signature")
        try:
            event = inbound.typed(fields.read_body(raw, request.content_type))
        except fields.Malformed as exc:
            self.refusals.warning("refused a malformed Slack request: %s", exc)
            return web.Response(status=400, text="malformed payload")
        if isinstance(event, inbound.OtherEvent):
            return web.Response(status=200)  # an event Lockstep does not subscribe to
        # Verified and typed: Bolt gets only what it routes by, as a Socket Mode envelope.
        bolt_request = AsyncBoltRequest(
            body=inbound.for_bolt(event), headers=dict(request.headers), mode=_READ,
            context={"inbound": event, ARRIVED: arrived},
        )  # fmt: skip
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def reshow(self) -> int:
        """The surface lost every message (local mode's fake Slack starts empty): every live
        run's messages (its thread, with its open forms) and every App Home are shown again
        from the store, from scratch. Returns how many messages are shown again."""
        if not isinstance(self.store, SQLStore):
            return 0
        return await self.store.reshow(self.engine.clock.now())

    # background -----------------------------------------------------------------------------

    async def _background(self, _app: web.Application) -> AsyncIterator[None]:
        self.scheduler.start()
        yield
        await self.close()

    async def _stop(self, _app: web.Application) -> None:
        self.stop()

    def stop(self) -> None:
        """Shutdown begins (SIGTERM): no new timers or sweeps, not ready; requests under way
        and the work they started have ``LOCKSTEP_SHUTDOWN_SECONDS`` to finish."""
        if self._stop_by is None:
            grace = self.settings.shutdown_seconds
            self._stop_by = asyncio.get_running_loop().time() + grace
            log.info("stopping: no new work; up to %g s for the work under way", grace)
        self.readiness.stopping = True
        self.scheduler.shutdown()

    async def close(self) -> None:
        """Stop, let work under way finish until the shutdown deadline (requests, timers, runs
        and what they show), then close. Runs and deliveries still going are left as they are
        in the store: their claims and leases go stale and the next process takes them over."""
        self.stop()
        assert self._stop_by is not None
        left = max(1.0, self._stop_by - asyncio.get_running_loop().time())
        try:
            async with asyncio.timeout(left):
                await self.scheduler.drain()
                await self.handlers.drain()
                await self.engine.idle()  # runs reach their next lock; what they show goes
        except TimeoutError:
            log.warning("shutting down: work still under way after the grace is left to recovery")
            late = [*self.handlers.tasks, *self.scheduler.under_way()]
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.engine.close()
        await self.store.close()
        await self.session.close()


async def _link(engine: Engine, links: Permalinks, execution_id: str) -> str | None:
    """The Slack link to a run's message, once it is posted (asked with its workspace's token)."""
    execution = await engine.execution(execution_id)
    if execution is None:
        return None
    return await links.of(await engine.where(execution_id), execution.workspace)


async def _bounded_body(request: web.Request) -> bytes | None:
    """The request's body, or None if it is longer than any Slack sends."""
    if (request.content_length or 0) > fields.MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > fields.MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _follow_members(
    bolt: AsyncApp, directory: SlackDirectory, workspaces: Workspaces, engine: Engine
) -> None:
    """Channel members join and leave, user groups change: the directory's cached members
    follow at once (where the app subscribes to the events), not only when the cache expires,
    and so do the Homes of those who came or went (what they may answer changed)."""

    async def changed(context: AsyncBoltContext) -> None:
        event = context.get("inbound")
        if isinstance(event, inbound.MemberEvent):
            workspace = workspaces.of(event)
            directory.member_changed(
                event.channel, event.user, joined=event.joined, workspace=workspace
            )
            await engine.people_changed([event.user], workspace)
        elif isinstance(event, inbound.GroupEvent):
            workspace = workspaces.of(event)
            directory.group_changed(event.group, event.added, event.removed, workspace=workspace)
            await engine.people_changed([*event.added, *event.removed], workspace)

    for kind in (*inbound.MEMBER_EVENTS, inbound.GROUP_CHANGED):
        bolt.event(kind)(changed)
