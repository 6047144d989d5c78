"""The records that cross the store port: small, frozen, typed. The store returns them and takes
them; the engine reasons about them; adapters read them. Tables never leave ``store/``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

Status = Literal["starting", "running", "awaiting", "finished", "error", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"finished", "error", "cancelled"})
CallKind = Literal["lock", "step", "sleep"]
# lock: open -> resolved | rejected | expired | cancelled; step: done | failed; sleep: open -> done
CallStatus = Literal["open", "resolved", "rejected", "expired", "cancelled", "done", "failed"]


# run: the run's message; lock: a lock's; post: in the run's thread; direct: to one person;
# webhook: one event for one webhook subscription (``payload``: its ``subscription``, ``type``
# and ``at``), never shown in Slack; home: one person's App Home (``payload``: its ``user``),
# about no run.
OutboxKind = Literal["run", "lock", "post", "direct", "webhook", "home"]
# Rows that keep no order among a run's messages: they neither wait for its earlier rows (in
# the store's claim, in the deliverer) nor hold its later ones.
UNORDERED: tuple[OutboxKind, ...] = ("direct", "webhook", "home")
WEBHOOK_EVENTS: tuple[str, ...] = (
    "lock.opened",
    "lock.decided",
    "lock.expired",
    "run.finished",
    "run.failed",
    "run.cancelled",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Workspace(_Frozen):
    """The workspace a run, its locks, timers and audit events, or an API token belong to:
    Slack's team id, and its enterprise id on Enterprise Grid. Both empty: the one workspace
    of a single-token bot (and of every row made before workspaces were kept apart). From
    any other workspace, what belongs to one does not exist (``flows.engine.access.within``)."""

    enterprise_id: str = ""
    team_id: str = ""


SINGLE = Workspace()


class Execution(_Frozen):
    """One run of a flow. ``context`` holds the surface's ids (Slack: channel, thread);
    ``team_id`` and ``enterprise_id`` its workspace's."""

    id: str
    flow: str
    runner: str
    inputs: Any
    status: Status
    initiator: str | None
    context: dict[str, Any]
    result: Any
    error: str | None
    created_at: float
    updated_at: float
    owner: str | None
    heartbeat_at: float | None
    wakeups: int
    progress: int
    team_id: str = ""
    enterprise_id: str = ""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def workspace(self) -> Workspace:
        return Workspace(enterprise_id=self.enterprise_id, team_id=self.team_id)


class Call(_Frozen):
    """A recorded call of a flow at position ``seq``: a lock, a step or a durable sleep."""

    id: str
    execution_id: str
    seq: int
    kind: CallKind
    name: str
    status: CallStatus
    data: Any
    form: Any
    result: Any
    actor: str | None
    comment: str | None
    deadline: float | None
    created_at: float
    decided_at: float | None
    policy: Any = None

    @property
    def open(self) -> bool:
        return self.status == "open"


class Event(_Frozen):
    """One fact of the audit trail. Events are only ever appended."""

    id: int
    execution_id: str
    at: float
    kind: str
    actor: str | None
    call_id: str | None
    detail: Any


class NewEvent(_Frozen):
    kind: str
    actor: str | None = None
    call_id: str | None = None
    detail: Any = None


NUDGES = {"remind": "reminder", "escalate": "escalation"}  # timer kinds that only nudge


def missed(call_id: str | None, kind: str, due_at: float, instead: str) -> NewEvent:
    """The audit event of a nudge (``NUDGES``) that was due and never went: no process ran
    then, and ``instead`` (the deadline, a later reminder) came with it."""
    detail = {"timer": NUDGES[kind], "due_at": due_at, "instead": instead}
    return NewEvent(kind="missed", call_id=call_id, detail=detail)


class Timer(_Frozen):
    id: int
    execution_id: str
    call_id: str | None
    kind: str
    due_at: float
    status: Literal["pending", "fired", "cancelled"]
    attempts: int
    fired_at: float | None
    payload: Any


class Post(_Frozen):
    """A message to add where people see the run: ``kind`` ``post`` goes into the run's thread,
    ``direct`` to one person (``payload["to"]``). ``key`` names it for good: a post is shown
    once however often its delivery is tried. ``payload`` says what to show."""

    key: str
    kind: Literal["post", "direct"] = "post"
    call_id: str | None = None
    payload: dict[str, Any]


class Delivery(_Frozen):
    """An outbox row claimed for showing: ``version`` is what to show (or newer), ``location``
    where it is already shown (None: not yet), ``thread`` where its run's thread is (for a row
    in it; ``thread_ready`` False: the run's message is not shown yet), ``lock_at`` where its
    lock is shown. ``attempts`` above 1: an earlier attempt may have posted it already."""

    id: int
    key: str
    execution_id: str | None  # None: a row about no run (an App Home)
    call_id: str | None
    kind: OutboxKind
    payload: Any
    version: int
    location: Any
    attempts: int
    thread: Any = None
    thread_ready: bool = False
    lock_at: Any = None


