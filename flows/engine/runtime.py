"""``Engine``: the runtime's front door. Every surface (Slack, tests, a script) starts runs,
answers locks, snoozes, cancels and reads through it, and gets a typed outcome back. Behind
it: ``reads`` (its read side), ``answers`` (deciding locks, ending runs), ``guard`` (who may
see and do what), ``runs`` (running executions), ``timers`` and ``delivery`` (showing what
happened).

Every fact is committed before it is announced. A waiting execution holds no coroutine: an
answer (or a timer, or recovery after a crash) wakes it, and it is replayed from the top with
recorded answers (``flows.engine.replay``). At most one process runs an execution at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any, get_args

from flows.app import FlowApp, Launch, Registry, Request
from flows.codec import encode
from flows.engine import entries
from flows.engine.access import NoDirectory
from flows.engine.answers import Answers
from flows.engine.clock import SystemClock
from flows.engine.delivery import HOLD, Deliverer
from flows.engine.guard import Guard
from flows.engine.holding import Holding
from flows.engine.managing import Managing
from flows.engine.notifiers import NullNotifier
from flows.engine.observers import NullObserver
from flows.engine.outcomes import (
    Cancel,
    Cancelled,
    Decision,
    Launched,
    Snoozed,
)
from flows.engine.ports import Clock, Directory, Notifier, Observer, Store
from flows.engine.reads import Reads
from flows.engine.records import (
    TERMINAL,
    Claimed,
    Health,
    NewEvent,
    RunQuery,
    Status,
    Timer,
    Workspace,
)
from flows.engine.runs import Runs
from flows.engine.scope import ids
from flows.engine.setup import EngineConfig, Setup, new_id
from flows.engine.timers import Timers
from flows.errors import FlowConfigError, LockstepError, NotStorable
from flows.files import FileStore, with_uploads
from flows.forms import redacted
from flows.parse import parse
from flows.submitted import as_submitted
from flows.text import cleaned

log = logging.getLogger("lockstep.engine")


class UnknownFlow(LockstepError, LookupError):
    """``start``/``prepare`` named a flow no loaded ``FlowApp`` registers."""


class Engine(Reads, Holding):
    def __init__(
        self,
        store: Store,
        apps: Registry | Iterable[FlowApp],
        notifier: Notifier | None = None,
        clock: Clock | None = None,
        config: EngineConfig | None = None,
        directory: Directory | None = None,
        files: FileStore | None = None,
        *,
        observer: Observer | None = None,
    ) -> None:
        """``observer`` is told what happens (runs, decisions, timers, deliveries) as it
        happens: how a surface counts it."""
        self.registry = apps if isinstance(apps, Registry) else Registry(apps)
        self.clock: Clock = clock or SystemClock()
        self.config = config or EngineConfig()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._store = store
        self._takeover = self.config.takeover
        self._directory: Directory = directory or NoDirectory()
        self.observer: Observer = observer or NullObserver()
        self._deliver = Deliverer(
            store, notifier or NullNotifier(), self.clock, self.registry, self.owner,
            lease=self.config.takeover * 0.75, observer=self.observer,
        )  # fmt: skip
        self.on_change: Callable[[str], None] | None = None
        config = self.config
        setup = Setup(
            store, self.clock, self.registry, self._changed, self.owner,
            config.default_timeout, config.heartbeat_interval, config.claim_ttl, files,
            observer=self.observer, shown=self._shown,
            taking=self._deliver.taking, taken=self._taken,
        )  # fmt: skip
        self._runs = Runs(setup)
        self._timers = Timers(self._runs)
        self._guard = Guard(store, self.clock, self.registry, self._directory, self._told)
        self._answers = Answers(self._guard, self._runs, self._changed)
        self._managing = Managing(self._guard, self._runs, self._changed)
        self._probe: asyncio.Future[Health] | None = None  # ``health``'s, while under way

    def _changed(self, execution_id: str, woken: bool = False) -> None:
        """A run's state changed in this process: show it, and tell ``on_change`` (a feed of
        run events wakes its readers at once instead of at its next poll). ``woken``: this
        process is about to run it, so what it shows next goes with this (``HOLD``)."""
        self._deliver.soon(execution_id, HOLD if woken else 0.0)
        self._told(execution_id)

    def _taken(self, execution_id: str, claimed: Claimed | None) -> None:
        """As ``_changed``, with the run's rows claimed in the transaction that changed it
        (None: it claimed none, and changed nothing this process shows)."""
        self._deliver.taken(execution_id, claimed)
        if claimed is not None:
            self._told(execution_id)

    async def _shown(self, execution_id: str) -> None:
        """Show what the run shows now (held or not), and wait until it is shown."""
        self._deliver.soon(execution_id)
        await self._deliver.idle(execution_id)

    def _told(self, execution_id: str) -> None:
        """Only the run's audit trail grew (nothing to show): tell ``on_change``."""
        if self.on_change is not None:
            self.on_change(execution_id)

    @property
    def timer_hook(self) -> Callable[[float], None] | None:
        """Told when the earliest of some new timers is due (the scheduler plans it)."""
        return self._runs.timer_hook

    @timer_hook.setter
    def timer_hook(self, hook: Callable[[float], None] | None) -> None:
        self._runs.timer_hook = hook

    # starting -------------------------------------------------------------------------------

    async def prepare(
        self, flow: str, inputs: Mapping[str, Any] | None, request: Request | None = None
    ) -> Launch:
        """Validate the entry form and call the enter handler: what would start. Raises
        ``UnknownFlow``, ``InputsError`` (from the parser or the enter handler), or
        ``EntryFailed`` (the flow's code failed: see ``EntryProblem``)."""
        spec = self.registry.entries.get(flow)
        if spec is None:
            raise UnknownFlow(f"no flow named {flow!r}")
        request, raw = request or Request(flow=flow), cleaned(dict(inputs or {}))
        values = parse(spec.model, raw) if spec.model else dict(raw)
        if spec.model is not None:
            request = with_uploads(request, spec.model, raw)
            values = as_submitted(spec.model, values, raw) if spec.kodosumi else values
        return await entries.enter(spec, values, request)

    async def launch(
        self,
        launch: Launch,
        *,
        execution_id: str | None = None,
        workspace: Workspace | None = None,
    ) -> Launched:
        """Record a prepared launch and run it, in ``workspace`` (None: the single one). With
        ``execution_id`` given, a second launch with the same id changes nothing (and says
        so: ``new`` is False), however close together the two come."""
        request = launch.request
        spec = self.registry.entries.get(request.flow)
        eid = execution_id or new_id()
        now = self.clock.now()
        try:
            stored = encode(launch.inputs)
        except NotStorable as exc:
            raise FlowConfigError(f"inputs of {request.flow!r} cannot be recorded: {exc}") from exc
        row = {
            "id": eid, "flow": request.flow, "runner": launch.runner, "inputs": stored,
            "status": "starting", "initiator": request.user, "context": dict(request.context),
            "created_at": now, "updated_at": now, "wakeups": 0, "progress": 0,
            "owner": self.owner, "heartbeat_at": now,
        }  # fmt: skip
        if workspace is not None:
            row |= workspace.model_dump()
        detail = {"inputs": redacted(spec.model if spec else None, stored)}
        execution = await self._store.create_execution(
            row, NewEvent(kind="started", actor=request.user, detail=detail)
        )
        if execution:  # created claimed by this process: it runs at once
            log.info("run of %s started", request.flow, extra=ids(eid))
            self.observer.run_started(request.flow)
            self._changed(eid, woken=True)
            self._runs.wake(eid, execution, [])
        return Launched(eid, execution is not None)

    async def start(
        self,
        flow: str,
        inputs: Mapping[str, Any] | None = None,
        request: Request | None = None,
        *,
        execution_id: str | None = None,
        workspace: Workspace | None = None,
    ) -> str:
        """``prepare`` then ``launch``: the whole start of a flow."""
        launch = await self.prepare(flow, inputs, request or Request(flow=flow))
        return (await self.launch(launch, execution_id=execution_id, workspace=workspace)).id

    # answers --------------------------------------------------------------------------------

    async def submit(
        self,
        lock_id: str,
        inputs: Mapping[str, Any],
        actor: str | None,
        *,
        workspace: Workspace | None = None,
        request: str | None = None,
    ) -> Decision:
        """Parse and validate a submission, run the lease handler, and resolve the lock. What
        people typed is cleaned first (``flows.text.clean``): every backend can store it.
        ``workspace``: where the answer comes from (a lock of another is ``GONE``); every
        method taking one applies ``access.within``. ``request`` names the request asking:
        the answer's event in the audit trail records it (``detail["request"]``), so a
        client sending it again can find what its first try did."""
        return await self._answers.submit(
            lock_id, inputs, actor, workspace=workspace, request=request
        )

    async def reject(
        self,
        lock_id: str,
        actor: str | None,
        comment: str | None = None,
        *,
        workspace: Workspace | None = None,
        request: str | None = None,
    ) -> Decision:
        """Cancel pressed: a real decision. The flow's ``tracer.lock`` raises ``LockRejected``.
        A comment is cleaned and at most ``MAX_TEXT`` characters (longer: ``INVALID``, under
        ``comment``). ``request``: as in ``submit``."""
        return await self._answers.reject(
            lock_id, actor, comment, workspace=workspace, request=request
        )

    async def snooze(
        self,
        lock_id: str,
        actor: str | None,
        *,
        workspace: Workspace | None = None,
        request: str | None = None,
    ) -> Snoozed:
        """Push an open lock's deadline back by its policy's ``snooze``. Open to whoever may
        decide the lock, the run's initiator and its flow's admins. ``request`` names the
        request asking (a click's trigger id): the same one again snoozes nothing more."""
        return await self._managing.snooze(lock_id, actor, workspace=workspace, request=request)

    async def cancel(
        self,
        execution_id: str,
        actor: str | None,
        reason: str | None = None,
        *,
        workspace: Workspace | None = None,
        expire: bool = False,
    ) -> Cancelled:
        """Cancel a live execution from outside; its open locks close (``expire``: they
        expire, with ``reason``). A person (``actor``) must have started it or be one of its
        flow's admins; ``None`` is the system itself."""
        return await self._managing.cancel(
            execution_id, actor, reason, workspace=workspace, expire=expire
        )

    # workspaces -----------------------------------------------------------------------------

    async def end_workspace(self, workspace: Workspace, reason: str) -> int:
        """The app left ``workspace`` (uninstalled, or its bot token revoked): each of its
        live runs ends, cancelled with ``reason``, its open locks expired with it (the audit
        trail, the outbox and webhooks record it). Returns how many runs ended."""
        ended, seen = 0, set[str]()
        live = tuple(s for s in get_args(Status) if s not in TERMINAL)
        while page := await self._store.search(
            RunQuery(workspace=workspace, status=live, limit=100)
        ):
            fresh = [e for e in page if e.id not in seen]
            if not fresh:
                break  # still live after a cancel: another process is ending them
            for execution in fresh:
                seen.add(execution.id)
                done = await self.cancel(execution.id, None, reason, expire=True)
                ended += done.outcome is Cancel.CANCELLED
        log.info("workspace %s left: %d runs ended", workspace.team_id, ended)
        return ended

    # timers and upkeep ----------------------------------------------------------------------

    async def due(self, within: float, limit: int = 500) -> list[Timer]:
        """Pending timers due within ``within`` seconds from now (or overdue)."""
        return await self._store.due_timers(self.clock.now() + within, limit)

    async def fire(self, timers: list[Timer]) -> int:
        """Fire timers due together (each once across processes); returns how many fired here."""
        return await self._timers.fire_many(timers)

    async def fire_due(self, limit: int = 500) -> int:
        """Fire every timer due now (lock deadlines, reminders, durable sleeps)."""
        return await self._timers.fire_many(await self._store.due_timers(self.clock.now(), limit))

    async def sweep(self) -> None:
        """Periodic upkeep: due timers, runs whose process died, whatever people should see
        and do not yet (deliveries that failed or whose process died), quorum locks met
        whose deciding process died, and the store's housekeeping."""
        await self.fire_due()
        await self._runs.recover()
        self._deliver.drain()
        await self._answers.settle(self.clock.now() - self._runs.setup.claim_ttl)
        await self._store.checkpoint()

    async def backlog(self) -> tuple[int, float | None]:
        """How many messages wait to be shown, and how long the oldest has waited."""
        return await self._store.backlog(self.clock.now())

    async def health(self, timeout: float = 2.0) -> Health:
        """How this process's runtime is doing: whether the store answers (within
        ``timeout`` seconds) with a current schema, the outbox's backlog, and whether this
        process's deliverer is stuck or stopped. For readiness probes and metrics; never
        raises. Callers while a probe is under way share its answer: a flood of probes
        (``/readyz`` answers anyone) asks the store once at a time."""
        if self._probe is None:
            probe = asyncio.ensure_future(self._health(timeout))
            self._probe = probe
            probe.add_done_callback(self._probed)
        return await asyncio.shield(self._probe)

    def _probed(self, probe: asyncio.Future[Health]) -> None:
        if self._probe is probe:
            self._probe = None

    async def _health(self, timeout: float) -> Health:
        busy, delivering = self._deliver.busy(), not self._deliver.closed
        problem = await self._store.health(timeout)
        if problem is not None:
            return Health(store=problem, busy=busy, delivering=delivering)
        try:
            backlog, oldest = await self._store.backlog(self.clock.now())
        except Exception as exc:  # the database went away since it answered
            why = f"database: {type(exc).__name__}"
            return Health(store=why, busy=busy, delivering=delivering)
        return Health(backlog=backlog, oldest=oldest, busy=busy, delivering=delivering)

    async def open_locks(self) -> dict[str, int]:
        """How many locks wait for people, by flow (in the whole store)."""
        return await self._store.open_locks()

    async def recover(self) -> int:
        """Wake executions that have work and no live owner (a crashed process's runs)."""
        return await self._runs.recover()

    # lifecycle ------------------------------------------------------------------------------

    async def settled(self, execution_id: str) -> None:
        """Wait until this process has nothing left to do for the execution (running it, and
        showing what it did)."""
        await self._runs.settled(execution_id)
        await self._deliver.idle(execution_id)

    async def idle(self) -> None:
        """Wait until this process runs and shows nothing."""
        await self._runs.idle()
        await self._deliver.idle()

    async def close(self) -> None:
        """Stop in-flight runs and deliveries. Nothing is lost: their claims and leases go
        stale and another process (or this one, restarted) takes them over."""
        await self._runs.close()
        await self._deliver.close()
