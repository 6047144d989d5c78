"""What the engine needs from the world, stated once: the store, the notifier, the directory,
the clock, and where runs' files are (``Files``, the SDK's ``FileStore``: the engine hands it to
each run's tracer for ``tracer.fs()``). Each is a protocol with its contract in the
docstrings; adapters implement them (``store.SQLStore``; ``bot.notifier.SlackNotifier``,
``bot.directory.SlackDirectory`` and ``bot.files.SlackFiles``) and the contract tests in
``tests/test_ports.py`` run over every implementation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from flows.engine.records import (
    Call,
    Claim,
    Closing,
    Decided,
    Event,
    Execution,
    NewEvent,
    Timer,
    Trail,
)
from flows.files import FileStore as Files

__all__ = ["Clock", "Directory", "Files", "Notifier", "Store"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC. The engine never reads the wall clock otherwise."""


class Directory(Protocol):
    """Who is who: resolves the names flows give for people (``approvers``, ``admins``,
    escalations) besides a user's own id. Answers may be cached briefly."""

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        """Is ``user`` in the group ``principal`` names, or (``"channel"``) a member of the
        run's channel (``context`` is the run's: its surface's ids)? False if unknown."""


class Notifier(Protocol):
    """How the engine tells people what happened. Every call comes after the fact is
    committed. A method that raises has not been delivered: the engine logs it and carries on;
    a lock whose ``lock_opened`` failed stays unposted and the sweep offers it again, and a
    reminder that failed is retried with backoff."""

    async def status_changed(self, execution: Execution, waiting: Sequence[str]) -> None:
        """The execution's status changed; ``waiting``: names of its open locks."""

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        """The flow called ``tracer.debug/markdown/result/warning``."""

    async def lock_opened(self, execution: Execution, lock: Call) -> Any:
        """A lock waits for a person; ``lock.form`` is its form as kodosumi JSON. Returns where
        it is shown (JSON, kept as ``lock.message``), or None when there is nowhere to show it."""

    async def lock_resolved(
        self, execution: Execution, lock: Call, approvers: Sequence[str]
    ) -> None:
        """A lock was answered, rejected, expired or cancelled (``lock.status`` says which);
        ``approvers``: a quorum lock's approvers. ``lock.message`` is where it was shown."""

    async def voted(self, execution: Execution, lock: Call, approvers: Sequence[str]) -> None:
        """A quorum lock took a response and waits for more; ``approvers`` approved so far."""

    async def reminder(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        """Nudge about a lock still open (past its deadline when ``lock.deadline`` is past);
        ``people`` may answer it (named approvers, and those added by escalation)."""

    async def escalated(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        """``people`` (user ids, or ``S…`` user groups) may now answer; tell them."""

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        """``actor`` pushed the lock's deadline back; ``lock.deadline`` is the new one."""


class Store(Protocol):
    """The durable store. Each method is one transaction, whole or not at all. Every write
    that decides something is a compare-and-set: when two callers race, exactly one wins, and
    the others learn it from the return value."""

    async def close(self) -> None: ...

    async def checkpoint(self) -> None:
        """Housekeeping the periodic sweep may run (SQLite: fold the WAL into the file)."""

    # executions

    async def create_execution(self, row: dict[str, Any], event: NewEvent) -> Execution | None:
        """Insert a new execution, claimed by ``row["owner"]``; None if the id exists."""

    async def execution(self, execution_id: str) -> Execution | None: ...

    async def executions(
        self, *, initiator: str | None = None, status: Sequence[str] = (), limit: int = 20
    ) -> list[Execution]:
        """Newest first."""

    async def claim(self, execution_id: str, claim: Claim) -> tuple[Execution, list[Call]] | None:
        """The right to run an execution that has work to do, with its recorded calls; None if
        it has none or a live process holds it."""

    async def heartbeat(self, execution_id: str, owner: str, now: float) -> bool: ...

    async def runnable(self, stale_before: float, limit: int = 500) -> list[str]:
        """Executions with work and no live owner: crashed runs and unclaimed resolutions."""

    async def suspend(
        self,
        execution_id: str,
        owner: str,
        wakeups: int,
        now: float,
        new_calls: Sequence[dict[str, Any]],
        new_timers: Sequence[dict[str, Any]],
        new_events: Sequence[NewEvent],
        awaiting: NewEvent,
    ) -> bool:
        """Record what a run opened and, if nothing woke the execution meanwhile (``wakeups``
        unchanged), mark it awaiting and release it. False: run it again."""

    async def finish(
        self,
        execution_id: str,
        owner: str,
        now: float,
        status: str,
        result: Any,
        error: str | None,
        event: NewEvent,
    ) -> bool:
        """End an execution ``owner`` holds; its open calls and pending timers end with it."""

    async def cancel(self, execution_id: str, now: float, reason: str, event: NewEvent) -> bool:
        """End a live execution from outside; False if it had already ended."""

    # calls

    async def add(
        self,
        execution_id: str,
        now: float,
        new_calls: Sequence[dict[str, Any]] = (),
        new_timers: Sequence[dict[str, Any]] = (),
        new_events: Sequence[NewEvent] = (),
        progress: int = 0,
    ) -> None:
        """Record facts of a running execution (steps, progress, locks)."""

    async def call(self, call_id: str) -> Call | None: ...

    async def calls_by_id(self, call_ids: Sequence[str]) -> list[Call]: ...

    async def calls(self, execution_id: str, *, open_only: bool = False) -> list[Call]:
        """In ``seq`` order."""

    async def decide(
        self,
        call_id: str,
        now: float,
        *,
        status: str,
        result: Any = None,
        actor: str | None = None,
        comment: str | None = None,
        event: NewEvent,
        claim: Claim | None = None,
    ) -> Decided | None:
        """Close an open call and wake its execution (claimed for ``claim`` when no live
        process holds it). Exactly one caller gets the execution back, with where the call is
        shown; the rest get None."""

    async def mark_posted(self, call_id: str, message: Any) -> Call | None:
        """A surface has shown this lock at ``message``; returns the lock as it now stands."""

    async def unposted_locks(self, created_before: float, limit: int = 100) -> list[Call]:
        """Open locks no surface has shown, created before ``created_before``."""

    # events

    async def append(self, execution_id: str, now: float, *new: NewEvent) -> None: ...

    async def events(self, execution_id: str) -> list[Event]:
        """Oldest first."""

    async def trail(self, execution_id: str) -> Trail | None:
        """A run with its calls and its whole audit trail, read together."""

    async def votes(self, lock: Call) -> list[Event]:
        """A quorum lock's responses (``approved``, ``declined``), oldest first."""

    async def vote(
        self, call_id: str, now: float, event: NewEvent
    ) -> tuple[bool, list[Event]] | None:
        """Record a response to an open quorum lock under the lock's row lock, so answers that
        arrive together count each other; returns whether it was recorded (a person's second
        approval is not) and every response so far. None: the lock is no longer open."""

    # timers

    async def due_timers(self, now: float, limit: int = 500) -> list[Timer]:
        """Pending timers due at ``now`` or before, earliest first."""

    async def fire_closing(
        self, closing: Sequence[Closing], now: float, claim: Claim
    ) -> dict[int, Execution]:
        """Fire timers that close their call, each exactly once across processes: the ids of
        the timers this caller fired, with the execution each woke."""

    async def fire_only(self, timer: Timer, now: float) -> bool:
        """Fire a timer that closes nothing (a reminder): True for the one caller that does."""

    async def retry_timer(self, timer: Timer, due_at: float) -> None:
        """A fired timer whose action failed goes back to pending, due at ``due_at``."""

    async def snooze(self, call_id: str, by: float, now: float, event: NewEvent) -> Call | None:
        """Push an open lock's deadline (and its deadline timer) back; None if not open."""
