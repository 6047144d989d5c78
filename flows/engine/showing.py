"""What an outbox row shows (``show_of``: the ``Show`` a notifier is handed, from the row and the
state of its run and lock as read with it), and whom it is for (``receiver``)."""

from __future__ import annotations

from typing import Any

from flows.app import Registry, approvers
from flows.engine.quorum import response
from flows.engine.records import Delivery, Show, ShowState


def show_of(row: Delivery, state: ShowState, registry: Registry) -> Show | None:
    """What to show for ``row``; None: nothing (its run or lock is gone, or its run is
    shown nowhere)."""
    execution, lock, waiting, votes, payload = state
    if row.kind == "home":  # about no run: the notifier reads the home as it shows it
        payload = payload if isinstance(payload, dict) else {}
        return Show(key=row.key, kind="home", execution=None, payload=payload,
                    location=row.location, retry=row.attempts > 1)  # fmt: skip
    if execution is None or (row.call_id and lock is None):
        return None
    if row.kind in ("lock", "post") and row.thread is None:
        return None  # the run is shown nowhere, so is its thread
    spec = registry.entries.get(execution.flow)
    own = execution.context.get("summary")  # the run's own (``Launch(summary=...)``)
    summary = own if isinstance(own, str) and own else spec.summary if spec else ""
    return Show(
        key=row.key, kind=row.kind, execution=execution, summary=summary,
        lock=lock, waiting=waiting, approvers=approvers([response(v) for v in votes]),
        payload=payload if isinstance(payload, dict) else {}, location=row.location,
        thread=row.thread, lock_at=row.lock_at, retry=row.attempts > 1,
    )  # fmt: skip


def receiver(row: Delivery) -> Any:
    """Whom a row is for: a webhook subscription, or (None) the people in Slack."""
    if row.kind == "webhook" and isinstance(row.payload, dict):
        return row.payload.get("subscription")
    if row.kind == "home":
        return row.key  # each person's home apart: one that fails holds nothing back
    return None