class Show(_Frozen):
    """One message to show, with the state it shows, read when it is shown: the run's message
    (``run``: ``execution``, its flow's ``summary`` and the locks it is ``waiting`` on), a lock's
    (``lock``: ``lock``, a quorum's ``approvers``, a refused answer's ``payload`` while it is
    open), a post in the run's thread or a direct message (``payload`` says what; ``lock`` the
    lock it is about). ``location``: where this message already is (None: not yet);
    ``thread``: where the run's message is; ``lock_at``: where the lock's message is. ``retry``:
    an earlier attempt may have posted it already, so look for ``key`` before posting again.
    A person's App Home (``home``) is about no run: ``execution`` is None, ``payload`` names
    the ``user``, and the home is read from the store as it is shown."""

    key: str
    kind: OutboxKind
    execution: Execution | None
    summary: str = ""
    lock: Call | None = None
    waiting: list[str] = []
    approvers: list[str] = []
    payload: dict[str, Any] = {}
    location: Any = None
    thread: Any = None
    lock_at: Any = None
    retry: bool = False

    @property
    def run(self) -> Execution:
        """The run the message is about (every kind of row but ``home``)."""
        if self.execution is None:
            raise ValueError(f"{self.key} is about no run")
        return self.execution


class ShowState(NamedTuple):
    """What an outbox row shows, as the store has it now: the run, the call (if the row is
    about one), the names of the locks the run waits on, the call's quorum responses, and the
    row's own payload."""

    execution: Execution | None
    call: Call | None
    waiting: list[str]
    votes: list[Event]
    payload: Any


Claimed = tuple[list[Delivery], dict[int, ShowState]]  # rows claimed, and what each shows


@dataclass(frozen=True)
class Take:
    """A deliverer taking a run's due rows in the transaction that changed the run: for
    ``owner`` until ``lease`` seconds from then, at most ``limit`` rows (as a claim would)."""

    owner: str
    lease: float
    limit: int


class Health(_Frozen):
    """How this process's runtime is doing (``Engine.health``), for readiness and metrics.
    ``store``: why the store cannot be used (None: it answers and its schema is current);
    ``backlog``: outbox rows waiting to be shown, and how long the ``oldest`` has waited (None:
    unknown, the store did not answer; or no row waits); ``busy``: how long this process's
    oldest delivery batch has been under way (None: none is); ``delivering``: False once the
    deliverer has stopped."""

    store: str | None = None
    backlog: int | None = None
    oldest: float | None = None
    busy: float | None = None
    delivering: bool = True


@dataclass(frozen=True)
class Claim:
    """Who wants to run an execution, and which heartbeats count as dead."""

    owner: str
    now: float
    stale_before: float


@dataclass(frozen=True)
class Closing:
    """A due timer that closes its call: how (``status``, ``result``, ``comment``) and the
    event that says so."""

    timer: Timer
    status: str
    event: NewEvent
    result: Any = None
    comment: str | None = None


class RunQuery(_Frozen):
    """Which runs to list, newest first: each filter narrows (None or empty: any).
    ``before``: the ``(created_at, id)`` of the last run of the previous page."""

    flow: str | None = None
    flows: tuple[str, ...] | None = None  # only runs of these (None: of any flow)
    status: tuple[str, ...] = ()
    initiator: str | None = None
    channel: str | None = None
    before: tuple[float, str] | None = None
    limit: int = 20
    workspace: Workspace | None = None  # None: every workspace's (code, not people)


class ApiToken(_Frozen):
    """A bearer token of the HTTP API: ``id`` is its public part, ``secret_hash`` the SHA-256 of
    its secret (the secret itself is never stored). ``scopes``: what it may do (the adapter
    reads them). Revoked tokens are kept, so the audit trail's names stay explained."""

    id: str
    name: str
    secret_hash: str
    scopes: dict[str, Any]
    created_at: float
    revoked_at: float | None = None
    team_id: str = ""
    enterprise_id: str = ""

    @property
    def workspace(self) -> Workspace:
        return Workspace(enterprise_id=self.enterprise_id, team_id=self.team_id)


class Subscription(_Frozen):
    """A webhook subscription: every event of ``events`` (``WEBHOOK_EVENTS``) is sent to
    ``url``, signed with ``secret``. Removed ones are kept (``removed_at``) for their rows."""

    id: int
    url: str
    secret: str
    events: list[str]
    created_at: float
    removed_at: float | None = None


class Held(_Frozen):
    """A person's request held from the moment it arrived until it is handled (``Engine.hold``):
    ``kind`` says which surface's, ``payload`` is what that surface needs to handle it again."""

    key: str
    kind: str
    payload: Any
    attempts: int
    created_at: float


Trail = tuple[Execution, list[Call], list[Event]]
