"""Lockstep's flow SDK, kodosumi-compatible: ``FlowApp``/``ServeAPI``, ``Launch``, ``Tracer``,
``InputsError``, and the form elements in ``flows.forms``."""

from flows.access import Directory, Forbidden
from flows.app import FlowApp, Launch, Registry, Request, ServeAPI
from flows.decision import Decision, Response
from flows.engine import Engine, EngineConfig, UnknownExecution, UnknownFlow, UnknownLock
from flows.errors import (
    FlowConfigError,
    InputsError,
    LockCancelled,
    LockExpired,
    LockRejected,
    NonDeterminismError,
)
from flows.notifier import Notifier, RecordingNotifier
from flows.tracer import StepFailed, Tracer

__all__ = [
    "Decision",
    "Directory",
    "Engine",
    "EngineConfig",
    "FlowApp",
    "FlowConfigError",
    "Forbidden",
    "InputsError",
    "Launch",
    "LockCancelled",
    "LockExpired",
    "LockRejected",
    "NonDeterminismError",
    "Notifier",
    "RecordingNotifier",
    "Registry",
    "Request",
    "Response",
    "ServeAPI",
    "StepFailed",
    "Tracer",
    "UnknownExecution",
    "UnknownFlow",
    "UnknownLock",
]
