"""``print()`` inside a flow becomes the run's output, as in kodosumi: while a flow runs,
``sys.stdout`` and ``sys.stderr`` are stand-ins that hand each written line to the flow whose
context the write happens in (a context variable, so concurrent runs, and the worker threads of
sync flows, each reach their own). Writes outside any flow go to the real streams.

kodosumi captures every thread of a run's process; here a thread reaches its flow through its
context, so the event loop's default executor runs each function in its caller's context
(``loop.run_in_executor(None, fn)`` as ``asyncio.to_thread`` does): a flow's blocking helper
handed to it prints as the flow's output."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TextIO

Sink = Callable[[str, str], None]  # (kind: "stdout" | "stderr", text)


class _Lines:
    """What a flow writes, handed to its sink a line at a time: ``print("found", 3, "files")``
    writes "found", " ", "3", " ", "files" and "\n" apart, and is one line of output, not
    three. A line not ended yet waits for its end, a ``flush()``, or the flow's next durable
    call (``flush_pending``)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.pending = {"stdout": "", "stderr": ""}
        self.lock = threading.Lock()

    def write(self, kind: str, text: str) -> None:
        with self.lock:
            done, ended, self.pending[kind] = (self.pending[kind] + text).rpartition("\n")
        if ended and done.rstrip():
            self.sink(kind, done.rstrip())  # kodosumi: trailing blanks cut

    def flush(self) -> None:
        with self.lock:
            held, self.pending = self.pending, {kind: "" for kind in self.pending}
        for kind, text in held.items():
            if text.rstrip():
                self.sink(kind, text.rstrip())


_sink: ContextVar[_Lines | None] = ContextVar("lockstep_output", default=None)
_installed = 0
_originals: dict[str, TextIO] = {}


class _Stream:
    """A text stream that is the flow's output inside a flow and ``original`` elsewhere."""

    def __init__(self, kind: str, original: TextIO) -> None:
        self.kind = kind
        self.original = original

    def write(self, text: str) -> int:
        sink = _sink.get()
        if sink is None:
            return self.original.write(text)
        sink.write(self.kind, text)
        return len(text)

    def flush(self) -> None:
        sink = _sink.get()
        if sink is None:
            self.original.flush()
        else:
            sink.flush()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.original, attr)


class _InContext(ThreadPoolExecutor):
    """An executor running each function in a copy of its submitter's context."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _in_context() -> None:
    """The running loop's default executor, once: one that keeps its callers' context."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if loop not in _loops:
        loop.set_default_executor(_InContext(thread_name_prefix="lockstep-executor"))
        _loops.add(loop)


@contextlib.contextmanager
def captured(sink: Sink) -> Iterator[None]:
    """Within this block (and what it spawns), ``print()`` goes to ``sink``."""
    global _installed
    _in_context()
    if _installed == 0:
        for kind in ("stdout", "stderr"):
            _originals[kind] = getattr(sys, kind)
            setattr(sys, kind, _Stream(kind, _originals[kind]))
    _installed += 1
    token = _sink.set(_Lines(sink))
    try:
        yield
    finally:
        _sink.reset(token)
        _installed -= 1
        if _installed == 0:
            for kind, original in _originals.items():
                if isinstance(getattr(sys, kind), _Stream):
                    setattr(sys, kind, original)
            _originals.clear()


def flush_pending() -> None:
    """Hand on what the current flow wrote that no line end followed yet (before its next
    durable call, and at its end)."""
    lines = _sink.get()
    if lines is not None:
        lines.flush()


@contextlib.contextmanager
def uncaptured() -> Iterator[None]:
    """Within this block, ``print()`` goes to the real streams again: for the runtime's own
    work done inside a flow's context (recording output must not record its own prints)."""
    token = _sink.set(None)
    try:
        yield
    finally:
        _sink.reset(token)
