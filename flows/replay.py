"""Running an execution: claim it, replay its flow with recorded answers, and either park it
(every branch waits for a person or a timer) or end it. Each wake-up is a fresh replay."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from flows.app import call, resolve
from flows.codec import NotStorable, decode, encode
from flows.errors import FlowConfigError, LockCancelled, LockRejected
from flows.tracer import Run, Tracer
from store.models import Call, Execution, NewEvent

if TYPE_CHECKING:
    from flows.engine import Engine

log = logging.getLogger("lockstep.engine")
SETTLE_ROUNDS = 3  # loop turns a run gets to open sibling locks before it is parked


async def run(engine: Engine, execution_id: str) -> None:
    beat = asyncio.create_task(_heartbeat(engine, execution_id))
    try:
        while claimed := await engine.take_claim(execution_id):
            execution, recorded = claimed
            if execution.done or await _replay(engine, Run(engine, execution, recorded)):
                return
    finally:
        beat.cancel()


async def _heartbeat(engine: Engine, execution_id: str) -> None:
    while True:
        await asyncio.sleep(engine.config.heartbeat_interval)
        await engine.store.heartbeat(execution_id, engine.owner, engine.clock.now())


async def _replay(engine: Engine, run: Run) -> bool:
    """One run of the flow. True when finished (or nothing more to do), False when the
    execution was woken while this run was parking it, so it must run again."""
    execution = run.execution
    try:
        runner = resolve(execution.runner)
    except FlowConfigError as exc:
        return await _end(engine, run, "error", None, str(exc))
    flow = asyncio.ensure_future(call(runner, inputs=decode(execution.inputs), tracer=Tracer(run)))
    parked = await _until_parked(engine, run, flow)
    if run.fatal:
        return await _end(engine, run, "error", None, str(run.fatal))
    if parked:
        return await _park(engine, run)
    try:
        value = flow.result()
    except (LockRejected, LockCancelled) as exc:
        return await _end(engine, run, "cancelled", None, str(exc))
    except Exception as exc:
        log.info("execution %s ended with %s: %s", execution.id, type(exc).__name__, exc)
        return await _end(engine, run, "error", None, _describe(exc))
    try:
        result = encode(value)
    except NotStorable as exc:
        return await _end(
            engine, run, "error", None, f"the flow's result cannot be recorded: {exc}"
        )
    return await _end(engine, run, "finished", result, None)


async def _until_parked(engine: Engine, run: Run, flow: asyncio.Future[Any]) -> bool:
    """Drive the flow until it returns, or until every branch waits and no step runs."""
    while not flow.done():
        run.changed.clear()
        changed = asyncio.ensure_future(run.changed.wait())
        await asyncio.wait((flow, changed), return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)
        if flow.done() or not run.waiting:
            continue
        if run.in_step:
            await _flush(engine, run)  # show the open locks now; a step is still running
            continue
        flow.cancel()
        await asyncio.gather(flow, return_exceptions=True)
        return True
    return False


async def _flush(engine: Engine, run: Run) -> None:
    new_calls, new_timers, new_events = run.take_new()
    if new_calls:
        await engine.store.add(
            run.execution.id, engine.clock.now(), new_calls, new_timers, new_events
        )
        engine.timers_added(new_timers)
        await _announce_opened(engine, run.execution, new_calls)


async def _park(engine: Engine, run: Run) -> bool:
    new_calls, new_timers, new_events = run.take_new()
    now = engine.clock.now()
    awaiting = NewEvent(kind="status", detail={"status": "awaiting"})
    released = await engine.store.suspend(
        run.execution.id, engine.owner, run.execution.wakeups, now,
        new_calls, new_timers, new_events, awaiting,
    )  # fmt: skip
    engine.timers_added(new_timers)
    current = run.execution.model_copy(update={"status": "awaiting", "updated_at": now})
    await _announce_opened(engine, current, new_calls)
    if released:
        await engine.announce("status_changed", current)
    return released


async def _announce_opened(
    engine: Engine, execution: Execution, new_calls: list[dict[str, Any]]
) -> None:
    for row in new_calls:
        if row["kind"] == "lock":
            await engine.announce("lock_opened", execution, Call.model_validate(row))


async def _end(engine: Engine, run: Run, status: str, result: Any, error: str | None) -> bool:
    await _flush(engine, run)
    now = engine.clock.now()
    detail = {"error": error} if error else None
    event = NewEvent(kind=status, detail=detail)
    if await engine.store.finish(run.execution.id, engine.owner, now, status, result, error, event):
        ended = await engine.store.execution(run.execution.id)
        if ended:
            await engine.announce("status_changed", ended)
    return True


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
