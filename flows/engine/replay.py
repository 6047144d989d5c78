"""One replay of one execution: the tracer's ``Recorder``. Each call is answered from its record
(which one: ``flows.engine.matching``), or opened and recorded; ``flows.engine.runs`` drives
replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from flows.app import Request, call
from flows.codec import decode, encode
from flows.engine.matching import Records
from flows.engine.records import Call, Execution, NewEvent, Post
from flows.engine.setup import InThread, Setup, new_id, timer_row
from flows.entry import parameters
from flows.errors import (
    FlowConfigError,
    LockCancelled,
    LockExpired,
    LockRejected,
    NotStorable,
    StepFailed,
    described,
)
from flows.files import FileStore
from flows.forms import Model
from flows.policy import Policy, reminder_times, series_goes_on

log = logging.getLogger("lockstep.engine")
ANSWERED = ("resolved", "rejected", "expired")  # a lock's decisions a replay hands back
NAME_MAX = 200  # characters of a lock's or a step's name, as the store keeps it
IDEMPOTENCY_KEY = "idempotency_key"  # a step function that names it gets a key for its effect


class Replay:
    """One replay of one execution: what was recorded, and what this replay opened."""

    def __init__(self, setup: Setup, execution: Execution, recorded: list[Call]) -> None:
        self.setup = setup
        self.execution = execution
        self.execution_id = execution.id
        self.initiator = execution.initiator
        self.default_timeout = setup.default_timeout
        self.context: Mapping[str, Any] = execution.context
        self.files: FileStore | None = (
            InThread(setup.files, setup, execution) if setup.files else None
        )
        self.records = Records(recorded, execution.id, self.fail)
        self.progress_seen = 0  # the flow's own outputs so far (not its branches')
        self.said: set[str] | None = None  # the branches' outputs announced, by where they came
        self.new_calls: list[dict[str, Any]] = []
        self.new_timers: list[dict[str, Any]] = []
        self.new_events: list[NewEvent] = []
        self.waiting = 0
        self.held: list[tuple[Call, asyncio.Future[None]]] = []  # decided locks, held back
        self.in_step = 0
        self.changed = asyncio.Event()
        self.fatal: Exception | None = None
        self.parking = False  # the flow is being cancelled to park: it records nothing more

    def fail(self, error: Exception) -> Exception:
        """Stop the run with ``error`` whatever the flow does with it (a wiring mistake)."""
        self.fatal = error
        return error

    def _named(self, kind: str, name: str) -> None:
        """A lock's or a step's name, within what the store keeps (Postgres refuses more)."""
        if len(name) > NAME_MAX:
            raise self.fail(
                FlowConfigError(
                    f"{kind} {name[:40]!r}… is named in more than {NAME_MAX} characters:"
                    " give it a shorter name"
                )
            )

    def _parked(self) -> None:
        """A flow cancelled to park (its ``finally`` blocks and context managers running) may
        not record anything: its cleanup runs for real after the answer, in the next replay."""
        if self.parking:
            raise asyncio.CancelledError

    def open(self, kind: str, name: str, deadline: float | None, **fields: Any) -> str:
        now = self.setup.clock.now()
        row = {
            "id": new_id(), "execution_id": self.execution.id, "seq": self.records.seq,
            "kind": kind, "name": name, "status": "open", "data": None, "form": None,
            "result": None, "actor": None, "comment": None, "deadline": deadline,
            "created_at": now, "decided_at": None, "policy": None, **fields,
        }  # fmt: skip
        self.new_calls.append(row)
        if deadline is not None:
            timer_kind = "deadline" if kind == "lock" else "wake"
            self.new_timers.append(timer_row(self.execution.id, row["id"], timer_kind, deadline))
        if kind == "lock":
            detail = {"name": name, "deadline": deadline}
            self.new_events.append(NewEvent(kind="lock_opened", call_id=row["id"], detail=detail))
        return str(row["id"])

    def open_lock(self, seq: int, name: str, policy: Policy, **fields: Any) -> None:
        """Open a lock at ``seq`` with its deadline, reminder and escalation timers."""
        opened = self.setup.clock.now()
        deadline = opened + policy.timeout
        lock_id = self.open("lock", name, deadline, policy=policy.to_json(), seq=seq, **fields)
        extra: list[tuple[float, str, Any]]
        times = reminder_times(policy, opened, deadline)
        extra = [(at, "remind", None) for at in times]
        if times and series_goes_on(policy, times[-1], deadline):  # cut: the last plans more
            extra[-1] = (times[-1], "remind", {"more": True})
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

    # the Recorder ---------------------------------------------------------------------------

    async def lock(
        self, name: str, data: dict[str, Any] | None, policy: Policy, form: Model | None
    ) -> Any:
        self._named("lock", name)
        self._parked()
        seq = self.records.seq = self.records.seq + 1
        try:
            stored = encode(data)
        except NotStorable as exc:
            raise self.fail(
                FlowConfigError(f"lock {name!r}: data must be JSON-like: {exc}")
            ) from exc
        shown = (name, stored, policy.to_json(), form.to_json() if form else None)
        recorded = self.records.lock(seq, shown)
        self.records.went("lock", name, recorded.seq if recorded else seq)
        if recorded is None:
            seq = self.records.place(seq)
            if form is None:
                self.in_step += 1  # its form is being made: parking waits for it
                try:
                    form = await self._form(name, data)
                finally:
                    self.in_step -= 1  # (waiting at the lock next tells the driver)
            self.open_lock(seq, name, policy, data=stored, form=form.to_json())
            await self.wait()
        if recorded.status in ANSWERED and asyncio.current_task() is not self.records.root:
            await self._in_turn(recorded)  # a branch's (the flow's own waits for it alone)
        match recorded.status:
            case "resolved":
                return decode(recorded.result)
            case "rejected":
                raise LockRejected(name, recorded.actor, recorded.decided_at, recorded.comment)
            case "expired":
                raise LockExpired(name, recorded.deadline)
            case "cancelled":
                raise LockCancelled(name)
        await self.wait()

    async def _in_turn(self, lock: Call) -> None:
        """A decided lock of a branch answers when its turn comes, as it did live: once the
        flow has done all it can (``release``), the earliest decided first; so locks waited for
        side by side (``asyncio.as_completed``, ``wait(FIRST_COMPLETED)``) come back in the
        order people answered them, not in the order the replay reaches them. The flow's own
        lock (not in a branch) answers at once: nothing goes on beside it but branches."""
        turn = asyncio.get_running_loop().create_future()
        held = (lock, turn)
        self.held.append(held)
        self.changed.set()
        try:
            await turn
        finally:
            if held in self.held:
                self.held.remove(held)

    async def release(self) -> None:
        """The flow has done all it can: the earliest decided of the held locks answers."""
        ranks: dict[str, int] = {}
        first = min(c.decided_at or 0.0 for c, _ in self.held)
        if sum((c.decided_at or 0.0) == first for c, _ in self.held) > 1:  # decided together
            events = await self.setup.store.events(self.execution.id)
            ranks = {e.call_id: e.id for e in events if e.call_id is not None}  # the last each
        held = min(self.held, key=lambda h: (h[0].decided_at or 0.0, ranks.get(h[0].id, 0)))
        self.held.remove(held)
        held[1].set_result(None)
        self.changed.set()  # what the flow does next may record nothing (a recorded step)

    async def _form(self, name: str, data: dict[str, Any] | None) -> Model:
        handler = self.setup.registry.lock(self.execution.flow, name)
        if handler is None:
            raise self.fail(
                FlowConfigError(
                    f"the flow reached lock {name!r}, but no @app.lock({name!r}) form is registered"
                )
            )
        if data is None and not self.setup.registry.kodosumi(self.execution.flow, name):
            data = {}  # kodosumi hands a lock handler the data as given, None included
        execution = self.execution
        request = Request(execution.flow, execution.initiator, execution.context)
        form = await call(handler, data=data, request=request)
        if not isinstance(form, Model):
            raise self.fail(
                FlowConfigError(
                    f"@app.lock({name!r}) must return a Model, not {type(form).__name__}"
                )
            )
        return form

    async def step(
        self, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self._named("step", name)
        key = self.records.where("step", name, list(args), kwargs)
        self._parked()
        seq, recorded, branched = self.records.reached("step", name, key)
        if recorded is not None:
            self.records.went("step", name, recorded.seq)
            if recorded.status == "failed":
                raise StepFailed(f"step {name!r} failed: {recorded.result}")
            return decode(recorded.result)
        seq = self.records.place(seq)
        self.records.went("step", name, seq)
        if _takes(fn, IDEMPOTENCY_KEY) and IDEMPOTENCY_KEY not in kwargs:
            # the same however often it runs: in a branch, by where in the flow it comes
            mark = f"{name}-{key['at']}" if branched else seq
            kwargs = {**kwargs, IDEMPOTENCY_KEY: f"{self.execution.id}-{mark}"}
        with self.busy():  # until its outcome is recorded
            try:
                result = fn(*args, **kwargs)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await result
            except Exception as exc:
                failed = described(exc)
                await self._record_step(seq, name, key, "failed", failed)
                raise
            try:
                stored = encode(result)
            except NotStorable as exc:
                raise self.fail(
                    FlowConfigError(
                        f"step {name!r} returned a value that cannot be recorded: {exc}"
                    )
                ) from exc
            await self._record_step(seq, name, key, "done", stored)
        return result

    async def _record_step(self, seq: int, name: str, key: Any, status: str, result: Any) -> None:
        now = self.setup.clock.now()
        row = {
            "id": new_id(), "execution_id": self.execution.id, "seq": seq, "kind": "step",
            "name": name, "status": status, "data": key, "result": result, "created_at": now,
            "decided_at": now,
        }  # fmt: skip
        await self.setup.store.add(self.execution.id, now, new_calls=[row])

    async def sleep(self, seconds: float) -> None:
        key = self.records.where("sleep", "sleep", seconds)
        self._parked()
        seq, recorded, _ = self.records.reached("sleep", "sleep", key)
        if recorded is None:
            seq = self.records.place(seq)
            self.records.went("sleep", "sleep", seq)
            if seconds:
                due = self.setup.clock.now() + seconds
                self.open("sleep", "sleep", due, seq=seq, data=key)
                await self.wait()
            return
        self.records.went("sleep", "sleep", recorded.seq)
        if recorded.status == "open":
            await self.wait()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Held while the flow does what parking waits for: a step running, output being
        recorded, or queued output (``print()``) awaited before its next call."""
        self.in_step += 1
        try:
            yield
        finally:
            self.in_step -= 1
            self.changed.set()

    def where(self, kind: str) -> str | None:
        """The flow's own output (from its task): None, counted by position. A branch's: where
        it comes in the flow (``Records.where``)."""
        if asyncio.current_task() is self.records.root:
            return None
        at = self.records.where("output", kind)["at"]
        self.records.went("output", kind, 0)
        return at

    async def progress(self, kind: str, text: str, at: str | None, of: str | None = None) -> None:
        """Output, announced once however often the flow is replayed: the flow's own (from its
        task, or its sync code in a thread) is its n-th output, announced if an earlier run
        announced n of them, whatever it says (a draft made afresh); a branch's is the output
        coming where it comes (``where``), likewise. Parking waits while it is recorded."""
        self._parked()
        with self.busy():
            await self._announce(kind, text, at, of)

    async def _announce(self, kind: str, text: str, at: str | None, of: str | None) -> None:
        eid = self.execution.id
        said: dict[str, Any] = {"level": kind, "text": text}
        if of is not None:
            said["type"] = of
        if at is None:
            index, self.progress_seen = self.progress_seen, self.progress_seen + 1
            if index < self.execution.progress:
                return
            key, counted = f"progress:{eid}:{index}", 1
        else:
            if at in await self._branch_said():
                return
            said["at"] = at
            key, counted = f"progress:{eid}:{at}", 0
        now = self.setup.clock.now()
        event = NewEvent(kind="progress", detail=said)
        posted = {"type": "progress", "level": kind, "text": text}
        post = Post(key=key, payload=posted | ({"of": of} if of is not None else {}))
        await self.setup.store.add(eid, now, new_events=[event], progress=counted, posts=[post])
        self.setup.soon(eid)

    async def _branch_said(self) -> set[str]:
        """Where the branches' outputs that earlier runs announced came (read once)."""
        if self.said is None:
            events = await self.setup.store.events(self.execution.id)
            details = [e.detail for e in events if e.kind == "progress"]
            self.said = {d["at"] for d in details if isinstance(d, dict) and "at" in d}
        return self.said


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in parameters(fn)[0]
    except (TypeError, ValueError):  # a builtin without a signature
        return False
