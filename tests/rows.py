"""Rows written straight into the store, for tests of the store itself."""

from __future__ import annotations

from typing import Any


def execution(eid: str, now: float, **fields: Any) -> dict[str, Any]:
    """An execution row as ``store.create_execution`` takes it; ``fields`` change any column."""
    row = {
        "id": eid, "flow": "f", "runner": "r", "inputs": {}, "status": "starting",
        "initiator": "UA", "context": {}, "created_at": now, "updated_at": now, "wakeups": 0,
        "progress": 0, "owner": None, "heartbeat_at": None,
    }  # fmt: skip
    return row | fields
