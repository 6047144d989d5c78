"""One replay of one execution: the tracer's ``Recorder``. Calls at positions (``seq``) are
answered from the record, or opened and recorded; ``flows.engine.runs`` drives replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NoReturn

from flows.app import Request, call
from flows.codec import decode, encode
from flows.engine.records import Call, Execution, NewEvent, Post
from flows.engine.scope import ids
from flows.engine.setup import InThread, Setup, new_id, timer_row
from flows.entry import parameters
from flows.errors import (
    FlowConfigError,
    LockCancelled,
    LockExpired,
    LockRejected,
    NonDeterminismError,
    NotStorable,
    StepFailed,
)
from flows.files import FileStore
from flows.forms import Model
from flows.policy import Policy, reminder_times

log = logging.getLogger("lockstep.engine")
IDEMPOTENCY_KEY = "idempotency_key"  # a step function that names it gets a key for its effect
# Positions from here on: new calls of branches, recorded where no position of the flow's own
# count reaches (their own was taken by another call's record).
AFTER_COUNT = 1_000_000
# The calls a task and the tasks that started it made before, in order, each with the position
# of its record: the same on every replay, however the branches interleave (a branch's lock is
# found by what it asks, so alike branches part at their first lock). A task starts with its
# parent's.
PATH: ContextVar[tuple[tuple[str, str, int], ...]] = ContextVar("lockstep_path", default=())


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
        self.recorded = {c.seq: c for c in recorded}
        self.seq = 0
        self.progress_seen = 0  # the flow's own outputs so far (not its branches')
        self.said: set[str] | None = None  # the branches' outputs announced, by where they came
        self.occurred: dict[str, int] = {}  # calls alike so far (``_where``)
        self.new_calls: list[dict[str, Any]] = []
        self.new_timers: list[dict[str, Any]] = []
        self.new_events: list[NewEvent] = []
        self.waiting = 0
        self.in_step = 0
        self.changed = asyncio.Event()
        self.fatal: Exception | None = None
        self.parking = False  # the flow is being cancelled to park: it records nothing more
        self.root: asyncio.Future[Any] | None = None  # the flow's own task (``Runs`` sets it)
        self.matched: set[int] = set()  # the records this replay has reached
        self.placed: set[int] = set()  # the positions of the calls it recorded anew

    def fail(self, error: Exception) -> Exception:
        """Stop the run with ``error`` whatever the flow does with it (a wiring mistake)."""
        self.fatal = error
        return error

    def _parked(self) -> None:
        """A flow cancelled to park (its ``finally`` blocks and context managers running) may
        not record anything: its cleanup runs for real after the answer, in the next replay."""
        if self.parking:
            raise asyncio.CancelledError

    def _branched(self, seq: int) -> bool:
        """Is the call at ``seq`` made in a branch (a task the flow started, as
        ``asyncio.gather`` does), or where a branch's call took the record? Branches may reach
        their calls in another order than recorded (a recorded step answers at once, a real
        one waits): such a call's record is found by what it asks, not by where it comes."""
        return asyncio.current_task() is not self.root or seq in self.matched

    def _place(self, seq: int) -> int:
        """Where a new call that came at ``seq`` is recorded: there, unless another call's
        record stands there (branches came in another order); then after every position the
        flow's calls count to."""
        if seq in self.recorded or seq in self.placed:
            seq = max(AFTER_COUNT, *self.recorded, *self.placed) + 1
        self.placed.add(seq)
        return seq

    def _where(self, kind: str, name: str, *said: Any) -> dict[str, str]:
        """Where in the flow a call comes, the same on every replay: after which calls of its
        task and of the tasks that started it (``PATH``), with what it says (a step's
        arguments, a sleep's seconds, when they can be recorded), and how many such came
        before it in this replay (branches alike in all this: one each)."""
        path = PATH.get()
        try:
            shown = json.dumps(encode([path, kind, name, *said]), separators=(",", ":"))
        except (NotStorable, TypeError, ValueError):
            shown = json.dumps(encode([path, kind, name]), separators=(",", ":"))
        nth = self.occurred[shown] = self.occurred.get(shown, -1) + 1
        return {"at": hashlib.sha256(f"{shown}#{nth}".encode()).hexdigest()[:20]}

    @staticmethod
    def _went(kind: str, name: str, seq: int) -> None:
        """The task made this call, recorded at ``seq``: its path goes on with it."""
        PATH.set((*PATH.get(), (kind, name, seq)))

    def _reached(self, kind: str, name: str, key: Any) -> tuple[int, Call | None, bool]:
        """This step's or sleep's position, its record if it has one, and whether it is in a
        branch. Its record is the one at its position; in a branch, the one with its ``key``
        (``_where``) wherever it stands, or the one of its name at its position when that has
        no key (recorded before keys were)."""
        self._parked()
        seq = self.seq = self.seq + 1
        branched = self._branched(seq)
        if not branched:
            found = self._at(seq, kind, name)
        else:
            here = self.recorded.get(seq)
            found = next(
                (c for c in self.recorded.values() if key is not None and c.data == key
                 and (c.kind, c.name) == (kind, name) and c.seq not in self.matched),
                None,
            )  # fmt: skip
            if found is None:  # recorded before keys were: by position, else the first alike
                old = [
                    c
                    for c in self.recorded.values()
                    if c.data is None
                    and (c.kind, c.name) == (kind, name)
                    and c.seq not in self.matched
                ]
                found = here if here in old else (old[0] if old else None)
        if found is not None:
            self.matched.add(found.seq)
        return seq, found, branched

    def _at(self, seq: int, kind: str, name: str) -> Call | None:
        """The call recorded at ``seq``, if any; one of another kind or name stops the run."""
        recorded = self.recorded.get(seq)
        if recorded is not None and (recorded.kind, recorded.name) != (kind, name):
            raise self.fail(
                NonDeterminismError(
                    f"replay reached {kind} {name!r} at position {seq}, but the recorded run "
                    f"had {recorded.kind} {recorded.name!r} there: the flow's code path changed"
                )
            )
        return recorded

    def open(self, kind: str, name: str, deadline: float | None, **fields: Any) -> str:
        now = self.setup.clock.now()
        row = {
            "id": new_id(), "execution_id": self.execution.id, "seq": self.seq, "kind": kind,
            "name": name, "status": "open", "data": None, "form": None, "result": None,
            "actor": None, "comment": None, "deadline": deadline, "created_at": now,
            "decided_at": None, "policy": None, **fields,
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

    # the Recorder ---------------------------------------------------------------------------

    async def lock(
        self, name: str, data: dict[str, Any] | None, policy: Policy, form: Model | None
    ) -> Any:
        self._parked()
        seq = self.seq = self.seq + 1
        try:
            stored = encode(data)
        except NotStorable as exc:
            raise self.fail(
                FlowConfigError(f"lock {name!r}: data must be JSON-like: {exc}")
            ) from exc
        shown = (name, stored, policy.to_json(), form.to_json() if form else None)
        recorded = self._recorded_lock(seq, shown)
        self._went("lock", name, recorded.seq if recorded else seq)
        if recorded is None:
            seq = self._place(seq)
            if form is None:
                self.in_step += 1  # its form is being made: parking waits for it
                try:
                    form = await self._form(name, data)
                finally:
                    self.in_step -= 1  # (waiting at the lock next tells the driver)
            self.open_lock(seq, name, policy, data=stored, form=form.to_json())
            await self.wait()
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

    def _recorded_lock(self, seq: int, shown: tuple[str, Any, Any, Any]) -> Call | None:
        """The recorded lock this one is: the one asking the same (name, data, rules, and the
        form when the flow gave it), at this position or, when branches reached their locks in
        another order than recorded, at another. Else the record at this position, as any
        call's (a lock whose data the flow made afresh outside a step is logged)."""
        name, data, policy, form = shown

        def same(call: Call, rules: bool) -> bool:
            return (
                call.kind == "lock" and call.seq not in self.matched
                and (call.name, call.data) == (name, data)
                and (form is None or call.form == form)
                and (not rules or call.policy == policy)
            )  # fmt: skip

        here = self.recorded.get(seq)
        found = here if here is not None and same(here, True) else None
        for rules in (True, False):  # rules computed afresh (a timeout left) may differ
            found = found or next((c for c in self.recorded.values() if same(c, rules)), None)
        if found is None and here is not None:
            if not self._branched(seq):
                found = self._at(seq, "lock", name)
            elif (here.kind, here.name) == ("lock", name):
                found = here  # a branch's lock at its own position, asking afresh
            if found is not None and found.data != data:
                log.warning(
                    "lock %r reached with other data than it was answered for: make what "
                    "it shows in a tracer.step", name, extra=ids(self.execution_id, found.id),
                )  # fmt: skip
        if found is not None:
            self.matched.add(found.seq)
        return found

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
        key = self._where("step", name, list(args), kwargs)
        seq, recorded, branched = self._reached("step", name, key)
        if recorded is not None:
            self._went("step", name, recorded.seq)
            if recorded.status == "failed":
                raise StepFailed(f"step {name!r} failed: {recorded.result}")
            return decode(recorded.result)
        seq = self._place(seq)
        self._went("step", name, seq)
        if _takes(fn, IDEMPOTENCY_KEY) and IDEMPOTENCY_KEY not in kwargs:
            # the same however often it runs: in a branch, by where in the flow it comes
            mark = f"{name}-{key['at']}" if branched else seq
            kwargs = {**kwargs, IDEMPOTENCY_KEY: f"{self.execution.id}-{mark}"}
        self.in_step += 1  # until its outcome is recorded: parking waits for it
        try:
            try:
                result = fn(*args, **kwargs)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await result
            except Exception as exc:
                failed = f"{type(exc).__name__}: {exc}"
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
        finally:
            self.in_step -= 1
            self.changed.set()
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
        key = self._where("sleep", "sleep", seconds)
        seq, recorded, _ = self._reached("sleep", "sleep", key)
        if recorded is None:
            seq = self._place(seq)
            self._went("sleep", "sleep", seq)
            if seconds:
                due = self.setup.clock.now() + seconds
                self.open("sleep", "sleep", due, seq=seq, data=key)
                await self.wait()
            return
        self._went("sleep", "sleep", recorded.seq)
        if recorded.status == "open":
            await self.wait()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Held while the flow waits for its queued output (``print()``) to be recorded before
        its next call: parking waits for it, as for a step."""
        self.in_step += 1
        try:
            yield
        finally:
            self.in_step -= 1
            self.changed.set()

    def where(self, kind: str, text: str) -> str | None:
        """The flow's own output (from its task): None, counted by position. A branch's: where
        it comes in the flow (``_where``)."""
        if asyncio.current_task() is self.root:
            return None
        at = self._where("output", kind)["at"]
        self._went("output", kind, 0)
        return at

    async def progress(self, kind: str, text: str, at: str | None) -> None:
        """Output, announced once however often the flow is replayed: the flow's own (from its
        task, or its sync code in a thread) is its n-th output, announced if an earlier run
        announced n of them, whatever it says (a draft made afresh); a branch's is the output
        coming where it comes with its text (``_where``). While it is being recorded, parking
        waits for it, as for a step."""
        self._parked()
        self.in_step += 1
        try:
            await self._announce(kind, text, at)
        finally:
            self.in_step -= 1
            self.changed.set()

    async def _announce(self, kind: str, text: str, at: str | None) -> None:
        eid = self.execution.id
        said: dict[str, Any] = {"level": kind, "text": text}
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
        post = Post(key=key, payload={"type": "progress", "level": kind, "text": text})
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
