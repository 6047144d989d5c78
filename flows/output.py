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
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TextIO

Sink = Callable[[str, str], None]  # (kind: "stdout" | "stderr", text)
_sink: ContextVar[Sink | None] = ContextVar("lockstep_output", default=None)
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
        if text.rstrip():
            sink(self.kind, text.rstrip())  # kodosumi: one event per write, trailing blanks cut
        return len(text)

    def flush(self) -> None:
        self.original.flush()

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
    token = _sink.set(sink)
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


@contextlib.contextmanager
def uncaptured() -> Iterator[None]:
    """Within this block, ``print()`` goes to the real streams again: for the runtime's own
    work done inside a flow's context (recording output must not record its own prints)."""
    token = _sink.set(None)
    try:
        yield
    finally:
        _sink.reset(token)
