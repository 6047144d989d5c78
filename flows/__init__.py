"""Lockstep's flow SDK, kodosumi-compatible: what a flow author imports. ``ServeAPI`` (kodosumi's
registry; ``FlowApp`` is Lockstep's, with typed values) and ``Launch``, ``Tracer``, the errors,
the form elements in ``forms`` and the formatted results in ``response``: a kodosumi app's
``from kodosumi.core import ...`` becomes ``from flows import ...`` (docs/kodosumi.md maps every
import path). The durable runtime that runs flows is ``flows.engine``."""

from flows import forms, response
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
    "forms",
    "mention",
    "quote",
    "response",
]
