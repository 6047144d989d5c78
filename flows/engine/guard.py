"""``Guard``: what a request may see and do. It reads locks and runs as seen from a workspace
(``access.within``), asks ``access`` who may decide a lock or manage a run (with the run's flow
admins, the store's escalations and the directory), and records every refusal in the run's
audit trail."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flows.app import Registry
from flows.engine import access
from flows.engine.access import Refusal
from flows.engine.ports import Clock, Directory, Store
from flows.engine.records import Call, Execution, NewEvent, Workspace
from flows.engine.scope import ids
from flows.engine.timers import escalated_to
from flows.policy import Policy

log = logging.getLogger("lockstep.engine")


class Guard:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: Registry,
        directory: Directory,
        told: Callable[[str], None],
    ) -> None:
        """``told``: a run's audit trail grew (a refusal was recorded)."""
        self.store, self.clock, self.registry = store, clock, registry
        self.directory, self.told = directory, told

    # seeing ---------------------------------------------------------------------------------

    async def lock_and_run(
        self, lock_id: str, workspace: Workspace | None = None
    ) -> tuple[Call, Execution] | None:
        """A lock and its run, read together; None if there is no such lock (in
        ``workspace``, when given)."""
        found = await self.store.call_and_run(lock_id)
        if found is None or found[0].kind != "lock":
            return None
        if not access.within(found[1], workspace):
            log.warning("refused: a request from another workspace named a lock",
                        extra=ids(found[1].id, lock_id))  # fmt: skip
            return None
        return found

    async def lock(self, lock_id: str, workspace: Workspace | None = None) -> Call | None:
        """The lock as the store has it now; None if there is no such lock (in
        ``workspace``, when given)."""
        if workspace is not None:
            found = await self.lock_and_run(lock_id, workspace)
            return found[0] if found is not None else None
        lock = await self.store.call(lock_id)
        return lock if lock is not None and lock.kind == "lock" else None

    async def execution(
        self, execution_id: str, workspace: Workspace | None = None
    ) -> Execution | None:
        """The run; None if there is none (in ``workspace``, when given)."""
        execution = await self.store.execution(execution_id)
        if execution is None or access.within(execution, workspace):
            return execution
        log.warning(
            "refused: a request from another workspace named a run", extra=ids(execution_id)
        )
        return None

    # who may --------------------------------------------------------------------------------

    async def refusal(
        self, lock: Call, actor: str | None, execution: Execution | None = None
    ) -> Refusal | None:
        """Why ``actor`` may not decide ``lock`` (of ``execution``, read if not given), or
        None if they may."""
        policy = Policy.from_json(lock.policy)
        execution = execution or await self.store.execution(lock.execution_id)
        if execution is None:
            return None

        async def escalated() -> list[str]:
            return await escalated_to(self.store, lock)

        return await access.may_decide(policy, execution, escalated, actor, self.directory)

    async def may_decide(
        self, lock: Call, actor: str | None, action: str, execution: Execution | None
    ) -> Refusal | None:
        """None if ``actor`` may decide ``lock`` (of ``execution``, as just read); else the
        refusal, recorded."""
        refused = await self.refusal(lock, actor, execution)
        if refused is not None:
            detail = {"action": action}
            await self.record(lock, NewEvent(kind="refused", actor=actor, detail=detail))
        return refused

    def admins(self, execution: Execution) -> tuple[str, ...]:
        spec = self.registry.entries.get(execution.flow)
        return spec.admins if spec else ()

    async def manages(self, execution: Execution, actor: str | None) -> bool:
        """Did ``actor`` start the run, or is it one of its flow's admins?"""
        return await access.manages(self.admins(execution), actor, execution, self.directory)

    # recording ------------------------------------------------------------------------------

    async def record(self, lock: Call, event: NewEvent) -> None:
        """Add ``event``, about ``lock``, to its run's audit trail."""
        tied = event.model_copy(update={"call_id": lock.id})
        await self.store.append(lock.execution_id, self.clock.now(), tied)
        self.told(lock.execution_id)

    async def refused(self, execution_id: str, actor: str | None, action: str) -> None:
        """Record that ``actor`` was refused ``action`` on the run."""
        refused = NewEvent(kind="refused", actor=actor, detail={"action": action})
        await self.store.append(execution_id, self.clock.now(), refused)
        self.told(execution_id)
