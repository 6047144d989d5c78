"""The read side of ``Engine``: what a run is, where it is shown, what waits for whom, and a
run's trail for a person (its channel's members, whoever started it, its flow's admins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flows.app import approvers
from flows.engine import access, quorum
from flows.engine.delivery import Deliverer
from flows.engine.guard import Guard
from flows.engine.outcomes import Access, Place, Reading
from flows.engine.ports import Clock, Directory, Store
from flows.engine.records import Call, Event, Execution, RunQuery, Trail, Workspace
from flows.policy import Policy

INBOX_RUNS = 200  # runs waiting for people that an inbox looks through, newest first


class Reads:
    """Reading runs, for ``Engine`` (which sets these up)."""

    clock: Clock
    _store: Store
    _directory: Directory
    _guard: Guard
    _deliver: Deliverer

    async def lock(self, lock_id: str, workspace: Workspace | None = None) -> Call | None:
        """The lock as the store has it now; None if there is no such lock (in
        ``workspace``, when given)."""
        return await self._guard.lock(lock_id, workspace)

    async def execution(
        self, execution_id: str, workspace: Workspace | None = None
    ) -> Execution | None:
        """The run; None if there is none (in ``workspace``, when given)."""
        return await self._guard.execution(execution_id, workspace)

    async def shows(
        self, lock_id: str, where: Mapping[str, Any], workspace: Workspace | None = None
    ) -> Place:
        """Is ``where`` (a surface's location, as its notifier records it: Slack's channel
        and message ts) the lock's own message? A surface asks before it acts on a click, so
        a click acts only on the lock its message shows, whatever the click says it is. The
        location may say more than ``where`` (a notifier's own notes); what ``where`` says
        must match."""
        if workspace is not None and await self.lock(lock_id, workspace) is None:
            return Place.GONE
        location = await self._store.lock_shown_at(lock_id)
        if location is None:
            lock = await self.lock(lock_id)
            if lock is None:
                return Place.GONE
            self._deliver.soon(lock.execution_id)  # show it now, if it is free to show
            return Place.UNSHOWN
        here = isinstance(location, dict) and all(location.get(k) == v for k, v in where.items())
        return Place.HERE if where and here else Place.ELSEWHERE

    async def runs(
        self,
        *,
        initiator: str | None = None,
        status: tuple[str, ...] = (),
        limit: int = 20,
        workspace: Workspace | None = None,
    ) -> list[Execution]:
        """Executions, newest first: someone's, or in some statuses (of ``workspace``)."""
        return await self._store.executions(
            initiator=initiator, status=status, limit=limit, workspace=workspace
        )

    async def search(self, query: RunQuery) -> list[Execution]:
        """A page of runs matching ``query``, newest first (page on from its last run)."""
        return await self._store.search(query)

    async def waiting_on(self, executions: list[Execution], actor: str) -> list[Execution]:
        """Those of ``executions`` with an open lock that waits on ``actor`` (``_waits_on``)."""
        return [e for e, _ in await self._decidable(executions, actor, len(executions), True)]

    async def inbox(
        self, actor: str, workspace: Workspace, limit: int = 20
    ) -> list[tuple[Execution, Call]]:
        """The open locks that wait on ``actor`` (``_waits_on``), across every channel of
        ``workspace``, the newest runs first (at most ``limit``): the App Home lists them."""
        awaiting = await self._store.executions(
            status=("awaiting",), limit=INBOX_RUNS, workspace=workspace
        )
        return await self._decidable(awaiting, actor, limit, False)

    async def _decidable(
        self, executions: list[Execution], actor: str, limit: int, first_only: bool
    ) -> list[tuple[Execution, Call]]:
        """The open locks of ``executions`` that wait on ``actor``, at most ``limit`` (with
        ``first_only``, one per execution); their locks read in one transaction."""
        awaiting = [e for e in executions if e.status == "awaiting"]
        opened = await self._store.open_locks_of([e.id for e in awaiting])
        found: list[tuple[Execution, Call]] = []
        for execution in awaiting:
            for lock in opened.get(execution.id, ()):
                if await self._waits_on(lock, actor, execution):
                    found.append((execution, lock))
                    if len(found) >= limit:
                        return found
                    if first_only:
                        break
        return found

    async def _waits_on(self, lock: Call, actor: str, execution: Execution) -> bool:
        """May ``actor`` decide ``lock`` now, and would their answer count? A quorum lock they
        approve waits on others (approving again counts once); one they declined still waits
        on them (without veto, approving after declining counts)."""
        if await self._guard.refusal(lock, actor, execution) is not None:
            return False
        if Policy.from_json(lock.policy).quorum < 2:
            return True
        approving = approvers(await quorum.responses(self._store, lock))
        [me] = await access.people([actor], execution, self._directory)
        return me not in await access.people(approving, execution, self._directory)

    async def approved_by(self, lock: Call) -> list[str]:
        """Everyone who approved a decided quorum lock, first come first (a late answer is told
        them all); none for any other lock."""
        if lock.status != "resolved" or Policy.from_json(lock.policy).quorum < 2:
            return []
        return approvers(await quorum.responses(self._store, lock))

    async def open_home(self, actor: str, workspace: Workspace) -> None:
        """``actor`` opened their App Home in ``workspace``: show it now, and keep it current
        from now on (through the outbox, with every change of a run or a lock)."""
        await self._store.open_home(actor, workspace, self.clock.now())
        self._deliver.drain()

    async def people_changed(self, users: Sequence[str], workspace: Workspace) -> None:
        """These people joined or left a channel or a user group of ``workspace``: what they
        may answer changed, so their App Homes (where kept) are shown again."""
        await self._store.refresh_homes(users, workspace, self.clock.now())
        self._deliver.drain()

    async def sees(self, actor: str, context: Mapping[str, Any], workspace: Workspace) -> bool:
        """Would ``actor`` see a run started with ``context`` in ``workspace`` (its channel's
        members do)? Asked before a run is started where a person chose."""
        return await self._directory.sees(actor, {**context, "workspace": workspace})

    async def may_decide(self, lock: Call, actor: str) -> bool:
        """Could ``actor`` decide ``lock`` now (as ``submit`` checks it; nothing recorded)?"""
        return lock.open and await self._guard.refusal(lock, actor) is None

    async def events(self, execution_id: str, after: int = 0) -> list[Event]:
        """A run's audit events, oldest first; with ``after``, those with a larger id only
        (ids grow with time: how a reader that has some picks up the rest)."""
        return await self._store.events(execution_id, after)

    async def where(self, execution_id: str) -> Any:
        """Where the run's message is shown (the notifier's answer: Slack's channel and ts),
        or None while it is not shown yet, or nowhere."""
        return await self._store.run_shown_at(execution_id)

    async def find_runs(
        self, prefix: str, limit: int = 5, workspace: Workspace | None = None
    ) -> list[str]:
        """Ids of runs that start with ``prefix`` (whatever the case), at most ``limit``: how
        a person names a run by the first few characters of its id (in ``workspace``)."""
        return await self._store.find_executions(prefix, limit, workspace) if prefix else []

    async def trail(self, execution_id: str) -> Trail | None:
        """A run with its calls and its whole audit trail (``flows.engine.audit.document``
        makes it a JSON document). No access check: for code, not for people."""
        return await self._store.trail(execution_id)

    async def read(
        self,
        execution_id: str,
        reader: str,
        action: str = "status",
        *,
        workspace: Workspace | None = None,
    ) -> Reading:
        """A run's trail for a person: its channel's members, whoever started it and its
        flow's admins may read it; anyone else is refused (and the attempt recorded)."""
        trail = await self._store.trail(execution_id)
        if trail is None or await self.execution(execution_id, workspace) is None:
            return Reading(Access.GONE)
        execution = trail[0]
        if await self._reads(execution, reader):
            return Reading(Access.SHOWN, trail)
        await self._guard.refused(execution.id, reader, action)
        return Reading(Access.FORBIDDEN)

    async def may_read(
        self, execution_id: str, reader: str, workspace: Workspace | None = None
    ) -> bool:
        """Would ``read`` show this run to ``reader``? Asking records nothing."""
        execution = await self.execution(execution_id, workspace)
        return execution is not None and await self._reads(execution, reader)

    async def _reads(self, execution: Execution, reader: str) -> bool:
        if await self._guard.manages(execution, reader):
            return True
        return await access.among(("channel",), reader, execution, self._directory)
