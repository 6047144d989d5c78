"""The durable runtime, behind one front door: ``Engine`` (start, submit, reject, snooze,
cancel, read, trail, sweep, fire, health), whose answers are the typed outcomes of
``outcomes``. What it needs from the world is stated in ``ports`` (store, notifier, directory,
clock, observer); the records that cross those ports are in ``records``. Nothing here imports
Slack or SQL.

Inside: ``runs`` (claiming and replaying executions), ``timers`` (what a due timer does),
``access`` (who may decide or manage), ``quorum`` (reading a quorum's responses),
``delivery`` (showing the outbox through the notifier), ``audit`` (the trail as a document),
``scope`` (which run and lock a log line is about).
"""

from flows.engine.access import NoDirectory
from flows.engine.audit import document as audit_document
from flows.engine.clock import FakeClock, SystemClock
from flows.engine.notifiers import NullNotifier, RecordingNotifier
from flows.engine.observers import NullObserver
from flows.engine.outcomes import (
    Access,
    Answer,
    Cancel,
    Cancelled,
    Decision,
    EntryFailed,
    EntryProblem,
    Launched,
    Place,
    Reading,
    Snooze,
    Snoozed,
)
from flows.engine.ports import (
    AGAIN_AT,
    Clock,
    Directory,
    Files,
    NoAnswer,
    Notifier,
    Observer,
    Refused,
    Store,
    Unavailable,
)
from flows.engine.records import (
    SINGLE,
    TERMINAL,
    WEBHOOK_EVENTS,
    ApiToken,
    Call,
    Event,
    Execution,
    Health,
    Held,
    NewEvent,
    Post,
    RunQuery,
    Show,
    Subscription,
    Timer,
    Trail,
    Workspace,
)
from flows.engine.runtime import Engine, UnknownFlow
from flows.engine.scope import current as current_scope
from flows.engine.scope import mark as mark_scope
from flows.engine.setup import EngineConfig

__all__ = [
    "AGAIN_AT",
    "SINGLE",
    "TERMINAL",
    "WEBHOOK_EVENTS",
    "Access",
    "Answer",
    "ApiToken",
    "Call",
    "Cancel",
    "Cancelled",
    "Clock",
    "Decision",
    "Directory",
    "Engine",
    "EngineConfig",
    "EntryFailed",
    "EntryProblem",
    "Event",
    "Execution",
    "FakeClock",
    "Files",
    "Health",
    "Held",
    "Launched",
    "NewEvent",
    "NoAnswer",
    "NoDirectory",
    "Notifier",
    "NullNotifier",
    "NullObserver",
    "Observer",
    "Place",
    "Post",
    "Reading",
    "RecordingNotifier",
    "Refused",
    "RunQuery",
    "Show",
    "Snooze",
    "Snoozed",
    "Store",
    "Subscription",
    "SystemClock",
    "Timer",
    "Trail",
    "Unavailable",
    "UnknownFlow",
    "Workspace",
    "audit_document",
    "current_scope",
    "mark_scope",
]
