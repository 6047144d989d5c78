"""What the engine needs from the world, stated once: the store, the notifier, the directory,
the clock, where runs' files are (``Files``, the SDK's ``FileStore``: the engine hands it to
each run's tracer for ``tracer.fs()``), and an observer told what happens (metrics). Each is a
protocol with its contract in the docstrings; adapters implement them (``store.SQLStore``;
``bot.notifier.SlackNotifier``, ``bot.directory.SlackDirectory``, ``bot.files.SlackFiles`` and
``bot.metrics.Metrics``) and the contract tests in
``tests/test_ports.py`` run over every implementation."""

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
    Show,
    ShowState,
    Take,
    Timer,
    Trail,
    Workspace,
)
from flows.errors import LockstepError
from flows.files import FileStore as Files

__all__ = ["Clock", "Directory", "Files", "NoAnswer", "Notifier", "Store", "Unavailable"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC. The engine never reads the wall clock otherwise."""


class Directory(Protocol):
    """Who is who: resolves the names flows give for people (``approvers``, ``admins``,
    escalations) besides a user's own id. Answers may be cached briefly."""

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        """Is ``user`` in the group ``principal`` names, or (``"channel"``) a member of the
        run's channel (``context`` is the run's: its surface's ids, and its ``workspace``, a
        ``Workspace``)? False if unknown. When
        ``principal`` names one person: does ``user`` act for them (an API token answering on
        their behalf)? Then four-eyes holds ``user`` to be that person."""

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        """Is ``user`` (a person; a user group: any of its members) among the people who see
        the run where it is shown (Slack: a member of its channel)? A lock that names no
        ``approvers`` is theirs to answer. False for a run shown nowhere that has members
        (started without a channel): only those its locks name answer it."""

    async def person(self, user: str, context: Mapping[str, Any]) -> str:
        """The one person ``user`` is when a quorum counts different people: a person is
        themselves; someone who acts for exactly one person (an API token answering on their
        behalf) is that person; one who may act for any of several is only itself."""


class NoAnswer(LockstepError):
    """Raised by a directory that could not find out in time (Slack slow or failing): whether
    someone may act is unknown, so what they asked is not done; they may ask again."""


class Unavailable(LockstepError):
    """Raised by a notifier whose surface refuses for now (rate limited, down): nothing was
    shown; try again after ``retry_after`` seconds (None: back off as usual)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Refused(Unavailable):
    """Raised by a notifier whose surface refuses a row until something outside the bot
    changes (Slack: the channel archived, the bot not invited or removed, a person
    deactivated): nothing was shown. The row is tried again with the usual backoff (a refusal
    may also pass: the bot invited a moment later), up to 10 minutes apart; it is not an
    outage, so it is no backlog, and neither are the run's messages waiting behind it."""


REFUSED = "Refused: "  # how a refused row's error starts (the store leaves those out of backlog)


AGAIN_AT = "again_at"  # in a location: when to show the row once more (epoch seconds)


class Notifier(Protocol):
    """Shows people what the store says they should see. The engine's deliverer calls it for
    each outbox row that is behind, with the state read just before (``Show``), one row at a
    time per message and per process.

    Returns where the message is (JSON, kept and handed back as ``location``), or None when
    there is nowhere to show it (a run started without a surface). Raising means not shown:
    the row is tried again with backoff (``Unavailable`` says when), never dropped. When
    ``retry`` is set, an earlier attempt may have posted the message (the process died, or
    the answer was lost): look for ``key`` first and adopt what is found, so nothing is posted
    twice. Showing the same version twice must leave the same message. A location whose
    ``AGAIN_AT`` is a time asks for the row to be shown once more then (the surface is unsure
    of what it shows: a request whose answer it lost may yet take effect)."""

    async def show(self, show: Show) -> Any: ...


class Observer(Protocol):
    """Told what the runtime does, as it happens: how a surface counts it (metrics). Every
    method returns at once and never raises: it is called on the engine's own path.
    ``NullObserver`` ignores everything."""

    def run_started(self, flow: str) -> None:
        """A run of ``flow`` was recorded (once per run, whichever process started it)."""

    def run_ended(self, flow: str, status: str) -> None:
        """A run ended here: ``finished``, ``error`` or ``cancelled``."""

    def lock_decided(self, flow: str, outcome: str, waited: float) -> None:
        """A lock of ``flow`` closed ``waited`` seconds after it opened: ``resolved`` or
        ``rejected`` by a person, ``expired`` by its deadline (whatever its policy then did)."""

    def timer_fired(self, kind: str, lag: float) -> None:
        """A timer (``deadline``, ``remind``, ``escalate``, ``wake``) fired here, ``lag``
        seconds after it was due."""

    def delivered(self, kind: str, ok: bool) -> None:
        """An outbox row (``run``, ``lock``, ``post``, ``direct``) was shown (``ok``) or its
        showing failed (it goes back, with backoff)."""


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
