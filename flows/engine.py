"""The durable engine: starts executions, takes answers, fires timers, and replays flows.

Every fact is committed before it is announced. A waiting execution holds no coroutine: an
answer (or a timer, or recovery after a crash) wakes it, and it is replayed from the top with
recorded answers. At most one process runs an execution at a time (a claim with a heartbeat).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flows import access, quorum, replay, timers, typed
from flows.access import Directory, Forbidden, NoDirectory
from flows.app import FlowApp, Launch, Registry, Request, call
from flows.clock import Clock, SystemClock
from flows.codec import NotStorable, decode, encode
from flows.decision import Decision, Response, approvers
from flows.errors import FlowConfigError, InputsError
from flows.forms import Model, redacted
from flows.notifier import Notifier, NullNotifier
from flows.parse import parse
from flows.policy import Policy
from flows.tracer import new_id
from store.models import Call, Execution, NewEvent, Timer
from store.repo import Claim, Store

log = logging.getLogger("lockstep.engine")
BUILT_IN_LEASES = {typed.LOCK: typed.validate}  # typed prompts whose answers need checking


@dataclass(frozen=True)
class EngineConfig:
    default_timeout: float = 3 * 3600.0
    heartbeat_interval: float = 10.0
    claim_ttl: float = 60.0  # a claim whose heartbeat is older than this is taken over


class UnknownFlow(LookupError):
    pass


class UnknownLock(LookupError):
    pass


class UnknownExecution(LookupError):
    pass


class Engine:
    def __init__(
        self,
        store: Store,
        apps: Registry | Iterable[FlowApp],
        notifier: Notifier | None = None,
        clock: Clock | None = None,
        config: EngineConfig | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.store = store
        self.registry = apps if isinstance(apps, Registry) else Registry(apps)
        self.notifier: Notifier = notifier or NullNotifier()
        self.clock: Clock = clock or SystemClock()
        self.config = config or EngineConfig()
        self.directory: Directory = directory or NoDirectory()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wanted: set[str] = set()
        self._claimed: dict[str, Execution] = {}
        self.timer_hook: Callable[[float], None] | None = None  # told the earliest new timer

    # starting -------------------------------------------------------------------------------

    async def prepare(
        self, flow: str, inputs: Mapping[str, Any] | None, request: Request | None = None
    ) -> Launch:
        """Validate the entry form and call the enter handler: what would start. Raises
        ``UnknownFlow``, or ``InputsError`` (from the parser or the enter handler)."""
        spec = self.registry.entries.get(flow)
        if spec is None:
            raise UnknownFlow(f"no flow named {flow!r}")
        request = request or Request(flow=flow)
        values = parse(spec.model, inputs or {}) if spec.model else dict(inputs or {})
        launch = await call(spec.handler, inputs=values, request=request)
        if not isinstance(launch, Launch):
            raise FlowConfigError(f"enter handler of {flow!r} must return Launch(...)")
        return launch

    async def launch(self, launch: Launch, *, execution_id: str | None = None) -> str:
        """Record a prepared launch and run it. With ``execution_id`` given, a second launch
        with the same id changes nothing."""
        request = launch.request
        spec = self.registry.entries.get(request.flow)
        eid = execution_id or new_id()
        now = self.clock.now()
        try:
            stored = encode(dict(launch.inputs or {}))
        except NotStorable as exc:
            raise FlowConfigError(f"inputs of {request.flow!r} cannot be recorded: {exc}") from exc
        row = {
            "id": eid, "flow": request.flow, "runner": launch.runner, "inputs": stored,
            "status": "starting", "initiator": request.user, "context": dict(request.context),
            "created_at": now, "updated_at": now, "wakeups": 0, "progress": 0,
            "owner": self.owner, "heartbeat_at": now,
        }  # fmt: skip
        detail = {"inputs": redacted(spec.model if spec else None, stored)}
        execution = await self.store.create_execution(
            row, NewEvent(kind="started", actor=request.user, detail=detail)
        )
        if execution:  # created claimed by this process: it runs at once
            await self.announce("status_changed", execution)
            self.wake(eid, execution)
        return eid

    async def start(
        self,
        flow: str,
        inputs: Mapping[str, Any] | None = None,
        request: Request | None = None,
        *,
        execution_id: str | None = None,
    ) -> str:
        """``prepare`` then ``launch``: the whole start of a flow."""
        launch = await self.prepare(flow, inputs, request or Request(flow=flow))
        return await self.launch(launch, execution_id=execution_id)

    # answers --------------------------------------------------------------------------------

    async def submit(self, lock_id: str, inputs: Mapping[str, Any], actor: str | None) -> Decision:
        """Parse and validate a submission, run the lease handler, and resolve the lock."""
        lock = await self.lock(lock_id)
        if not lock.open:
            return Decision("decided", lock)
        if refused := await self._refuse(lock, actor, "submit"):
            return refused
        form = Model.from_json(lock.form)
        policy = Policy.from_json(lock.policy)
        earlier = await quorum.responses(self.store, lock) if policy.quorum > 1 else ()
        try:
            values = parse(form, inputs)
            if actor is not None and actor in approvers(earlier):
                return Decision("repeat", lock, responses=earlier)
            mine = Response(actor, True, values, None, self.clock.now())
            lease = self.registry.leases.get(lock.name) or BUILT_IN_LEASES.get(lock.name)
            value = (
                await call(lease, inputs=values, data=decode(lock.data), responses=[*earlier, mine])
                if lease
                else values
            )
            result = encode(value)
        except InputsError as exc:
            detail = {"inputs": redacted(form, encode_loose(inputs)), "errors": exc.wire()}
            invalid = NewEvent(kind="invalid", actor=actor, call_id=lock.id, detail=detail)
            await self.store.append(lock.execution_id, self.clock.now(), invalid)
            return Decision("invalid", lock, errors=exc.wire(), responses=earlier)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("lease %r failed (error id %s, lock %s)", lock.name, error_id, lock.id)
            detail = {"error_id": error_id}
            failed = NewEvent(kind="lease_failed", actor=actor, call_id=lock.id, detail=detail)
            await self.store.append(lock.execution_id, self.clock.now(), failed)
            return Decision("failed", lock, error_id=error_id)
        detail = {"inputs": redacted(form, encode(values))}
        if policy.quorum > 1:
            return await quorum.approve(self, lock, policy, result, actor, detail)
        return await self.decide(lock, "resolved", result, actor, None, "lease", detail)

    async def reject(self, lock_id: str, actor: str | None, comment: str | None = None) -> Decision:
        """Cancel pressed: a real decision. The flow's ``tracer.lock`` raises ``LockRejected``."""
        lock = await self.lock(lock_id)
        if lock.open and (refused := await self._refuse(lock, actor, "reject")):
            return refused
        policy = Policy.from_json(lock.policy)
        if lock.open and policy.quorum > 1 and not policy.veto:
            return await quorum.decline(self, lock, actor, comment)
        detail = {"comment": comment} if comment else None
        return await self.decide(lock, "rejected", None, actor, comment, "rejected", detail)

    async def authorize(self, lock: Call, actor: str | None, action: str) -> None:
        """Raise ``Forbidden`` (and record the attempt) unless ``actor`` may decide ``lock``."""
        policy = Policy.from_json(lock.policy)
        if not policy.approvers and not policy.exclude_initiator:
            return  # anyone in the channel: nothing to look up
        execution = await self.store.execution(lock.execution_id)
        if execution is None:
            return
        escalated = await timers.escalated_to(self, lock)
        try:
            await access.check(policy, execution, escalated, actor, self.directory)
        except Forbidden:
            refused = NewEvent(
                kind="refused", actor=actor, call_id=lock.id, detail={"action": action}
            )
            await self.store.append(lock.execution_id, self.clock.now(), refused)
            raise

    def admins(self, execution: Execution) -> tuple[str, ...]:
        spec = self.registry.entries.get(execution.flow)
        return spec.admins if spec else ()

    async def manages(self, execution: Execution, actor: str | None) -> bool:
        """Did ``actor`` start the run, or is it one of its flow's admins?"""
        admins = self.admins(execution)
        return await access.manages(admins, actor, execution, self.directory)

    async def manage(
        self, execution: Execution, actor: str | None, action: str, *, channel: bool = False
    ) -> None:
        """Raise ``Forbidden`` (and record the attempt) unless ``actor`` started the run or is
        one of its flow's admins: who may cancel a run, or snooze its locks. ``channel``: its
        channel's members too (who may read its history)."""
        if await self.manages(execution, actor):
            return
        if channel and await access.among(("channel",), actor, execution, self.directory):
            return
        refused = NewEvent(kind="refused", actor=actor, detail={"action": action})
        await self.store.append(execution.id, self.clock.now(), refused)
        raise Forbidden(actor, self.admins(execution), initiator=False)

    async def _refuse(self, lock: Call, actor: str | None, action: str) -> Decision | None:
        try:
            await self.authorize(lock, actor, action)
        except Forbidden as exc:
            return Decision("forbidden", lock, allowed=exc.allowed)
        return None

    async def lock(self, lock_id: str) -> Call:
        """The lock as the store has it now; ``UnknownLock`` if there is none."""
        lock = await self.store.call(lock_id)
        if lock is None or lock.kind != "lock":
            raise UnknownLock(f"no lock with id {lock_id!r}")
        return lock

    async def decide(
        self,
        lock: Call,
        status: str,
        result: Any,
        actor: str | None,
        comment: str | None,
        kind: str,
        detail: Any,
    ) -> Decision:
        """Close ``lock`` (compare-and-set), record ``kind`` in the audit trail and wake the run."""
        now = self.clock.now()
        event = NewEvent(kind=kind, actor=actor, call_id=lock.id, detail=detail)
        execution = await self.store.decide(
            lock.id, now, status=status, result=result, actor=actor, comment=comment, event=event,
            claim=self.claim_for(now),
        )  # fmt: skip
        if execution is None:
            return Decision("decided", await self.lock(lock.id))
        decided = lock.model_copy(
            update={
                "status": status,
                "result": result,
                "actor": actor,
                "comment": comment,
                "decided_at": now,
            }
        )
        await self.announce("lock_resolved", execution, decided)
        self.wake(lock.execution_id, execution)
        return Decision("accepted" if status == "resolved" else "rejected", decided)

    def claim_for(self, now: float) -> Claim:
        return Claim(self.owner, now, now - self.config.claim_ttl)

    async def cancel(self, execution_id: str, actor: str | None, reason: str | None = None) -> bool:
        """Cancel a live execution from outside; its open locks close. False if already ended.
        A person (``actor``) must have started it or be a flow admin (else ``Forbidden``);
        ``None`` is the system itself."""
        execution = await self.store.execution(execution_id)
        if execution is None:
            raise UnknownExecution(f"no execution with id {execution_id!r}")
        if actor is not None:
            await self.manage(execution, actor, "cancel")
        now = self.clock.now()
        why = reason or f"cancelled by {actor or 'someone'}"
        event = NewEvent(kind="cancelled", actor=actor, detail={"reason": why})
        open_locks = await self.store.calls(execution_id, open_only=True)
        if not await self.store.cancel(execution_id, now, why, event):
            return False
        execution = await self.store.execution(execution_id)
        if execution:
            for lock in open_locks:
                if lock.kind == "lock":
                    closed = lock.model_copy(update={"status": "cancelled", "decided_at": now})
                    await self.announce("lock_resolved", execution, closed)
            await self.announce("status_changed", execution)
        return True

    # timers and recovery --------------------------------------------------------------------

    async def fire_due(self, limit: int = 500) -> int:
        """Fire due timers (lock deadlines, durable sleeps); each fires once across processes."""
        return await timers.fire_many(self, await self.store.due_timers(self.clock.now(), limit))

    async def fire_many(self, due: list[Timer]) -> int:
        """Fire timers due together; the deadlines among them in one transaction."""
        return await timers.fire_many(self, due)

    async def fire(self, timer: Timer) -> bool:
        """Act on one timer, if this caller is the one that fires it (see ``flows.timers``)."""
        return await timers.fire(self, timer)

    async def snooze(self, lock_id: str, actor: str | None) -> Call | None:
        """Push an open lock's deadline back by its policy's ``snooze``; None if not allowed."""
        return await timers.snooze(self, lock_id, actor)

    async def recover(self) -> int:
        """Wake executions that have work and no live owner (a crashed process's runs)."""
        ids = await self.store.runnable(self.clock.now() - self.config.claim_ttl)
        for eid in ids:
            self.wake(eid)
        return len(ids)

    async def sweep(self) -> None:
        """Periodic upkeep: due timers, orphaned runs, and the store's housekeeping."""
        await self.fire_due()
        await self.recover()
        await self.store.checkpoint()

    # running --------------------------------------------------------------------------------

    def wake(self, execution_id: str, claimed: Execution | None = None) -> None:
        """Ask for a run; a run already going in this process will go round again. ``claimed``:
        the execution as this process just claimed it, which saves the claim's round trip."""
        if claimed is not None and claimed.owner == self.owner:
            self._claimed[execution_id] = claimed
        self._wanted.add(execution_id)
        if execution_id not in self._tasks:
            self._tasks[execution_id] = asyncio.create_task(self._drive(execution_id))

    async def settled(self, execution_id: str) -> None:
        """Wait until this process has nothing left to do for the execution."""
        while (task := self._tasks.get(execution_id)) is not None:
            await asyncio.shield(task)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*map(asyncio.shield, list(self._tasks.values())))

    async def close(self) -> None:
        """Stop in-flight runs. Nothing is lost: their claims go stale and another process (or
        this one, restarted) takes them over."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drive(self, execution_id: str) -> None:
        try:
            while execution_id in self._wanted:
                self._wanted.discard(execution_id)
                try:
                    await replay.run(self, execution_id)
                except Exception:
                    log.exception("run of execution %s failed; recovery will retry", execution_id)
        finally:
            del self._tasks[execution_id]

    async def take_claim(self, execution_id: str) -> tuple[Execution, list[Call]] | None:
        """The right to run an execution: handed over by this process's own decision, or
        claimed from the store. None: nothing to do, or another live process runs it."""
        handed = self._claimed.pop(execution_id, None)
        if handed is not None:
            return handed, await self.store.calls(execution_id)
        return await self.store.claim(execution_id, self.claim_for(self.clock.now()))

    def timers_added(self, new_timers: Iterable[Mapping[str, Any]]) -> None:
        """Tell the scheduler (if any) when the earliest of some new timers is due."""
        due = [t["due_at"] for t in new_timers]
        if due and self.timer_hook is not None:
            self.timer_hook(min(due))

    async def announce(self, method: str, *args: Any) -> None:
        """Tell the notifier; its failures are logged, never the engine's problem."""
        await self.tell(method, *args)

    async def tell(self, method: str, *args: Any) -> bool:
        """Tell the notifier; False (and logged) if it failed."""
        try:
            await getattr(self.notifier, method)(*args)
        except Exception:
            log.exception("notifier %s failed", method)
            return False
        return True


def encode_loose(values: Mapping[str, Any]) -> Any:
    """Raw submitted values for the audit trail; anything odd is kept as its repr."""
    try:
        return encode(dict(values))
    except NotStorable:
        return {k: repr(v) for k, v in values.items()}
