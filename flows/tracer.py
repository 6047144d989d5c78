"""What a flow sees: ``Tracer`` (kodosumi's name), made durable.

Every ``lock``/``step``/``sleep`` is a call at a position in the run; the first run records it,
every later run replays it from the store. The tracer reads and checks what the flow asks for;
the runtime behind it (``Recorder``, implemented by ``flows.engine``) records and replays.

A run never waits in memory for a person. When all of a flow's branches are waiting (and no step
is running), the engine stops the run; when an answer arrives, the flow is replayed from the top.

Output (``debug``, ``markdown``, ``html``, ``text``, ``result``, ``action``, ``warning``, and
``print()``) is recorded once however often the flow is replayed, in the order the flow made
it. Each has a ``*_sync`` twin for sync code (a sync flow runs in a worker thread; a sync helper
inside an async flow, ``print()``, the flow's own threads): the output is queued in order on the
event loop and recorded before the flow's next durable call, and at its end. A ``*_sync`` call
never waits for the loop, as kodosumi's never does: an async flow may hold the loop in blocking
code that waits for the very thread that calls it (a thread pool's ``map``). Awaited on an event
loop of the flow's sync code's own (``asyncio.run`` in a worker thread), output is queued the
same way; ``lock``, ``step`` and ``sleep`` there raise ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, Protocol, Unpack

from flows import output, response
from flows.codec import encode, plain
from flows.errors import NotStorable
from flows.files import AsyncFileSystem, FileStore, Opening, SyncFileSystem
from flows.forms import Model
from flows.policy import Duration, LockOptions, Policy, make_policy, seconds
from flows.prompts import PREFIX, Prompts


class Recorder(Protocol):
    """The runtime a tracer records into: one replay of one execution."""

    execution_id: str
    initiator: str | None
    default_timeout: float
    context: Mapping[str, Any]  # the run's surface ids, and files uploaded with its entry form
    files: FileStore | None

    async def lock(
        self, name: str, data: dict[str, Any] | None, policy: Policy, form: Model | None
    ) -> Any:
        """Wait at a lock (``form`` None: ``@app.lock(name)`` builds it); the lease's value."""

    async def step(
        self, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run a side effect, or replay its recorded result."""

    async def sleep(self, seconds: float) -> None:
        """A durable sleep."""

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """While in it, the flow is about to make a call (its queued output is being
        recorded): the run does not park meanwhile."""

    def where(self, kind: str) -> str | None:
        """Where an output said now comes in the flow (asked when it is said, on the loop):
        None for the flow's own, counted by position."""

    async def progress(self, kind: str, text: str, at: str | None, of: str | None = None) -> None:
        """Output, announced once however often the flow is replayed (``at``: ``where``;
        ``of``: the type a ``result``/``action`` was given, as kodosumi's clients read it)."""


def shown(kind: str, obj: Any) -> tuple[str, str, str | None]:
    """How one object given to ``result``/``action`` is recorded: a response body as its kind,
    text as it is, anything else as JSON; with the name of its type (``"42"`` is a string, a
    pydantic model keeps its class's name)."""
    if isinstance(obj, response.Body):
        return obj.kind, obj.body, None
    of = type(obj).__name__
    if isinstance(obj, str):
        return kind, obj, of
    try:
        return kind, json.dumps(plain(encode(obj)), ensure_ascii=False, default=str), of
    except NotStorable:
        pass
    if _anonymous(obj):  # "<X object at 0x…>" says nothing: its attributes, as kodosumi has them
        fields = plain(encode(vars(obj), loose=True))
        return kind, json.dumps(fields, ensure_ascii=False, default=str), of
    return kind, str(obj), of


def _anonymous(obj: Any) -> bool:
    """An object of a plain class (a CrewAI ``AgentAction``) whose text is only its address."""
    cls: Any = type(obj)
    plain_text = cls.__str__ is object.__str__ and cls.__repr__ is object.__repr__
    return plain_text and isinstance(getattr(obj, "__dict__", None), dict)


class Tracer(Prompts):
    """The flow's handle on the engine."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._tail: asyncio.Task[None] | None = None  # output queued from sync code, last
        self._inbox: collections.deque[tuple[str, str, str | None]]
        self._inbox = collections.deque()  # from threads
        self._uploaded: list[dict[str, Any]] = []  # the run's ``out`` files so far

    @property
    def execution_id(self) -> str:
        return self._recorder.execution_id

    @property
    def fid(self) -> str:
        """kodosumi's name for the execution id."""
        return self._recorder.execution_id

    @property
    def initiator(self) -> str | None:
        return self._recorder.initiator

    async def lock(
        self,
        name: str,
        data: dict[str, Any] | None = None,
        timeout: Duration | None = None,
        **options: Unpack[LockOptions],
    ) -> Any:
        """Wait for a person to answer the form of ``@app.lock(name)``; return the lease's value.

        ``timeout``: seconds or a timedelta (None: the default, 3 h). The other options
        (reminders, escalation, what happens at the deadline, snoozing, who may answer, quorum)
        are described in ``flows.policy.LockOptions``. The lease sees every response.

        Raises ``LockRejected`` (Cancel pressed), ``LockExpired`` (deadline passed, a
        ``TimeoutError``) or ``LockCancelled`` (execution cancelled from outside)."""
        policy = make_policy(timeout, self._recorder.default_timeout, **options)
        await self.flush()
        return await self._recorder.lock(name, data, policy, None)

    async def lock_form(
        self,
        name: str,
        form: Model,
        data: dict[str, Any] | None = None,
        timeout: Duration | None = None,
        **options: Unpack[LockOptions],
    ) -> Any:
        """Like ``lock``, with the form given here instead of by ``@app.lock(name)``."""
        policy = make_policy(timeout, self._recorder.default_timeout, **options)
        await self.flush()
        return await self._recorder.lock(name, data, policy, form)

    async def _prompt(
        self, kind: str, form: Model, options: dict[str, Any], data: dict[str, Any] | None = None
    ) -> Any:
        return await self.lock_form(PREFIX + kind, form, data, **options)

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a side effect and record its result; replays return the recorded result without
        running it again.

        At least once, not exactly once: if the process dies after ``fn``'s effect but before
        its result is recorded, ``fn`` runs again when the run resumes. A ``fn`` with a
        parameter named ``idempotency_key`` gets a key that is the same on every such run (the
        run's id and the step's position; in a branch, where it comes and its arguments): hand
        it to an API that de-duplicates by key (an ``Idempotency-Key`` header) and the effect
        happens once."""
        await self.flush()
        return await self._recorder.step(name, fn, args, kwargs)

    async def sleep(self, delay: float | timedelta) -> None:
        """A durable sleep: survives restarts, and the clock is not reset by them."""
        await self.flush()
        nothing = delay == 0 or delay == timedelta(0)  # no time, in either form: no sleep
        await self._recorder.sleep(0.0 if nothing else seconds(delay, "sleep"))

    # output ---------------------------------------------------------------------------------

    async def debug(self, *msgs: Any) -> None:
        await self._say("debug", "\n".join(map(str, msgs)))

    async def markdown(self, *msgs: Any) -> None:
        """Markdown, the messages joined by a blank line (as kodosumi)."""
        await self._say("markdown", "\n\n".join(map(str, msgs)))

    async def html(self, *msgs: Any) -> None:
        await self._say("html", "\n".join(map(str, msgs)))

    async def text(self, *msgs: Any) -> None:
        """Preformatted text."""
        await self._say("text", "\n".join(map(str, msgs)))

    async def warning(self, *msgs: Any, exc_info: bool = False) -> None:
        """``exc_info=True`` adds the traceback of the exception being handled."""
        await self._say("warning", _warning(msgs, exc_info))

    async def result(self, *objs: Any) -> None:
        """One output per object: response bodies formatted, text as it is, others as JSON."""
        for obj in objs:
            await self._say(*shown("result", obj))

    async def action(self, *objs: Any) -> None:
        for obj in objs:
            await self._say(*shown("action", obj))

    def debug_sync(self, *msgs: Any) -> None:
        self._later("debug", "\n".join(map(str, msgs)))

    def markdown_sync(self, *msgs: Any) -> None:
        self._later("markdown", "\n\n".join(map(str, msgs)))

    def html_sync(self, *msgs: Any) -> None:
        self._later("html", "\n".join(map(str, msgs)))

    def text_sync(self, *msgs: Any) -> None:
        self._later("text", "\n".join(map(str, msgs)))

    def warning_sync(self, *msgs: Any, exc_info: bool = False) -> None:
        self._later("warning", _warning(msgs, exc_info))

    def result_sync(self, *objs: Any) -> None:
        for obj in objs:
            self._later(*shown("result", obj))

    def action_sync(self, *objs: Any) -> None:
        for obj in objs:
            self._later(*shown("action", obj))

    async def _say(self, kind: str, text: str, of: str | None = None) -> None:
        if self._elsewhere():  # a sync flow's own event loop (``asyncio.run``): as ``*_sync``
            self._later(kind, text, of)
            return
        await self.flush()
        await self._progress(kind, text, self._recorder.where(kind), of)

    async def _progress(self, kind: str, text: str, at: str | None, of: str | None) -> None:
        with output.uncaptured():
            await self._recorder.progress(kind, text, at, of)

    def _later(self, kind: str, text: str, of: str | None = None) -> None:
        """Record output from sync code: queued in order, from the loop's own thread or any
        other (not waited for: the loop may be blocked waiting for this thread)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("this tracer belongs to no running flow")
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._drain()
            self._queue(kind, text, self._recorder.where(kind), of)
        else:
            self._inbox.append((kind, text, of))
            loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        """Queue what other threads said (the flow's own sync code), in the order they said it."""
        while self._inbox:
            kind, text, of = self._inbox.popleft()
            self._queue(kind, text, None, of)

    def _queue(self, kind: str, text: str, at: str | None, of: str | None) -> asyncio.Task[None]:
        assert self._loop is not None
        task = self._loop.create_task(self._after(self._tail, kind, text, at, of))
        self._tail = task
        return task

    async def _after(
        self,
        before: asyncio.Task[None] | None,
        kind: str,
        text: str,
        at: str | None,
        of: str | None,
    ) -> None:
        if before is not None:
            await asyncio.wait([before])
            if (failed := before.exception()) is not None:
                raise failed
        await self._progress(kind, text, at, of)

    def _elsewhere(self) -> bool:
        """Awaited on an event loop that is not the flow's: one a sync flow runs in its worker
        thread (``asyncio.run``, or a library's ``kickoff`` doing so)."""
        return asyncio.get_running_loop() is not self._loop

    async def flush(self) -> None:
        """Wait until output queued from sync code is recorded (raises if recording failed)."""
        if self._elsewhere():
            raise RuntimeError(
                "lock, step and sleep must be awaited in the flow's own event loop, not in one "
                "its sync code runs (asyncio.run): make the flow async and await them there"
            )
        output.flush_pending()
        self._drain()
        while (tail := self._tail) is not None and not tail.done():
            with self._recorder.busy():
                await asyncio.wait([tail])
            self._drain()
        if tail is not None:
            self._tail = None
            tail.result()

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """While the flow runs, ``print()`` is its output (``stdout``/``stderr``)."""
        with output.captured(self._later):
            yield

    # files ----------------------------------------------------------------------------------

    def fs(self) -> Opening:
        """The run's files: ``await tracer.fs()``, ``async with await tracer.fs() as fs``, or
        ``async with tracer.fs() as fs``."""
        return Opening(
            AsyncFileSystem(
                self._recorder.files, self._recorder.context, self._uploaded, self._record
            )
        )

    def fs_sync(self) -> SyncFileSystem:
        """The run's files for sync code off the event loop."""
        if self._loop is None:
            raise RuntimeError("this tracer belongs to no running flow")
        fs = AsyncFileSystem(
            self._recorder.files, self._recorder.context, self._uploaded, self._record
        )
        return SyncFileSystem(fs, self._loop)

    async def _record(self, name: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return await self.step(name, fn, *args)


def _warning(msgs: tuple[Any, ...], exc_info: bool) -> str:
    lines = [str(m) for m in msgs]
    if exc_info:
        lines.append(traceback.format_exc().rstrip())
    return "\n".join(lines)
