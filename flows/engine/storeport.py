"""The store port: what the engine needs of its durable store (``store.SQLStore`` is the one
implementation; ``flows.engine.ports`` re-exports it beside the other ports)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from flows.engine.records import (
    Call,
    Claim,
    Claimed,
    Closing,
    Delivery,
    Event,
    Execution,
    Held,
    NewEvent,
    Post,
    RunQuery,
    ShowState,
    Take,
    Timer,
    Trail,
    Workspace,
)


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
        self,
        *,
        initiator: str | None = None,
        status: Sequence[str] = (),
        limit: int = 20,
        workspace: Workspace | None = None,
    ) -> list[Execution]:
        """Newest first; with ``workspace``, that workspace's only."""

    async def search(self, query: RunQuery) -> list[Execution]:
        """Executions matching ``query``, newest first (``created_at``, then ``id``), those
        after ``query.before`` only: a page of a listing."""

    async def find_executions(
        self, prefix: str, limit: int = 5, workspace: Workspace | None = None
    ) -> list[str]:
        """Ids of executions whose id starts with ``prefix``, whatever the case; at most
        ``limit``, in id order (how people name a run by a short id); with ``workspace``,
        that workspace's only."""

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
        take: Take | None = None,
    ) -> tuple[bool, Claimed | None]:
        """Record what a run opened and, if nothing woke the execution meanwhile (``wakeups``
        unchanged), mark it awaiting and release it. False: run it again. With ``take``, the
        run's due outbox rows are claimed for that deliverer in the same transaction (as
        ``claim_deliveries`` would) and returned with what they show."""

    async def finish(
        self,
        execution_id: str,
        owner: str,
        now: float,
        status: str,
        result: Any,
        error: str | None,
        event: NewEvent,
        posts: Sequence[Post] = (),
        take: Take | None = None,
    ) -> tuple[bool, Claimed | None]:
        """End an execution ``owner`` holds; its open calls and pending timers end with it.
        Its message and its open locks' are shown again; ``posts`` are added. With ``take``
        (and if it ended), the run's due rows are claimed as ``suspend`` says."""

    async def cancel(
        self,
        execution_id: str,
        now: float,
        reason: str,
        event: NewEvent,
        posts: Sequence[Post] = (),
        *,
        expire: bool = False,
    ) -> bool:
        """End a live execution from outside; False if it had already ended. ``expire``: its
        open locks expire (with ``reason`` as their comment, and an ``expired`` event each)
        instead of being cancelled with it."""

    # calls

    async def add(
        self,
        execution_id: str,
        now: float,
        new_calls: Sequence[dict[str, Any]] = (),
        new_timers: Sequence[dict[str, Any]] = (),
        new_events: Sequence[NewEvent] = (),
        progress: int = 0,
        posts: Sequence[Post] = (),
    ) -> None:
        """Record facts of a running execution (steps, progress, locks, with a message for each
        new lock) and the ``posts`` they make."""

    async def call(self, call_id: str) -> Call | None: ...

    async def call_and_run(self, call_id: str) -> tuple[Call, Execution] | None:
        """A call and its execution, read together; None if there is no such call."""

    async def calls_by_id(self, call_ids: Sequence[str]) -> list[Call]: ...

    async def calls(self, execution_id: str, *, open_only: bool = False) -> list[Call]:
        """In ``seq`` order."""

    async def open_locks_of(self, execution_ids: Sequence[str]) -> dict[str, list[Call]]:
        """The open locks of each of these executions, in ``seq`` order, read together."""

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
        votes: int | None = None,
    ) -> tuple[Execution, list[Call] | None] | None:
        """Close an open call and wake its execution (claimed for ``claim`` when no live
        process holds it); the call's message is shown again. Exactly one caller gets the
        execution back, with its calls when ``claim`` took it (else None); the rest get
        None. With ``votes``, only while the call has exactly that many responses (``vote``
        takes the same row lock): else None, and the call stays open."""

    # events

    async def append(self, execution_id: str, now: float, *new: NewEvent) -> None: ...

    async def refuse(
        self, execution_id: str, now: float, event: NewEvent, call_id: str, draft: Any
    ) -> bool:
        """Record a refused answer (``event``); the lock's message shows ``draft`` (errors and
        values; None: as it is) until the lock is decided. False, and nothing recorded, when
        the lock is no longer open (decided meanwhile)."""

    async def events(self, execution_id: str, after: int = 0) -> list[Event]:
        """Oldest first; with ``after``, only those with a larger id."""

    async def trail(self, execution_id: str) -> Trail | None:
        """A run with its calls and its whole audit trail, read together."""

    async def votes(self, lock: Call) -> list[Event]:
        """A quorum lock's responses (``approved``, ``declined``), oldest first."""

    async def stalled_quorums(self, before: float, limit: int = 100) -> list[Call]:
        """Open locks of live runs approved by two people or more, none of whose responses
        came after ``before`` (a quorum met whose deciding process may have died), oldest
        first."""

    async def vote(
        self, call_id: str, now: float, event: NewEvent
    ) -> tuple[bool, list[Event]] | None:
        """Record a response to an open quorum lock under the lock's row lock, so answers that
        arrive together count each other; returns whether it was recorded (an approval from
        someone whose latest response is one is not) and every response so far. None: the
        lock is no longer open."""

    # timers

    async def due_timers(self, now: float, limit: int = 500) -> list[Timer]:
        """Pending timers due at ``now`` or before, earliest first."""

    async def fire_closing(
        self, closing: Sequence[Closing], now: float, claim: Claim
    ) -> dict[int, Execution]:
        """Fire timers that close their call, each exactly once across processes: the ids of
        the timers this caller fired, with the execution each woke."""

    async def fire_only(
        self,
        timer: Timer,
        now: float,
        posts: Sequence[Post] = (),
        new_events: Sequence[NewEvent] = (),
        new_timers: Sequence[dict[str, Any]] = (),
    ) -> bool:
        """Fire a timer that closes nothing (a reminder), with what it says, means and plans
        next: True for the one caller that does."""

    async def snooze(
        self,
        call_id: str,
        by: float,
        now: float,
        event: NewEvent,
        posts: Sequence[Post] = (),
        reminders: Callable[[float], Sequence[float]] | None = None,
    ) -> Call | None:
        """Push an open lock's deadline (and its deadline timer) back; None if not open. Its
        reminders not yet due are planned afresh: ``reminders(new deadline)``, those after
        ``now``."""

    # the outbox

    async def claim_deliveries(
        self, owner: str, now: float, lease: float, limit: int = 50, execution: str | None = None
    ) -> tuple[list[Delivery], dict[int, ShowState]]:
        """Take due rows (of one ``execution``; ``""``: the rows about no run, App Homes;
        None: any) for ``owner`` until ``now + lease``, oldest first; a run's new messages in
        order. Each claim counts as an attempt. With the rows, what each shows (as
        ``show_states``), read in the same transaction."""

    async def show_states(
        self, rows: Sequence[tuple[int, str | None, str | None]]
    ) -> dict[int, ShowState]:
        """What each ``(row id, execution id, call id)`` shows, read together (no execution id:
        a row about no run, an App Home)."""

    async def delivered(
        self,
        owner: str,
        shown: Sequence[tuple[int, int, Any]],
        now: float,
        *,
        placed: bool,
        again: Mapping[int, float] | None = None,
    ) -> dict[int, int]:
        """``owner`` showed each ``(row id, version, where)``; ``placed``: one of them is a
        run's message shown for the first time (the App Homes, which link it, are shown again).
        Returns the rows whose state changed meanwhile, with the version to show now (``owner``
        keeps their lease); the others are settled, and those in ``again`` are due to be shown
        once more, as they are then, at the time it gives."""

    async def retry_delivery(
        self, row_id: int, owner: str, due_at: float, error: str | None, tried: bool, now: float
    ) -> None:
        """Give a claimed row back, due again at ``due_at``; ``tried`` False: not attempted."""

    async def run_shown_at(self, execution_id: str) -> Any:
        """Where the run's message is shown (as the notifier said), or None (not yet, or
        nowhere)."""

    async def lock_shown_at(self, call_id: str) -> Any:
        """Where the lock's message is (the notifier's answer, recorded when it was shown);
        None while it is not shown yet, or for no such lock."""

    async def renew_deliveries(self, row_ids: Sequence[int], owner: str, until: float) -> None:
        """``owner`` is still showing these rows: extend its lease until ``until``."""

    async def backlog(self, now: float) -> tuple[int, float | None]:
        """How many rows wait to be shown, and how long the oldest has waited."""

    async def open_home(self, user: str, workspace: Workspace, now: float) -> None:
        """``user`` opened the App Home in ``workspace``: keep a row for it (``home``, about
        no run, its ``payload`` naming the user and the workspace), due now, and bump it with
        every run's or lock's change from now on."""

    async def refresh_homes(self, users: Sequence[str], workspace: Workspace, now: float) -> None:
        """Who these users may answer changed (they joined or left a channel or a group): show
        again the App Homes of theirs that are kept (never made here)."""

    # operations

    async def health(self, timeout: float) -> str | None:
        """None when the database answers within ``timeout`` seconds (on a connection of its
        own: a database that hangs costs the probe, not the store's work) and its schema is
        not behind this code's; else why not, in a line naming the part (``database: ...``,
        ``schema: ...``). Never raises."""

    async def open_locks(self) -> dict[str, int]:
        """How many locks are open, by flow."""

    # held requests (``Engine.hold``)

    async def hold(self, row: dict[str, Any]) -> bool:
        """Store a ``Held`` row (with ``owner`` and ``until``); False if its key is held."""

    async def let_go(self, key: str, kept_until: float) -> None:
        """The request was handled: its payload goes, its key is kept until ``kept_until``
        (``hold`` of it is False till then), then goes too (none: nothing)."""

    async def take_held(self, owner: str, now: float, until: float, limit: int) -> list[Held]:
        """Rows not handled whose ``until`` passed before ``now``, each now ``owner``'s until
        ``until`` (one taker wins), oldest first."""
