"""Which recorded call each call of one replay is (``Records``). The flow's own calls are
matched by position (``seq``): another call where one was recorded stops the run with a
non-determinism error. A branch's (a task the flow started, as ``asyncio.gather`` does) by where
it comes in the flow and what it asks: branches may reach their calls in another order than
recorded (a recorded step answers at once, a real one waits).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from flows.codec import encode
from flows.engine.records import Call
from flows.engine.scope import ids
from flows.errors import NonDeterminismError, NotStorable

log = logging.getLogger("lockstep.engine")
# Positions from here on: new calls of branches, recorded where no position of the flow's own
# count reaches (their own was taken by another call's record).
AFTER_COUNT = 1_000_000
# The calls a task and the tasks that started it made before, in order, each with the position
# of its record: the same on every replay, however the branches interleave (a branch's lock is
# found by what it asks, so alike branches part at their first lock). A task starts with its
# parent's.
PATH: ContextVar[tuple[tuple[str, str, int], ...]] = ContextVar("lockstep_path", default=())


class Records:
    """What one replay found recorded, and which records its calls have reached."""

    def __init__(
        self, recorded: list[Call], execution_id: str, fail: Callable[[Exception], Exception]
    ) -> None:
        """``fail``: stops the run with an error whatever the flow does with it."""
        self.by_seq = {c.seq: c for c in recorded}
        self.execution_id = execution_id
        self.fail = fail
        self.seq = 0  # the position the flow's calls have counted to
        self.root: asyncio.Future[Any] | None = None  # the flow's own task (``Runs`` sets it)
        self.matched: set[int] = set()  # the records this replay has reached
        self.placed: set[int] = set()  # the positions of the calls it recorded anew
        self.occurred: dict[str, int] = {}  # calls alike so far (``where``)

    def branched(self, seq: int) -> bool:
        """Is the call at ``seq`` made in a branch (a task the flow started, as
        ``asyncio.gather`` does), or where a branch's call took the record? Branches may reach
        their calls in another order than recorded (a recorded step answers at once, a real
        one waits): such a call's record is found by what it asks, not by where it comes."""
        return asyncio.current_task() is not self.root or seq in self.matched

    def place(self, seq: int) -> int:
        """Where a new call that came at ``seq`` is recorded: there, unless another call's
        record stands there (branches came in another order); then after every position the
        flow's calls count to."""
        if seq in self.by_seq or seq in self.placed:
            seq = max(AFTER_COUNT, *self.by_seq, *self.placed) + 1
        self.placed.add(seq)
        return seq

    def where(self, kind: str, name: str, *said: Any) -> dict[str, str]:
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
    def went(kind: str, name: str, seq: int) -> None:
        """The task made this call, recorded at ``seq``: its path goes on with it."""
        PATH.set((*PATH.get(), (kind, name, seq)))

    def reached(self, kind: str, name: str, key: Any) -> tuple[int, Call | None, bool]:
        """This step's or sleep's position, its record if it has one, and whether it is in a
        branch. Its record is the one at its position; in a branch, the one with its ``key``
        (``_where``) wherever it stands, or the one of its name at its position when that has
        no key (recorded before keys were)."""
        seq = self.seq = self.seq + 1
        branched = self.branched(seq)
        if not branched:
            found = self.at(seq, kind, name)
        else:
            here = self.by_seq.get(seq)
            found = next(
                (c for c in self.by_seq.values() if key is not None and c.data == key
                 and (c.kind, c.name) == (kind, name) and c.seq not in self.matched),
                None,
            )  # fmt: skip
            if found is None:  # recorded before keys were: by position, else the first alike
                old = [
                    c
                    for c in self.by_seq.values()
                    if c.data is None
                    and (c.kind, c.name) == (kind, name)
                    and c.seq not in self.matched
                ]
                found = here if here in old else (old[0] if old else None)
        if found is not None:
            self.matched.add(found.seq)
        return seq, found, branched

    def at(self, seq: int, kind: str, name: str) -> Call | None:
        """The call recorded at ``seq``, if any; one of another kind or name stops the run."""
        recorded = self.by_seq.get(seq)
        if recorded is not None and (recorded.kind, recorded.name) != (kind, name):
            raise self.fail(
                NonDeterminismError(
                    f"replay reached {kind} {name!r} at position {seq}, but the recorded run "
                    f"had {recorded.kind} {recorded.name!r} there: the flow's code path changed"
                )
            )
        return recorded

    def lock(self, seq: int, shown: tuple[str, Any, Any, Any]) -> Call | None:
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

        here = self.by_seq.get(seq)
        found = here if here is not None and same(here, True) else None
        for rules in (True, False):  # rules computed afresh (a timeout left) may differ
            found = found or next((c for c in self.by_seq.values() if same(c, rules)), None)
        if found is None and here is not None:
            if not self.branched(seq):
                found = self.at(seq, "lock", name)
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
