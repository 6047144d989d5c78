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


class NullNotifier:
    async def status_changed(self, execution: Execution) -> None:
        pass

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        pass

    async def lock_opened(self, execution: Execution, lock: Call) -> None:
        pass

    async def lock_resolved(self, execution: Execution, lock: Call) -> None:
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

    def of(self, method: str, execution_id: str | None = None) -> list[Any]:
        return [d for m, e, d in self.calls if m == method and execution_id in (None, e)]
