"""Instants as people and files read them: every timestamp Lockstep writes goes through here.
Times are UTC epoch seconds everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def iso(at: float | None) -> str | None:
    """ISO 8601 in UTC, for documents (the audit trail); None stays None."""
    return None if at is None else _utc(at).isoformat()


def stamp(at: float | None) -> str:
    """``2026-11-30 14:00 UTC``, for error messages."""
    return _utc(at).strftime("%Y-%m-%d %H:%M UTC") if at else "an unknown time"


def clock(at: float | None) -> str:
    """``14:00 UTC on Nov 30``, for chat."""
    if at is None:
        return "an unknown time"
    return _utc(at).strftime("%H:%M UTC on %b %d").replace(" 0", " ")
