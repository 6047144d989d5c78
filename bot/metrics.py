"""Metrics in Prometheus's text format at ``/metrics``: off unless ``LOCKSTEP_METRICS=on``, and
behind a bearer token when ``LOCKSTEP_METRICS_TOKEN`` is set. docs/operations.md lists every
metric and a dashboard built from them.

Every figure comes from where the thing happens, never from a guess: the engine tells
``Metrics`` (its ``Observer`` port) about runs, decisions, timers and deliveries; every Web API
call of every client reports to ``SlackMeter``; the HTTP server's middleware times each request
and Bolt's names its kind; gauges that are facts of the store (open locks, the outbox's backlog)
are read from it at each scrape. Each ``Metrics`` has a registry of its own, so two bots in one
process (tests) never add up.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.logs import Refusals
from flows.engine import Engine

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
DECISION_BUCKETS = (10.0, MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 3 * HOUR, 8 * HOUR, DAY, 3 * DAY)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, MINUTE, 5 * MINUTE)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLACK_KINDS = frozenset(
    {"block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut",
     "message_action", "event_callback", "url_verification"}
)  # fmt: skip
SCRAPE_TIMEOUT = 2.0  # seconds the store may take to answer a scrape's questions
_KIND: ContextVar[dict[str, str] | None] = ContextVar("lockstep_request_kind", default=None)


class Metrics:
    """The bot's metrics, and the engine's ``Observer``."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self._reading: asyncio.Future[None] | None = None  # ``refresh``'s, while under way
        self.registry = r = CollectorRegistry()
        self.runs_started = Counter(
            "lockstep_runs_started", "Runs started, by flow.", ["flow"], registry=r
        )
        self.runs_ended = Counter(
            "lockstep_runs_ended",
            "Runs ended in this process, by flow and outcome (finished, error, cancelled).",
            ["flow", "outcome"],
            registry=r,
        )
        self.open_locks = Gauge(
            "lockstep_open_locks", "Locks waiting for people, by flow (read at scrape).",
            ["flow"], registry=r,
        )  # fmt: skip
        self.decisions = Histogram(
            "lockstep_lock_decision_seconds",
            "From a lock's opening (its message is posted then) to its decision, by flow and "
            "outcome (resolved, rejected, expired).",
            ["flow", "outcome"],
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.timer_lag = Histogram(
            "lockstep_timer_lag_seconds",
            "How late timers fired, by kind (deadline, remind, escalate, wake).",
            ["kind"], buckets=LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.backlog = Gauge(
            "lockstep_outbox_backlog", "Outbox rows waiting to be shown (read at scrape).",
            registry=r,
        )  # fmt: skip
        self.oldest = Gauge(
            "lockstep_outbox_oldest_seconds",
            "How long the oldest waiting outbox row has waited (read at scrape; 0: none waits).",
            registry=r,
        )
        self.shown = Counter(
            "lockstep_outbox_delivered", "Outbox rows shown, by kind (run, lock, post, direct).",
            ["kind"], registry=r,
        )  # fmt: skip
        self.delivery_failures = Counter(
            "lockstep_outbox_delivery_failures",
            "Outbox rows whose showing failed (retried with backoff), by kind.",
            ["kind"], registry=r,
        )  # fmt: skip
        self.slack_calls = Counter(
            "lockstep_slack_api_calls", "Slack Web API call attempts, by method.",
            ["method"], registry=r,
        )  # fmt: skip
        self.slack_errors = Counter(
            "lockstep_slack_api_errors",
            "Slack Web API call attempts that failed, by method and error (Slack's error code, "
            "http_<status>, or the exception's name).",
            ["method", "error"],
            registry=r,
        )
        self.requests = Histogram(
            "lockstep_request_seconds",
            "HTTP requests, from arrival to answer, by kind (Slack's payload type, or the route) "
            "and status.",
            ["kind", "status"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.store_up = Gauge(
            "lockstep_store_up", "1 when the store answered the last scrape at the newest schema.",
            registry=r,
        )  # fmt: skip

    # the engine's Observer ----------------------------------------------------------------

    def run_started(self, flow: str) -> None:
        self.runs_started.labels(flow).inc()

    def run_ended(self, flow: str, status: str) -> None:
        self.runs_ended.labels(flow, status).inc()

    def lock_decided(self, flow: str, outcome: str, waited: float) -> None:
        self.decisions.labels(flow, outcome).observe(max(0.0, waited))

    def timer_fired(self, kind: str, lag: float) -> None:
        self.timer_lag.labels(kind).observe(max(0.0, lag))

    def delivered(self, kind: str, ok: bool) -> None:
        (self.shown if ok else self.delivery_failures).labels(kind).inc()

    # scraping -----------------------------------------------------------------------------

    async def refresh(self, engine: Engine) -> None:
        """Read the store's facts into the gauges. A store that does not answer leaves them
        as they were and sets ``lockstep_store_up`` to 0. Scrapes while a reading is under
        way share it (a flood of scrapes reads the store once at a time)."""
        if self._reading is None:
            reading = asyncio.ensure_future(self._refresh(engine))
            self._reading = reading
            reading.add_done_callback(self._read)
        await asyncio.shield(self._reading)

    def _read(self, reading: asyncio.Future[None]) -> None:
        if self._reading is reading:
            self._reading = None

    async def _refresh(self, engine: Engine) -> None:
        health = await engine.health(SCRAPE_TIMEOUT)
        self.store_up.set(0 if health.store else 1)
        if health.store:
            return
        self.backlog.set(health.backlog or 0)
        self.oldest.set(health.oldest or 0.0)
        locks = await engine.open_locks()
        self.open_locks.clear()
        for flow, count in locks.items():
            self.open_locks.labels(flow).set(count)

    def route(self, engine: Engine, refusals: Refusals | None = None) -> Handler:
        """``GET /metrics``: 401 without the bearer token when one is set (a line of
        ``refusals``, one a minute)."""

        async def scrape(request: web.Request) -> web.Response:
            if not self.allowed(request.headers.get("Authorization", "")):
                if refusals is not None:
                    refusals.warning("refused a metrics scrape: no valid token")
                return web.Response(
                    status=401, text="unauthorized", headers={"WWW-Authenticate": "Bearer"}
                )
            await self.refresh(engine)
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        return scrape

    def allowed(self, authorization: str) -> bool:
        if self.token is None:
            return True
        given = authorization.removeprefix("Bearer ").strip()
        try:
            return hmac.compare_digest(given.encode(), self.token.encode())
        except UnicodeEncodeError:  # a header byte that is not UTF-8: no token has one
            return False

    # requests -----------------------------------------------------------------------------

    @web.middleware
    async def timed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Times every HTTP request; Bolt's middleware (``SlackKind``) names a Slack one."""
        named: dict[str, str] = {}
        _KIND.set(named)  # each request is a task of its own
        start, status = time.perf_counter(), 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            kind = named.get("kind") or _route(request)
            self.requests.labels(kind, str(status)).observe(time.perf_counter() - start)

    def slack_meter(self, api_url: str) -> SlackMeter:
        return SlackMeter(self, api_url)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical.strip("/") if resource is not None else "unmatched"


class SlackKind(AsyncMiddleware):
    """Bolt middleware: names the request's kind for ``Metrics.timed`` (``slash_command``,
    ``block_actions``, ``view_submission``, ...)."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        named = _KIND.get()
        if named is not None:
            named["kind"] = slack_kind(req.body)
        return await next()


def slack_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "slash_command"
    kind = body.get("type")
    return kind if isinstance(kind, str) and kind in SLACK_KINDS else "slack_other"


class SlackMeter(AsyncRetryHandler):
    """Counts every Web API call attempt and its errors, by method. A retry handler, because
    slack_sdk hands every response and every failure of a call to its client's retry handlers,
    and Bolt gives the client it makes for each request the app client's handlers: the one
    place every call of every client passes. It comes first and never asks for a retry."""

    def __init__(self, metrics: Metrics, api_url: str) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics
        self.api_url = api_url

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = self.method(request.url)
        self.metrics.slack_calls.labels(method).inc()
        failed = _failure(response, error)
        if failed is not None:
            self.metrics.slack_errors.labels(method, failed).inc()
        return False

    def method(self, url: str) -> str:
        if url.startswith(self.api_url):
            return url[len(self.api_url) :].split("?", 1)[0] or "unknown"
        return "upload" if urlsplit(url).path else "unknown"  # a file's upload URL


def _failure(response: HttpResponse | None, error: Exception | None) -> str | None:
    body = response.body if response is not None else None
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "unknown")[:64]
    if response is not None and response.status_code != 200:
        return f"http_{response.status_code}"
    if error is not None:
        return type(error).__name__
    return None
