"""What a flow sees: ``Tracer`` (kodosumi's name), made durable.

Every ``lock``/``step``/``sleep`` is a call at a position in the run; the first run records it,
every later run replays it from the store. The tracer reads and checks what the flow asks for;
the runtime behind it (``Recorder``, implemented by ``flows.engine``) records and replays.

A run never waits in memory for a person. When all of a flow's branches are waiting (and no step
is running), the engine stops the run; when an answer arrives, the flow is replayed from the top.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol, Unpack

from flows.forms import Model
from flows.policy import Duration, LockOptions, Policy, make_policy, seconds
from flows.prompts import PREFIX, Prompts


class Recorder(Protocol):
    """The runtime a tracer records into: one replay of one execution."""

    execution_id: str
    initiator: str | None
    default_timeout: float

    async def lock(
        self, name: str, data: dict[str, Any] | None, policy: Policy, form: Model | None
    ) -> Any:
        """Wait at a lock (``form`` None: ``@app.lock(name)`` builds it); the lease's value."""

    async def step(
        self, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run a side effect, or replay its recorded result."""

    async def sleep(self, seconds: float) -> None:
        """A durable sleep."""

    async def progress(self, kind: str, text: str) -> None:
        """A progress message, announced once however often the flow is replayed."""


class Tracer(Prompts):
    """The flow's handle on the engine."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    @property
    def execution_id(self) -> str:
        return self._recorder.execution_id

    @property
    def initiator(self) -> str | None:
        return self._recorder.initiator

    async def lock(
        self,
        name: str,
        data: dict[str, Any] | None = None,
        timeout: Duration | None = None,
        **options: Unpack[LockOptions],
    ) -> Any:
        """Wait for a person to answer the form of ``@app.lock(name)``; return the lease's value.

        ``timeout``: seconds or a timedelta (None: the default, 3 h). The other options
        (reminders, escalation, what happens at the deadline, snoozing, who may answer, quorum)
        are described in ``flows.policy.LockOptions``. The lease sees every response.

        Raises ``LockRejected`` (Cancel pressed), ``LockExpired`` (deadline passed, a
        ``TimeoutError``) or ``LockCancelled`` (execution cancelled from outside)."""
        policy = make_policy(timeout, self._recorder.default_timeout, **options)
        return await self._recorder.lock(name, data, policy, None)

    async def lock_form(
        self,
        name: str,
        form: Model,
        data: dict[str, Any] | None = None,
        timeout: Duration | None = None,
        **options: Unpack[LockOptions],
    ) -> Any:
        """Like ``lock``, with the form given here instead of by ``@app.lock(name)``."""
        policy = make_policy(timeout, self._recorder.default_timeout, **options)
        return await self._recorder.lock(name, data, policy, form)

    async def _prompt(
        self, kind: str, form: Model, options: dict[str, Any], data: dict[str, Any] | None = None
    ) -> Any:
        return await self.lock_form(PREFIX + kind, form, data, **options)

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a side effect and record its result; replays return the recorded result without
        running it again.

        At least once, not exactly once: if the process dies after ``fn``'s effect but before
        its result is recorded, ``fn`` runs again when the run resumes. A ``fn`` with a
        parameter named ``idempotency_key`` gets a key that is the same on every such run (the
        run's id and the step's position): hand it to an API that de-duplicates by key (an
        ``Idempotency-Key`` header) and the effect happens once."""
        return await self._recorder.step(name, fn, args, kwargs)

    async def sleep(self, delay: float | timedelta) -> None:
        """A durable sleep: survives restarts, and the clock is not reset by them."""
        await self._recorder.sleep(0.0 if delay == 0 else seconds(delay, "sleep"))

    async def debug(self, *msgs: Any) -> None:
        await self._progress("debug", msgs)

    async def markdown(self, *msgs: Any) -> None:
        await self._progress("markdown", msgs)

    async def warning(self, *msgs: Any) -> None:
        await self._progress("warning", msgs)

    async def result(self, *objs: Any) -> None:
        await self._progress("result", objs)

    async def _progress(self, kind: str, msgs: tuple[Any, ...]) -> None:
        await self._recorder.progress(kind, " ".join(str(m) for m in msgs))
