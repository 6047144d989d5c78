"""Notifiers that need no surface: ``NullNotifier`` (shows nothing) and ``RecordingNotifier``
(keeps what it was asked to show, for tests and scripts). Both implement ``ports.Notifier``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flows.engine.records import Show


class NullNotifier:
    async def show(self, show: Show) -> Any:
        return None


@dataclass
class RecordingNotifier:
    """Keeps every message shown, in order, as ``(event, execution_id, detail)``, named as the
    moments people see them: ``status_changed`` (the run's message; its status),
    ``lock_opened`` (a lock's first showing; the lock), ``lock_resolved`` (a lock shown closed),
    ``voted`` (an open lock showing a quorum's approvers), ``lock_updated`` (an open lock shown
    again), ``progress``, ``reminder``, ``escalated``, ``snoozed``, ``ended`` (posts), ``direct``,
    ``webhook`` and ``home`` (its payload; the execution id is ""). A message is shown at
    ``{"recorded": n}``, its place in ``calls``."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    shows: list[Show] = field(default_factory=list)

    async def show(self, show: Show) -> Any:
        self.shows.append(show)
        run = show.execution.id if show.execution else ""  # "": about no run (a home)
        self.calls.append((_moment(show), run, _detail(show)))
        return show.location or {"recorded": len(self.calls) - 1}

    def of(self, event: str, execution_id: str | None = None) -> list[Any]:
        return [d for m, e, d in self.calls if m == event and execution_id in (None, e)]


def _moment(show: Show) -> str:
    if show.kind == "run":
        return "status_changed"
    if show.kind in ("direct", "webhook", "home"):
        return show.kind
    if show.kind == "post":
        kind = show.payload.get("type", "post")
        return "ended" if kind == "ending" else str(kind)
    lock = show.lock
    if lock is not None and not lock.open:
        return "lock_resolved"
    if show.location is None:
        return "lock_opened"
    return "voted" if show.approvers else "lock_updated"


def _detail(show: Show) -> Any:
    lock, payload = show.lock, show.payload
    match _moment(show):
        case "status_changed" | "ended":
            return show.run.status
        case "lock_opened" | "lock_resolved" | "lock_updated":
            return lock
        case "voted":
            return (lock.name if lock else None, list(show.approvers))
        case "progress":
            return (payload.get("level"), payload.get("text"))
        case "reminder":
            return (lock.name if lock else None, payload.get("people"))
        case "escalated":
            return (lock.name if lock else None, payload.get("to"))
        case "snoozed":
            return (lock.name if lock else None, payload.get("actor"), lock and lock.deadline)
        case _:
            return payload
