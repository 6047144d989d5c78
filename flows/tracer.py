"""What a flow sees: ``Tracer``. Every ``lock``/``step``/``sleep`` is a call at a position
(``seq``); the first run records it, every later run replays it from the store.

A run never waits in memory for a person. When all of a flow's branches are waiting (and no step
is running), the engine stops the run; when an answer arrives, the flow is replayed from the top.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from flows.app import call
from flows.codec import NotStorable, decode, encode
from flows.errors import (
    FlowConfigError,
    LockCancelled,
    LockExpired,
    LockRejected,
    NonDeterminismError,
)
from flows.forms import Model
from flows.policy import (
    Duration,
    Escalation,
    OnTimeout,
    Policy,
    make_policy,
    reminder_times,
    seconds,
)
from flows.prompts import PREFIX, Prompts
from store.models import Call, Execution, NewEvent

if TYPE_CHECKING:
    from flows.engine import Engine


class StepFailed(RuntimeError):
    """A step raised when it first ran; replays raise this with the recorded message."""


def new_id() -> str:
    return uuid.uuid4().hex


def timer_row(
    execution_id: str, call_id: str, kind: str, due_at: float, payload: Any = None
) -> dict[str, Any]:
    """A new pending timer, as the store inserts it."""
    return {
        "execution_id": execution_id, "call_id": call_id, "kind": kind, "due_at": due_at,
        "status": "pending", "attempts": 0, "fired_at": None, "payload": payload,
    }  # fmt: skip


class Run:
    """The state of one replay: what was recorded, and what this run opened."""

    def __init__(self, engine: Engine, execution: Execution, recorded: list[Call]) -> None:
        self.engine = engine
        self.execution = execution
        self.recorded = {c.seq: c for c in recorded}
        self.seq = 0
        self.progress_seen = 0
        self.progress_recorded = execution.progress
        self.new_calls: list[dict[str, Any]] = []
        self.new_timers: list[dict[str, Any]] = []
        self.new_events: list[NewEvent] = []
        self.waiting = 0
        self.in_step = 0
        self.changed = asyncio.Event()
        self.fatal: Exception | None = None

    def next(self, kind: str, name: str) -> Call | None:
        seq = self.seq = self.seq + 1
        recorded = self.recorded.get(seq)
        if recorded is not None and (recorded.kind, recorded.name) != (kind, name):
            self.fatal = NonDeterminismError(
                f"replay reached {kind} {name!r} at position {seq}, but the recorded run had "
                f"{recorded.kind} {recorded.name!r} there: the flow's code path changed"
            )
            raise self.fatal
        return recorded

    def open(self, kind: str, name: str, deadline: float | None, **fields: Any) -> None:
        now = self.engine.clock.now()
        row = {
            "id": new_id(), "execution_id": self.execution.id, "seq": self.seq, "kind": kind,
            "name": name, "status": "open", "data": None, "form": None, "result": None,
            "actor": None, "comment": None, "deadline": deadline, "created_at": now,
            "decided_at": None, "posted": False, "message": None, **fields,
        }  # fmt: skip
        self.new_calls.append(row)
        if deadline is not None:
            timer_kind = "deadline" if kind == "lock" else "wake"
            self.new_timers.append(timer_row(self.execution.id, row["id"], timer_kind, deadline))
        if kind == "lock":
            detail = {"name": name, "deadline": deadline}
            self.new_events.append(NewEvent(kind="lock_opened", call_id=row["id"], detail=detail))

    def open_lock(self, name: str, policy: Policy, **fields: Any) -> None:
        """Open a lock with its deadline, reminder and escalation timers."""
        opened = self.engine.clock.now()
        deadline = opened + policy.timeout
        self.open("lock", name, deadline, policy=policy.to_json(), **fields)
        lock_id = self.new_calls[-1]["id"]
        extra: list[tuple[float, str, Any]]
        extra = [(at, "remind", None) for at in reminder_times(policy, opened, deadline)]
        extra += [(opened + e.after, "escalate", {"to": list(e.to)}) for e in policy.escalate]
        for due_at, kind, payload in extra:
            self.new_timers.append(timer_row(self.execution.id, lock_id, kind, due_at, payload))

    def take_new(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[NewEvent]]:
        taken = self.new_calls, self.new_timers, self.new_events
        self.new_calls, self.new_timers, self.new_events = [], [], []
        return taken

    async def wait(self) -> NoReturn:
        """Park this branch until the run is stopped; the answer comes by replay."""
        self.waiting += 1
        self.changed.set()
        await asyncio.get_running_loop().create_future()
        raise AssertionError("a parked branch is only ever cancelled")


class Tracer(Prompts):
    """The flow's handle on the engine (kodosumi's ``Tracer``, made durable)."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def execution_id(self) -> str:
        return self._run.execution.id

    @property
    def initiator(self) -> str | None:
        return self._run.execution.initiator

    async def lock(
        self,
        name: str,
        data: dict[str, Any] | None = None,
        timeout: Duration | None = None,
        *,
        remind: Duration | Sequence[Duration] | None = None,
        escalate: Escalation | Sequence[Escalation] | None = None,
        on_timeout: OnTimeout | tuple[OnTimeout, Any] = "fail",
        snooze: Duration | None = None,
        approvers: Sequence[str] | None = None,
        exclude_initiator: bool = False,
        quorum: int = 1,
        veto: bool = True,
    ) -> Any:
        """Wait for a person to answer the form of ``@app.lock(name)``; return the lease's value.

        ``timeout``: seconds or a timedelta (None: the default, 3 h). ``remind``: a duration
        (nudge that often) or a list (nudge that long before the deadline). ``escalate``:
        ``Escalation.of(after, to)``. ``on_timeout``: ``"fail"`` (raise ``LockExpired``),
        ``"reject"`` (raise ``LockRejected``), ``("approve", value)`` (return ``value``) or
        ``"keep"`` (stay open, keep reminding). ``snooze``: people may push the deadline by
        this much from the lock message. ``approvers``: user ids, user groups (``S…``) or
        ``"channel"`` (default: anyone in the channel). ``exclude_initiator``: four-eyes.
        ``quorum``: that many distinct people must approve (one person counts once); a
        rejection ends the lock unless ``veto=False``. The lease sees every response.

        Raises ``LockRejected`` (Cancel pressed), ``LockExpired`` (deadline passed, a
        ``TimeoutError``) or ``LockCancelled`` (execution cancelled from outside)."""
        run = self._run
        policy = make_policy(
            timeout, run.engine.config.default_timeout, remind, escalate, on_timeout, snooze,
            approvers, exclude_initiator, quorum, veto,
        )  # fmt: skip
        return await self._wait(name, data, policy, None)

    async def _prompt(
        self, kind: str, form: Model, options: dict[str, Any], data: dict[str, Any] | None = None
    ) -> Any:
        return await self.lock_form(PREFIX + kind, form, data=data, **options)

    async def lock_form(
        self, name: str, form: Model, data: dict[str, Any] | None = None, **options: Any
    ) -> Any:
        """Like ``lock``, with the form given here instead of by ``@app.lock(name)``."""
        run = self._run
        timeout = options.pop("timeout", None)
        policy = make_policy(timeout, run.engine.config.default_timeout, **options)
        return await self._wait(name, data, policy, form)

    async def _wait(
        self, name: str, data: dict[str, Any] | None, policy: Policy, form: Model | None
    ) -> Any:
        run = self._run
        recorded = run.next("lock", name)
        if recorded is None:
            form = form or await self._form(name, data)
            try:
                stored = encode(data)
            except NotStorable as exc:
                run.fatal = FlowConfigError(f"lock {name!r}: data must be JSON-like: {exc}")
                raise run.fatal from exc
            run.open_lock(name, policy, data=stored, form=form.to_json())
            await run.wait()
        if recorded.status == "resolved":
            return decode(recorded.result)
        if recorded.status == "rejected":
            raise LockRejected(name, recorded.actor, recorded.decided_at, recorded.comment)
        if recorded.status == "expired":
            raise LockExpired(name, recorded.deadline)
        if recorded.status == "cancelled":
            raise LockCancelled(name)
        await run.wait()

    async def _form(self, name: str, data: dict[str, Any] | None) -> Model:
        handler = self._run.engine.registry.locks.get(name)
        if handler is None:
            self._run.fatal = FlowConfigError(
                f"the flow reached lock {name!r}, but no @app.lock({name!r}) form is registered"
            )
            raise self._run.fatal
        form = await call(handler, data=data if data is not None else {})
        if not isinstance(form, Model):
            self._run.fatal = FlowConfigError(
                f"@app.lock({name!r}) must return a Model, not {type(form).__name__}"
            )
            raise self._run.fatal
        return form

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a side effect once; replays return its recorded result without running it."""
        run = self._run
        recorded = run.next("step", name)
        if recorded is not None:
            if recorded.status == "failed":
                raise StepFailed(f"step {name!r} failed: {recorded.result}")
            return decode(recorded.result)
        seq = run.seq
        run.in_step += 1
        try:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
        except Exception as exc:
            await self._record_step(seq, name, "failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            run.in_step -= 1
            run.changed.set()
        try:
            stored = encode(result)
        except NotStorable as exc:
            run.fatal = FlowConfigError(
                f"step {name!r} returned a value that cannot be recorded: {exc}"
            )
            raise run.fatal from exc
        await self._record_step(seq, name, "done", stored)
        return result

    async def _record_step(self, seq: int, name: str, status: str, result: Any) -> None:
        run = self._run
        now = run.engine.clock.now()
        row = {
            "id": new_id(), "execution_id": run.execution.id, "seq": seq, "kind": "step",
            "name": name, "status": status, "result": result, "created_at": now,
            "decided_at": now, "posted": True,
        }  # fmt: skip
        await run.engine.store.add(run.execution.id, now, new_calls=[row])

    async def sleep(self, delay: float | timedelta) -> None:
        """A durable sleep: survives restarts, and the clock is not reset by them."""
        run = self._run
        wait_for = 0.0 if delay == 0 else seconds(delay, "sleep")
        recorded = run.next("sleep", "sleep")
        if recorded is None:
            if wait_for:
                run.open("sleep", "sleep", run.engine.clock.now() + wait_for)
                await run.wait()
            return
        if recorded.status == "open":
            await run.wait()

    async def debug(self, *msgs: Any) -> None:
        await self._progress("debug", msgs)

    async def markdown(self, *msgs: Any) -> None:
        await self._progress("markdown", msgs)

    async def warning(self, *msgs: Any) -> None:
        await self._progress("warning", msgs)

    async def result(self, *objs: Any) -> None:
        await self._progress("result", objs)

    async def _progress(self, kind: str, msgs: tuple[Any, ...]) -> None:
        run = self._run
        index, run.progress_seen = run.progress_seen, run.progress_seen + 1
        if index < run.progress_recorded:
            return  # announced by an earlier run
        text = " ".join(str(m) for m in msgs)
        now = run.engine.clock.now()
        event = NewEvent(kind="progress", detail={"level": kind, "text": text})
        await run.engine.store.add(run.execution.id, now, new_events=[event], progress=1)
        run.progress_recorded += 1
        await run.engine.announce("progress", run.execution, kind, text)
