"""Telling the notifier, after the fact: every announcement follows a commit, and a notifier
that fails is logged, never the engine's problem (the store keeps what still has to be shown)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flows.app import approvers
from flows.engine.ports import Notifier, Store
from flows.engine.quorum import responses
from flows.engine.records import Call, Execution
from flows.policy import Policy

log = logging.getLogger("lockstep.engine")


class Announcer:
    def __init__(self, notifier: Notifier, store: Store) -> None:
        self.notifier = notifier
        self.store = store

    async def tell(self, method: str, *args: Any) -> bool:
        """Call the notifier's ``method``; False (and logged) if it failed."""
        try:
            await getattr(self.notifier, method)(*args)
        except Exception:
            log.exception("notifier %s failed", method)
            return False
        return True

    async def status(self, execution: Execution, waiting: Sequence[str] = ()) -> None:
        """``waiting``: the names of the execution's open locks, when it awaits."""
        await self.tell("status_changed", execution, list(waiting))

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        await self.tell("progress", execution, kind, text)

    async def opened(self, execution: Execution, lock: Call) -> None:
        """Show a new lock and record where; one decided meanwhile is shown decided at once.
        A lock shown nowhere (the notifier returned None) is offered again by the sweep."""
        try:
            where = await self.notifier.lock_opened(execution, lock)
        except Exception:
            log.exception("notifier lock_opened failed; the sweep offers the lock again")
            return
        if where is None:
            return
        now = await self.store.mark_posted(lock.id, where)
        if now is not None and not now.open:
            await self.resolved(execution, now)

    async def resolved(
        self, execution: Execution, lock: Call, people: Sequence[str] | None = None
    ) -> None:
        """``people``: who approved, when the caller knows, with ``lock.message`` read with the
        decision; None: look both up (the lock may have been shown since it was read)."""
        if people is None:
            if lock.message is None:
                lock = await self.store.call(lock.id) or lock
            people = []
            if lock.status == "resolved" and Policy.from_json(lock.policy).quorum > 1:
                people = approvers(await responses(self.store, lock))
        await self.tell("lock_resolved", execution, lock, list(people))

    async def voted(self, lock: Call, people: list[str]) -> None:
        execution = await self.store.execution(lock.execution_id)
        if execution is None:
            return
        if lock.message is None:
            lock = await self.store.call(lock.id) or lock
        await self.tell("voted", execution, lock, people)
