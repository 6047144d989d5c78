"""``print()`` inside a flow becomes the run's output, as in kodosumi: while a flow runs,
``sys.stdout`` and ``sys.stderr`` are stand-ins that hand each written line to the flow whose
context the write happens in (a context variable, so concurrent runs, and the worker threads of
sync flows, each reach their own). Writes outside any flow go to the real streams."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def captured(sink: Sink) -> Iterator[None]:
    """Within this block (and what it spawns), ``print()`` goes to ``sink``."""
    global _installed
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
