"""A run's events as server-sent events, so a client waits without polling.

Each event of the run's audit trail is sent once, with its id as the SSE ``id`` (ids grow with
time), its kind as the SSE ``event`` and ``RunEvent`` JSON as ``data``; a client that comes back
with ``Last-Event-ID`` (or ``?after=``) gets only what followed. Once the run has ended and its
last event is sent, an ``end`` event carries the run (``Run``, with how it ended) and the
stream closes. The stream re-reads the run when this process changes it (``Feed.changed``, told
by the engine), and every ``poll`` seconds for changes made by other processes; a comment line
every ``keepalive`` seconds keeps proxies from closing an idle stream. A token has at most
``most`` streams open in a process (each reads the store every ``poll`` seconds): one more is a
429 until one closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web

from bot.api import views
from bot.api.auth import Principal
from bot.api.http import refuse
from bot.api.models import Run
from flows.engine import Call, Engine, Event, Execution

Chunks = list[tuple[int | None, str]]
Render = Callable[[Execution, list[Call], list[Event]], Awaitable[Chunks]]
POLL = 1.0
KEEPALIVE = 15.0
MOST = 20  # event streams one token may hold open in one process


class Feed:
    """Who is reading which run's events in this process, to wake them when it changes."""

    def __init__(self) -> None:
        self._readers: dict[str, set[asyncio.Event]] = {}

    def changed(self, execution_id: str) -> None:
        for woken in self._readers.get(execution_id, ()):
            woken.set()

    @contextlib.contextmanager
    def watch(self, execution_id: str) -> Iterator[asyncio.Event]:
        woken = asyncio.Event()
        self._readers.setdefault(execution_id, set()).add(woken)
        try:
            yield woken
        finally:
            readers = self._readers[execution_id]
            readers.discard(woken)
            if not readers:
                del self._readers[execution_id]

    @property
    def readers(self) -> int:
        return sum(len(r) for r in self._readers.values())


class Stream:
    def __init__(
        self,
        engine: Engine,
        feed: Feed,
        readable: Callable[[str, Principal], Awaitable[Execution]],
        view: Callable[[Execution], Awaitable[Run]],
        poll: float = POLL,
        keepalive: float = KEEPALIVE,
        live: Callable[[Principal], Awaitable[bool]] | None = None,
        most: int = MOST,
    ) -> None:
        """``live``: is the caller's token still valid (a stream revoked meanwhile ends)."""
        self.engine = engine
        self.feed = feed
        self.readable = readable
        self.view = view
        self.poll = poll
        self.keepalive = keepalive
        self.live = live
        self.most = most
        self._open: Counter[str] = Counter()  # streams open, by token

    async def events(self, request: web.Request, who: Principal) -> web.StreamResponse:
        execution = await self.readable(request.match_info["run_id"], who)
        return await self.serve(request, who, execution, _after(request), self._lockstep)

    async def _lockstep(
        self, execution: Execution, calls: list[Call], events: list[Event]
    ) -> Chunks:
        names = {c.id: c.name for c in calls}
        chunks: Chunks = [
            (event.id, f"id: {event.id}\nevent: {event.kind}\ndata: "
             f"{views.event_view(event, names, execution.status).model_dump_json()}\n\n")
            for event in events
        ]  # fmt: skip
        if execution.done:
            run = (await self.view(execution)).model_dump_json()
            chunks.append((None, f"event: end\ndata: {run}\n\n"))
        return chunks

    async def serve(
        self,
        request: web.Request,
        who: Principal,
        execution: Execution,
        after: int,
        render: Render,
    ) -> web.StreamResponse:
        """Stream the run's events after ``after``, each as ``render`` writes it (with its
        event's id, or ``None`` for what closes the stream), until the run has ended or
        ``who``'s token is revoked."""
        token = who.token_id or who.name
        if self._open[token] >= self.most:
            raise refuse(
                429,
                "too_many",
                f"this token has {self.most} event streams open already: close one first",
                **{"Retry-After": "5"},
            )
        self._open[token] += 1
        try:
            return await self._serve(request, who, execution, after, render)
        finally:
            self._open[token] -= 1
            if not self._open[token]:
                del self._open[token]

    async def _serve(
        self,
        request: web.Request,
        who: Principal,
        execution: Execution,
        after: int,
        render: Render,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        sent: set[int] = set()
        quiet = 0.0
        with (
            self.feed.watch(execution.id) as woken,
            contextlib.suppress(ConnectionResetError),
        ):
            while True:
                woken.clear()
                if self.live is not None and not await self.live(who):
                    break  # its token was revoked: it sees nothing more (and gets a 401 back)
                trail = await self.engine.trail(execution.id)
                if trail is None:
                    break
                execution, calls, events = trail
                fresh = [e for e in events if e.id > after and e.id not in sent]
                for event_id, chunk in await render(execution, calls, fresh):
                    await response.write(chunk.encode())
                    if event_id is not None:
                        sent.add(event_id)
                if execution.done:
                    break
                while not await self._changed(woken, execution.id, after, sent):
                    if self.live is not None and not await self.live(who):
                        break
                    quiet += self.poll
                    if quiet >= self.keepalive:
                        await response.write(b": keepalive\n\n")
                        quiet = 0.0
                quiet = 0.0
        return response

    async def _changed(
        self, woken: asyncio.Event, execution_id: str, after: int, sent: set[int]
    ) -> bool:
        """Wait for this process to change the run, or ``poll`` seconds; then, True if there
        is anything to send (a poll reads only the run's events, not the whole trail)."""
        try:
            await asyncio.wait_for(woken.wait(), self.poll)
        except TimeoutError:
            events = await self.engine.events(execution_id, after)
            return any(e.id not in sent for e in events)
        return True


LAST_ID = 2**63 - 1  # the largest id an event can have (a 64-bit integer column)


def _after(request: web.Request) -> int:
    """The event to resume after: ``Last-Event-ID``, else ``?after=`` (a refusal names the one
    that was sent)."""
    header = request.headers.get("Last-Event-ID")
    sent, raw = ("Last-Event-ID", header) if header else ("after", request.query.get("after"))
    raw = raw or "0"
    if not re.fullmatch(r"-?[0-9]+", raw):  # int() would take " 3", "+3", "1_0" or "٣"
        raise refuse(400, "bad_request", f"{sent}: not an event id")
    if len(raw.removeprefix("-")) > len(str(LAST_ID)):  # (int() raises past 4,300 digits)
        raise refuse(400, "bad_request", f"{sent}: not an event id (too long)")
    after = int(raw)
    if after > LAST_ID:
        raise refuse(400, "bad_request", f"{sent}: not an event id (too large)")
    return max(after, 0)
