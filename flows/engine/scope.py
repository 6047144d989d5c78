"""Which run and which lock the work under way is for, so that every log line can say so
(``bot.logs`` reads these). Set where the work starts: a run's task, a delivery, an answer.
A task copies its creator's context, so work a request starts carries the request's ids."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

RUN: ContextVar[str | None] = ContextVar("lockstep_run", default=None)
LOCK: ContextVar[str | None] = ContextVar("lockstep_lock", default=None)


@contextmanager
def scope(run: str | None, lock: str | None) -> Iterator[None]:
    """Within the block, log lines name ``run`` and ``lock`` (None: none, whatever the work
    around it is for)."""
    tokens = [(RUN, RUN.set(run)), (LOCK, LOCK.set(lock))]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def mark(run: str | None = None, lock: str | None = None) -> None:
    """From here on in this task (a request's, a run's), log lines name ``run`` and ``lock``
    (those given). Each task has a context of its own, so this ends with the task."""
    if run:
        RUN.set(run)
    if lock:
        LOCK.set(lock)


def ids(run: str | None, lock: str | None = None) -> dict[str, str | None]:
    """``extra=`` for one log line about ``run`` (and ``lock``), wherever it is logged."""
    return {"run": run, "lock": lock}


def current() -> tuple[str | None, str | None]:
    """The run and the lock the work under way is for (None: not known here)."""
    return RUN.get(), LOCK.get()
