"""Calling a flow's enter handler, and checking what it hands back before anything starts:
a handler that raises, returns something other than ``Launch``, names an entry point that does
not resolve or inputs that cannot be recorded is an ``EntryFailed``, so a surface can tell the
person at the form, and no run is left half-started."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Any

from flows.app import EntrySpec, Launch, Request
from flows.codec import encode
from flows.engine.outcomes import EntryFailed, EntryProblem
from flows.entry import call, entry_point_name
from flows.errors import FlowConfigError, InputsError, NotStorable

log = logging.getLogger("lockstep.engine")


def _failed(spec: EntrySpec, problem: EntryProblem, detail: str) -> EntryFailed:
    error_id = secrets.token_hex(4)
    log.warning("flow %r cannot start (%s, error id %s): %s", spec.name, problem, error_id, detail)
    return EntryFailed(spec.name, problem, detail, error_id)


async def enter(spec: EntrySpec, inputs: Any, request: Request) -> Launch:
    """The handler's ``Launch``, its entry point checked and stored by name."""
    try:
        launch = await call(spec.handler, inputs=inputs, request=request)
    except InputsError:
        raise
    except Exception as exc:
        failed = _failed(spec, EntryProblem.CRASHED, type(exc).__name__)
        log.error("enter handler of %r raised (error id %s)", spec.name, failed.error_id,
                  exc_info=exc)  # fmt: skip
        raise failed from exc
    if not isinstance(launch, Launch):
        raise _failed(spec, EntryProblem.NOT_LAUNCH, type(launch).__name__)
    try:
        runner = entry_point_name(launch.entry_point, near=spec.handler.__module__)
    except FlowConfigError as exc:
        shown = launch.entry_point if isinstance(launch.entry_point, str) else repr(exc)
        raise _failed(spec, EntryProblem.ENTRY_POINT, str(shown)[:200]) from exc
    try:
        encode(launch.inputs)
    except NotStorable as exc:
        raise _failed(spec, EntryProblem.NOT_STORABLE, str(exc)) from exc
    return replace(launch, entry_point=runner)
