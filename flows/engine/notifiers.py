"""Notifiers that need no surface: ``NullNotifier`` (tells no one) and ``RecordingNotifier``
(keeps every notification, for tests and scripts). Both implement ``ports.Notifier``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.engine.records import Call, Execution


class NullNotifier:
    async def status_changed(self, execution: Execution, waiting: Sequence[str]) -> None:
        pass

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        pass

    async def lock_opened(self, execution: Execution, lock: Call) -> Any:
        return None

    async def lock_resolved(
        self, execution: Execution, lock: Call, approvers: Sequence[str]
    ) -> None:
        pass

    async def voted(self, execution: Execution, lock: Call, approvers: Sequence[str]) -> None:
        pass

    async def reminder(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        pass

    async def escalated(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        pass

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        pass


@dataclass
class RecordingNotifier:
    """Keeps every notification, in order, as ``(method, execution_id, detail)``. A lock is
    "shown" at ``{"recorded": n}``, its place in ``calls``."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    async def status_changed(self, execution: Execution, waiting: Sequence[str]) -> None:
        self.calls.append(("status_changed", execution.id, execution.status))

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        self.calls.append(("progress", execution.id, (kind, text)))

    async def lock_opened(self, execution: Execution, lock: Call) -> Any:
        self.calls.append(("lock_opened", execution.id, lock))
        return {"recorded": len(self.calls) - 1}

    async def lock_resolved(
        self, execution: Execution, lock: Call, approvers: Sequence[str]
    ) -> None:
        self.calls.append(("lock_resolved", execution.id, lock))

    async def voted(self, execution: Execution, lock: Call, approvers: Sequence[str]) -> None:
        self.calls.append(("voted", execution.id, (lock.name, list(approvers))))

    async def reminder(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        self.calls.append(("reminder", execution.id, (lock.name, list(people))))

    async def escalated(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        self.calls.append(("escalated", execution.id, (lock.name, list(people))))

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        self.calls.append(("snoozed", execution.id, (lock.name, actor, lock.deadline)))

    def of(self, method: str, execution_id: str | None = None) -> list[Any]:
        return [d for m, e, d in self.calls if m == method and execution_id in (None, e)]
