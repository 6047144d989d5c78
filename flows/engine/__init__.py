"""The durable runtime, behind one front door: ``Engine`` (start, submit, reject, snooze,
cancel, read, trail, sweep, fire), whose answers are the typed outcomes of ``outcomes``. What it
needs from the world is stated in ``ports`` (store, notifier, directory, clock); the records
that cross those ports are in ``records``. Nothing here imports Slack or SQL.

Inside: ``runs`` (claiming and replaying executions), ``timers`` (what a due timer does),
``access`` (who may decide or manage), ``quorum`` (reading a quorum's responses),
``delivery`` (showing the outbox through the notifier), ``audit`` (the trail as a document).
"""

from flows.engine.access import NoDirectory
from flows.engine.audit import document as audit_document
from flows.engine.clock import FakeClock, SystemClock
from flows.engine.notifiers import NullNotifier, RecordingNotifier
from flows.engine.outcomes import (
    Access,
    Answer,
    Cancel,
    Cancelled,
    Decision,
    Place,
    Reading,
    Snooze,
    Snoozed,
)
from flows.engine.ports import Clock, Directory, Notifier, Store, Unavailable
from flows.engine.records import (
    TERMINAL,
    Call,
    Event,
    Execution,
    NewEvent,
    Post,
    Show,
    Timer,
    Trail,
)
from flows.engine.runtime import Engine, EngineConfig, UnknownFlow

__all__ = [
    "TERMINAL",
    "Access",
    "Answer",
    "Call",
    "Cancel",
    "Cancelled",
    "Clock",
    "Decision",
    "Directory",
    "Engine",
    "EngineConfig",
    "Event",
    "Execution",
    "FakeClock",
    "NewEvent",
    "NoDirectory",
    "Notifier",
    "NullNotifier",
    "Place",
    "Post",
    "Reading",
    "RecordingNotifier",
    "Show",
    "Snooze",
    "Snoozed",
    "Store",
    "SystemClock",
    "Timer",
    "Trail",
    "Unavailable",
    "UnknownFlow",
    "audit_document",
]
