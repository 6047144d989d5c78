"""A fake Slack Web API on a loopback port, for tests and local runs.

It speaks the real wire protocol (JSON or form bodies in, JSON out, bearer tokens, 429 with
``Retry-After``), so the real ``AsyncWebClient`` and Bolt app are pointed at it with
``base_url`` and nothing of ours is mocked. Every request is recorded in arrival order, and
the workspace's model (``bot.fake.workspace``) answers what a person in Slack would now see:
the latest version of each message per channel, ephemerals, and views.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Self

from aiohttp import web

from bot.fake import files as fakefiles
from bot.fake import oauth as fakeoauth
from bot.fake import socket as fakesocket
from bot.fake.faults import Fault, Faults, RateLimit, When
from bot.fake.wire import (
    Args,
    RecordedCall,
    Refused,
    read_request,
    slack_error,
)
from bot.fake.workspace import FakeWorkspace

Outcome = tuple[int, Args, dict[str, str]]  # HTTP status, JSON body, headers

TOKEN_PREFIXES = ("xoxb-", "xoxp-")
APP_TOKEN_PREFIXES = ("xapp-",)  # Socket Mode's connections.open takes the app-level token
RESPONSE_URL = "response_url"  # the method name recorded for posts to a response URL


class FakeSlack(FakeWorkspace):
    """Serves on ``127.0.0.1``, on a port the OS picks, inside ``async with``: the workspace's
    methods (``FakeWorkspace``, which takes the same arguments), each call recorded, and each
    failing on request (``fail_next``, ``drop_next``, ``hang_next``, ``rate_limit``)."""

    def __init__(
        self,
        *,
        members: Mapping[str, Sequence[str]] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        users: Mapping[str, str] | None = None,
        checked: bool = True,
    ) -> None:
        super().__init__(members=members, usergroups=usergroups, users=users, checked=checked)
        self._calls: list[RecordedCall] = []
        self._calls_to: dict[str, list[RecordedCall]] = {}  # the same, by method
        self._feeds: list[asyncio.Queue[RecordedCall]] = []
        self._changed = asyncio.Condition()
        self._failures: dict[str, deque[Outcome]] = {}
        self._runner: web.AppRunner | None = None
        self.socket_mode = fakesocket.FakeSocketMode()  # Slack's side of Socket Mode
        self.faults = Faults()
        self._limits: dict[str, RateLimit] = {}
        self._handlers = self.methods()

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._serve)
        app.router.add_post("/response/{rid}", self._serve)
        app.router.add_post(fakefiles.UPLOAD_PATH, self._files.receive)
        app.router.add_get(fakefiles.DOWNLOAD_PATH, self._files.download)
        app.router.add_get(fakesocket.PATH, self.socket_mode.serve)
        app.router.add_get(fakeoauth.AUTHORIZE_PATH, self.oauth.authorize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = self._files.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient``; ends with ``/api/``."""
        return f"{self.base_url}/api/"

    def response_url(self) -> str:
        """A fresh response URL; each post to it is recorded as a ``response_url`` call."""
        return f"{self.base_url}/response/R{next(self._ids):08d}"

    # what tests ask

    @property
    def calls(self) -> list[RecordedCall]:
        return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        return list(self._calls_to.get(method, ()))

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5) -> list[RecordedCall]:
        """Wait until ``count`` requests to ``method`` (failed attempts included) have arrived."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self._calls_to.get(method, ())) >= count)
        except TimeoutError:
            seen = [c.method for c in self._calls]
            raise TimeoutError(f"{count} x {method} not seen in {timeout}s; got {seen}") from None
        return self.calls_to(method)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``method`` with a failure instead.

        ``status=429`` sends ``Retry-After`` (1 s unless given); ``status=200`` needs an
        ``error`` code and answers ``{"ok": false, "error": error}`` like any Slack API error.
        """
        if status == 200 and error is None:
            raise ValueError("fail_next needs an error code or a non-200 status")
        if status == 429 and retry_after is None:
            retry_after = 1
        code = error or ("ratelimited" if status == 429 else "internal_error")
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self._failures.setdefault(method, deque()).extend(
            [(status, slack_error(code), headers)] * times
        )

    def drop_next(
        self, method: str, *, when: When = "before", times: int = 1, skip: int = 0
    ) -> None:
        """Close the connection of the next ``times`` calls to ``method`` (after ``skip`` good
        ones) without answering: ``before`` it acts, or ``after`` it acted."""
        self.faults.add(method, Fault("drop", when), times=times, skip=skip)

    def hang_next(
        self, method: str, seconds: float, *, when: When = "before", times: int = 1
    ) -> None:
        """Answer the next ``times`` calls to ``method`` only after ``seconds``."""
        self.faults.add(method, Fault("hang", when, seconds), times=times)

    def on_call(
        self, method: str, hook: Callable[[], None], *, when: When = "before", skip: int = 0
    ) -> None:
        """Call ``hook`` when the call to ``method`` after ``skip`` others arrives (``before``
        it acts) or has acted (``after``, before it answers): where a test kills the bot."""
        self.faults.add(method, Fault("hook", when, hook=hook), skip=skip)

    def rate_limit(self, methods: Sequence[str], per_second: float, burst: int = 1) -> RateLimit:
        """Limit these methods together, as Slack does: past the rate, 429 with Retry-After."""
        limit = RateLimit(per_second, burst)
        self._limits.update(dict.fromkeys(methods, limit))
        return limit

    async def until(self, check: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until ``check()`` holds; it is asked again after every call that arrives."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(check)
        except TimeoutError:
            seen = [c.method for c in self._calls[-20:]]
            raise TimeoutError(f"not so after {timeout}s; last calls {seen}") from None

    @asynccontextmanager
    async def feed(self) -> AsyncIterator[asyncio.Queue[RecordedCall]]:
        """A live change feed: every call recorded from now on, in order, until the block ends.

        The local stand-in page follows it to redraw what changed; tests use ``wait_for``.
        """
        queue: asyncio.Queue[RecordedCall] = asyncio.Queue()
        self._feeds.append(queue)
        try:
            yield queue
        finally:
            self._feeds.remove(queue)

    # the wire

    async def _serve(self, request: web.Request) -> web.Response:
        posted_response = "rid" in request.match_info
        method = RESPONSE_URL if posted_response else request.match_info["method"]
        fault = self.faults.take(method)
        try:
            args, token = await read_request(request)
        except ValueError:
            args, token = {}, None
            outcome: Outcome = (200, slack_error("invalid_json"), {})
        else:
            if (
                fault is not None
                and fault.when == "before"
                and await self.faults.act(fault, request)
            ):
                outcome = (0, {"ok": False, "dropped": "before acting"}, {})
            else:
                outcome = self._outcome(method, args, token, posted_response)
                if fault is not None and fault.when == "after":
                    await self.faults.act(fault, request)
        status, body, headers = outcome
        args.pop("client_secret", None)  # recorded calls keep no app secret
        call = RecordedCall(method=method, args=args, token=token, status=status, response=body)
        async with self._changed:
            self._calls.append(call)
            self._calls_to.setdefault(call.method, []).append(call)
            self._changed.notify_all()
        for queue in self._feeds:
            queue.put_nowait(call)
        return web.json_response(copy.deepcopy(body), status=status, headers=headers)

    def _outcome(
        self, method: str, args: Args, token: str | None, posted_response: bool
    ) -> Outcome:
        if self._failures.get(method):
            return self._failures[method].popleft()
        limit = self._limits.get(method)
        if limit is not None and (wait := limit.take()) is not None:
            return 429, slack_error("ratelimited"), {"Retry-After": str(wait)}
        if posted_response:
            try:
                self._check_message(args)
            except Refused as exc:
                return 200, slack_error(exc.args[0]), {}
            return 200, {"ok": True}, {}
        handler = self._handlers.get(method)
        if handler is None:
            return 200, slack_error("unknown_method"), {}
        prefixes = APP_TOKEN_PREFIXES if method == "apps.connections.open" else TOKEN_PREFIXES
        needs_token = method != "oauth.v2.access"  # that one takes the app's credentials
        if needs_token and (token is None or not token.startswith(prefixes)):
            return 200, slack_error("not_authed"), {}
        if token is not None and self.oauth.refused(token):
            return 200, slack_error("token_revoked"), {}
        if method == "auth.test":
            return 200, {"ok": True, **self._auth_test_as(token)}, {}
        try:
            return 200, {"ok": True, **copy.deepcopy(handler(copy.deepcopy(args)))}, {}
        except Refused as exc:
            return 200, slack_error(exc.args[0]), {}
