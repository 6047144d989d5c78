"""What the engine needs from the world, stated once: the store (its protocol in
``storeport``), the notifier, the directory, the clock, where runs' files are (``Files``, the
SDK's ``FileStore``: the engine hands it to each run's tracer for ``tracer.fs()``), and an
observer told what happens (metrics). Each is a protocol with its contract in the docstrings;
adapters implement them (``store.SQLStore``; ``bot.notifier.SlackNotifier``,
``bot.directory.SlackDirectory``, ``bot.files.SlackFiles`` and ``bot.metrics.Metrics``) and the
contract tests in ``tests/test_ports.py`` run over every implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from flows.engine.records import Show
from flows.engine.storeport import Store  # the store port, in a module of its own
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
