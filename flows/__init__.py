"""Lockstep's flow SDK, kodosumi-compatible: what a flow author imports. ``FlowApp`` (alias
``ServeAPI``) and ``Launch``, ``Tracer``, the errors, and the form elements in ``flows.forms``.
The durable runtime that runs flows is ``flows.engine``."""

from flows.app import FlowApp, Launch, Request, Response, ServeAPI
from flows.errors import (
    FlowConfigError,
    InputsError,
    KodosumiError,
    LockCancelled,
    LockExpired,
    LockRejected,
    LockstepError,
    NonDeterminismError,
    StepFailed,
)
from flows.policy import Escalation
from flows.text import mention, quote
from flows.tracer import Tracer

__all__ = [
    "Escalation",
    "FlowApp",
    "FlowConfigError",
    "InputsError",
    "KodosumiError",
    "Launch",
    "LockCancelled",
    "LockExpired",
    "LockRejected",
    "LockstepError",
    "NonDeterminismError",
    "Request",
    "Response",
    "ServeAPI",
    "StepFailed",
    "Tracer",
    "mention",
    "quote",
]
