"""How the engine tells the outside world what happened: the ``Notifier`` protocol.

Every call comes after the fact is committed. A notifier may fail (Slack down): the engine logs
and carries on; locks not yet shown are found again through ``Store.unposted_locks`` (outbox).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from store.models import Call, Execution


class Notifier(Protocol):
    async def status_changed(self, execution: Execution) -> None:
        """The execution's status changed (started, awaiting, running, finished, error, ...)."""

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        """The flow called ``tracer.debug/markdown/result/warning``."""

    async def lock_opened(self, execution: Execution, lock: Call) -> None:
        """A lock waits for a person; ``lock.form`` is its form as kodosumi JSON."""

    async def lock_resolved(self, execution: Execution, lock: Call) -> None:
        """A lock was answered, rejected, expired or cancelled; ``lock.status`` says which."""

    async def voted(self, execution: Execution, lock: Call, approvers: list[str]) -> None:
        """A quorum lock took a response and waits for more; ``approvers`` approved so far."""

    async def reminder(self, execution: Execution, lock: Call, people: list[str]) -> None:
        """Nudge about a lock still open (past its deadline when ``lock.deadline`` is past);
        ``people`` may answer it (named approvers, and those added by escalation). Raise if it
        could not be delivered: it is retried."""

    async def escalated(self, execution: Execution, lock: Call, people: list[str]) -> None:
        """``people`` (user ids, or ``S…`` user groups) may now answer; tell them."""

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        """``actor`` pushed the lock's deadline back; ``lock.deadline`` is the new one."""


class NullNotifier:
    async def status_changed(self, execution: Execution) -> None:
        pass

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        pass

    async def lock_opened(self, execution: Execution, lock: Call) -> None:
        pass

    async def lock_resolved(self, execution: Execution, lock: Call) -> None:
        pass

    async def voted(self, execution: Execution, lock: Call, approvers: list[str]) -> None:
        pass

    async def reminder(self, execution: Execution, lock: Call, people: list[str]) -> None:
        pass

    async def escalated(self, execution: Execution, lock: Call, people: list[str]) -> None:
        pass

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        pass


@dataclass
class RecordingNotifier:
    """Keeps every notification, in order, as ``(method, execution_id, detail)``."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    async def status_changed(self, execution: Execution) -> None:
        self.calls.append(("status_changed", execution.id, execution.status))

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        self.calls.append(("progress", execution.id, (kind, text)))

    async def lock_opened(self, execution: Execution, lock: Call) -> None:
        self.calls.append(("lock_opened", execution.id, lock))

    async def lock_resolved(self, execution: Execution, lock: Call) -> None:
        self.calls.append(("lock_resolved", execution.id, lock))

    async def voted(self, execution: Execution, lock: Call, approvers: list[str]) -> None:
        self.calls.append(("voted", execution.id, (lock.name, approvers)))

    async def reminder(self, execution: Execution, lock: Call, people: list[str]) -> None:
        self.calls.append(("reminder", execution.id, (lock.name, people)))

    async def escalated(self, execution: Execution, lock: Call, people: list[str]) -> None:
        self.calls.append(("escalated", execution.id, (lock.name, people)))

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        self.calls.append(("snoozed", execution.id, (lock.name, actor, lock.deadline)))

    def of(self, method: str, execution_id: str | None = None) -> list[Any]:
        return [d for m, e, d in self.calls if m == method and execution_id in (None, e)]
