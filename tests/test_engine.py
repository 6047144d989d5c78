"""The engine on a real store (SQLite file, and Postgres when configured)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from flows import InputsError, Request
from flows.codec import decode
from flows.engine import (
    Call,
    Cancel,
    Engine,
    EngineConfig,
    FakeClock,
    NewEvent,
    RecordingNotifier,
    UnknownFlow,
    delivery,
)
from flows.engine.delivery import HOLD
from flows.engine.records import Claim
from store import SQLStore
from store.tables import calls
from tests import sample_flows
from tests.sample_flows import app

pytestmark = pytest.mark.asyncio


class Harness:
    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.clock = FakeClock()
        self.notes = RecordingNotifier()
        self.engine = Engine(store, [app], self.notes, self.clock, EngineConfig())

    async def start(self, flow: str, inputs: dict[str, Any] | None = None, user: str = "U1") -> str:
        eid = await self.engine.start(flow, inputs, Request(flow, user, {"channel": "C1"}))
        await self.engine.settled(eid)
        return eid

    def open_locks(self, eid: str) -> list[Call]:
        return self.notes.of("lock_opened", eid)

    async def status(self, eid: str) -> str:
        execution = await self.store.execution(eid)
        assert execution
        return execution.status

    async def kinds(self, eid: str) -> list[str]:
        return [e.kind for e in await self.store.events(eid)]


@pytest.fixture
async def h(store: SQLStore) -> AsyncIterator[Harness]:
    harness = Harness(store)
    yield harness
    await harness.engine.close()


async def test_two_lock_flow_end_to_end_with_audit_trail(h: Harness) -> None:
    eid = await h.start("review", {"doc": "spec.md"}, user="UALICE")
    assert await h.status(eid) == "awaiting"
    [content] = h.open_locks(eid)
    assert content.name == "content" and content.data == {"doc": "spec.md"}
    assert content.form[0] == {"type": "markdown", "text": "# Review spec.md"}

    decision = await h.engine.submit(content.id, {"score": "4", "comment": "fine"}, "UBOB")
    assert decision.outcome == "accepted" and decision.lock.actor == "UBOB"
    await h.engine.settled(eid)
    _, final = h.open_locks(eid)
    assert final.name == "final" and final.data == {"score": 4}

    decision = await h.engine.submit(final.id, {"ok": "on"}, "UCAROL")
    assert decision.outcome == "accepted"
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "finished"
    assert execution.result == {"doc": "spec.md", "score": 4, "final": {"ok": True}}
    assert execution.initiator == "UALICE" and execution.context == {"channel": "C1"}

    events = await h.store.events(eid)
    assert [(e.kind, e.actor) for e in events] == [
        ("started", "UALICE"),
        ("progress", None),
        ("lock_opened", None),
        ("status", None),
        ("lease", "UBOB"),
        ("lock_opened", None),
        ("status", None),
        ("lease", "UCAROL"),
        ("finished", None),
    ]
    assert events[1].detail == {"level": "debug", "text": "reviewing\nspec.md"}  # one per line
    assert events[4].detail == {"inputs": {"score": 4, "comment": "fine"}}
    assert h.notes.of("progress", eid) == [("debug", "reviewing\nspec.md")]  # once, not per replay
    shown = h.notes.of("status_changed", eid)  # the run's message follows its state, and
    assert shown[-1] == "finished" and "starting" not in shown[1:]  # never goes back


async def test_inputs_that_read_like_recorded_types_come_back_as_they_were(h: Harness) -> None:
    """What someone sends a flow (over the API, say) may look like how Lockstep records a date
    or a model: it reaches the flow, its steps and its replays as the dicts it was, never as a
    date, nor as a class imported by the name it gives."""
    given = [
        {"$date": "2020-01-01"},
        {"$model": "tests.sample_flows:Never", "value": {}},
        {"$dataclass": "subprocess:Popen", "value": {"args": ["true"]}},
        {"$set": [1]},
        {"$dict": {"a": 1}},
    ]
    eid = await h.start("echo", {"given": given})
    [final] = h.open_locks(eid)
    assert (await h.engine.submit(final.id, {"ok": "on"}, "UCAROL")).outcome == "accepted"
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "finished", execution
    assert decode(execution.result) == {"inputs": given, "step": given}


async def test_an_exception_whose_message_cannot_be_read_still_ends_the_run(h: Harness) -> None:
    """A flow's (or a step's) exception whose ``str()`` itself raises ends the run in error,
    named by its type, instead of leaving it running."""
    eid = await h.start("unreadable")
    execution = await h.store.execution(eid)
    assert execution and (execution.status, execution.error) == (
        "error",
        "Unreadable (its message could not be read)",
    ), execution
    eid = await h.start("unreadable", {"in_step": True})
    execution = await h.store.execution(eid)
    assert execution and execution.status == "finished", execution
    [step] = [c for c in await h.store.calls(eid) if c.kind == "step"]
    assert step.result == "Unreadable (its message could not be read)"


async def test_entry_form_and_enter_handler_errors(h: Harness) -> None:
    with pytest.raises(InputsError) as caught:
        await h.engine.start("review", {})
    assert caught.value.wire() == {"doc": ["This field is required."], "_global_": []}
    with pytest.raises(InputsError, match="cannot be reviewed"):
        await h.engine.start("review", {"doc": "forbidden"})
    with pytest.raises(UnknownFlow):
        await h.engine.start("nope", {})


async def test_idempotent_start(h: Harness) -> None:
    first = await h.engine.start("review", {"doc": "a"}, execution_id="fixed-id")
    again = await h.engine.start("review", {"doc": "a"}, execution_id="fixed-id")
    await h.engine.settled(first)
    assert first == again == "fixed-id"
    assert len(h.open_locks(first)) == 1


async def test_validation_failure_keeps_the_lock_open(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    parsed = await h.engine.submit(lock.id, {"score": "9"}, "UBOB")
    assert parsed.outcome == "invalid"
    assert parsed.errors == {"score": ["Enter a number of at most 5."], "_global_": []}
    leased = await h.engine.submit(lock.id, {"score": "1"}, "UBOB")
    assert leased.errors == {"comment": ["Explain a low score"], "_global_": []}
    stored = await h.store.call(lock.id)
    assert stored and stored.status == "open" and await h.status(eid) == "awaiting"
    assert (await h.kinds(eid)).count("invalid") == 2
    assert (await h.engine.submit(lock.id, {"score": "1", "comment": "weak"}, "UBOB")).outcome == (
        "accepted"
    )


async def test_rejection_uncaught_cancels_and_caught_continues(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    rejected = await h.engine.reject(lock.id, "UBOB", "not ready")
    assert rejected.outcome == "rejected" and rejected.lock.comment == "not ready"
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "cancelled"
    assert execution.error and "content was rejected by UBOB" in execution.error

    caught = await h.start("catching")
    [lock] = h.open_locks(caught)
    await h.engine.reject(lock.id, "UBOB", "no")
    await h.engine.settled(caught)
    execution = await h.store.execution(caught)
    assert (
        execution and execution.status == "finished" and execution.result == "rejected by UBOB: no"
    )


async def test_a_decided_lock_tells_the_loser_who_won(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    await h.engine.submit(lock.id, {"score": "5"}, "UBOB")
    late = await h.engine.submit(lock.id, {"score": "5"}, "UCAROL")
    assert late.outcome == "decided"
    assert late.lock.actor == "UBOB" and late.lock.status == "resolved" and late.lock.decided_at
    assert (await h.engine.reject(lock.id, "UCAROL")).outcome == "decided"


async def test_expiry_with_an_injected_clock(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    assert lock.deadline == h.clock.now() + 600
    h.clock.advance(599)
    assert await h.engine.fire_due() == 0
    h.clock.advance(1)
    assert await h.engine.fire_due() == 1
    assert await h.engine.fire_due() == 0  # fires once
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "error"
    assert execution.error and "content expired at" in execution.error
    assert (await h.engine.submit(lock.id, {"score": "5"}, "UBOB")).lock.status == "expired"
    assert [c.status for c in h.notes.of("lock_resolved", eid)] == ["expired"]

    caught = await h.start("catching")
    h.clock.advance(3 * 3600)
    await h.engine.fire_due()
    await h.engine.settled(caught)
    execution = await h.store.execution(caught)
    assert execution and execution.result == "expired"


async def test_nondeterminism_is_detected(h: Harness, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    eid = await h.start("drifting", {"flag": str(flag)})
    [lock] = h.open_locks(eid)
    flag.write_text("the code changed")
    await h.engine.submit(lock.id, {"ok": True}, "UBOB")
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "error"
    assert execution.error and "replay reached lock 'content' at position 1" in execution.error


async def test_missing_lock_form_is_a_clear_error(h: Harness) -> None:
    eid = await h.start("no_form")
    execution = await h.store.execution(eid)
    assert execution and execution.status == "error"
    assert execution.error == (
        "the flow reached lock 'nowhere', but no @app.lock('nowhere') form is registered"
    )


async def test_a_lock_or_step_named_past_what_the_store_keeps_fails_the_run(h: Harness) -> None:
    """A lock or a step names its call in the store in at most 200 characters: on Postgres a
    longer lock's run stayed "starting" for ever (its insert refused, a traceback), a step's
    failed with the database's error; both fail the run saying what to change."""
    for flow, kind in (("long_lock_name", "lock"), ("long_step_name", "step")):
        eid = await h.start(flow)
        execution = await h.store.execution(eid)
        assert execution and execution.status == "error", flow
        assert execution.error and execution.error.startswith(f"{kind} '")
        assert "more than 200 characters" in execution.error


async def test_cancel_from_outside(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    assert (await h.engine.cancel(eid, "U1")).outcome is Cancel.CANCELLED  # who started it
    again = await h.engine.cancel(eid, "U1")
    assert again.outcome is Cancel.ENDED and again.execution.status == "cancelled"
    assert await h.status(eid) == "cancelled"
    late = await h.engine.submit(lock.id, {"score": "5"}, "UBOB")
    assert late.outcome == "decided" and late.lock.status == "cancelled"
    assert await h.store.due_timers(h.clock.now() + 10**6) == []


async def test_gathered_locks_are_open_together(h: Harness) -> None:
    eid = await h.start("gather")
    first, second = h.open_locks(eid)
    assert (first.seq, second.seq) == (1, 2)
    await h.engine.submit(second.id, {"ok": True}, "UB")
    await h.engine.settled(eid)
    assert await h.status(eid) == "awaiting"
    await h.engine.submit(first.id, {"ok": False}, "UA")
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.result == [{"ok": False}, {"ok": True}]


@pytest.mark.parametrize("until", [0.0, time.time() + 3600], ids=["timeout", "time left"])
async def test_branches_reaching_their_locks_in_another_order_keep_their_answers(
    h: Harness, until: float
) -> None:
    """A replay's branches reach their locks in another order than recorded: each lock is the
    one shown with its data (its timeout, what time is left, another figure every replay),
    and gets its own answer."""
    sample_flows.FIRST[0] = "A"
    sample_flows.UNTIL[0] = until
    eid = await h.start("crossing")
    locks = {c.data["doc"]: c for c in h.open_locks(eid)}
    assert (locks["A"].seq, locks["B"].seq) == (1, 2)
    sample_flows.FIRST[0] = "B"  # from now on B reaches its lock first
    try:
        await h.engine.submit(locks["A"].id, {"ok": True}, "UA")
        await h.engine.settled(eid)
        assert await h.status(eid) == "awaiting"
        await h.engine.submit(locks["B"].id, {"ok": False}, "UB")
        await h.engine.settled(eid)
    finally:
        sample_flows.FIRST[0], sample_flows.UNTIL[0] = "A", 0.0
    execution = await h.store.execution(eid)
    assert execution and execution.result == {"A": {"ok": True}, "B": {"ok": False}}
    assert len(h.open_locks(eid)) == 2  # no lock opened again


async def test_parallel_approvals_keep_their_own_answers(h: Harness) -> None:
    eid = await h.start("two_approvals")
    locks = {c.policy["approvers"][0]: c for c in h.open_locks(eid)}
    assert (await h.engine.submit(locks["ULEGAL"].id, {}, "ULEGAL")).outcome == "accepted"
    await h.engine.settled(eid)
    assert (await h.engine.reject(locks["USEC"].id, "USEC")).outcome == "rejected"
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "finished"
    assert execution.result == {"security": False, "legal": True}


async def test_a_step_that_raised_replays_as_step_failed_and_runs_once(h: Harness) -> None:
    sample_flows.BOOMS.clear()
    eid = await h.start("failing_step")
    [lock] = h.open_locks(eid)
    await h.engine.submit(lock.id, {"ok": True}, "UB")
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "finished"
    assert execution.result == [
        "StepFailed",
        "step 'flaky' failed: RuntimeError: the service said no",
    ]
    assert sample_flows.BOOMS == ["ran"]


async def test_a_lock_whose_form_takes_a_moment_opens_beside_another(h: Harness) -> None:
    eid = await h.start("slow_and_fast")
    locks = {c.name: c for c in h.open_locks(eid)}
    assert (locks["slow_form"].seq, locks["final"].seq) == (1, 2)
    await h.engine.submit(locks["final"].id, {"ok": True}, "UA")
    await h.engine.settled(eid)
    assert await h.status(eid) == "awaiting"
    await h.engine.submit(locks["slow_form"].id, {"ok": False}, "UB")
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.result == [{"ok": False}, {"ok": True}]


async def test_a_slow_form_after_a_waiting_lock_is_never_lost(h: Harness) -> None:
    """The first branch waits while the second's form is made: the run parks with both open
    (the driver never misses the second lock opening while it shows the first)."""
    for _ in range(20):
        eid = await h.engine.start("fast_and_slow", None, Request("fast_and_slow", "U1", {}))
        await asyncio.wait_for(h.engine.settled(eid), 3)
        assert sorted(c.name for c in h.open_locks(eid)) == ["final", "slow_form"]


async def test_steps_run_once_and_sleep_is_durable(h: Harness, tmp_path: Path) -> None:
    log = tmp_path / "effects.log"
    eid = await h.start("side_effects", {"log": str(log)})
    [lock] = h.open_locks(eid)
    await h.engine.submit(lock.id, {}, "UB")
    await h.engine.settled(eid)
    assert await h.status(eid) == "awaiting"  # in tracer.sleep(60)
    h.clock.advance(59)
    assert await h.engine.fire_due() == 0
    h.clock.advance(1)
    assert await h.engine.fire_due() == 1
    await h.engine.settled(eid)
    execution = await h.store.execution(eid)
    assert execution and execution.status == "finished" and execution.result == 3
    assert [line.split(":")[0] for line in log.read_text().splitlines()] == ["first", "second"]


async def test_lease_crash_answers_with_an_error_id_and_keeps_the_lock(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    # data the lease needs is missing: its KeyError must not leak, nor close the lock
    await h.store.run(
        lambda conn: conn.execute(update(calls).where(calls.c.id == lock.id).values(data={}))
    )
    failed = await h.engine.submit(lock.id, {"score": "4"}, "UB")
    assert failed.outcome == "failed" and failed.error_id and len(failed.error_id) == 8
    stored = await h.store.call(lock.id)
    assert stored and stored.status == "open"
    assert (await h.store.events(eid))[-1].detail == {"error_id": failed.error_id}


@pytest.mark.parametrize("comment", ["late", "late crash"])
async def test_an_answer_refused_after_someone_else_decided_is_told_who(
    h: Harness, comment: str
) -> None:
    """Carol's lease is slow and refuses (or crashes on) her answer; Bob decides meanwhile:
    she is told it was answered by Bob, not to fix it, and nothing of hers is recorded."""
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    sample_flows.HELD[comment] = held = asyncio.Event()
    try:
        carol = asyncio.create_task(
            h.engine.submit(lock.id, {"score": "2", "comment": comment}, "UCAROL")
        )
        await asyncio.sleep(0.05)  # in her lease
        bob = await h.engine.submit(lock.id, {"score": "4", "comment": ""}, "UBOB")
        assert bob.outcome == "accepted"
        held.set()
        late = await carol
    finally:
        del sample_flows.HELD[comment]
    assert late.outcome == "decided" and late.lock.actor == "UBOB"
    events = await h.store.events(eid)
    assert [e for e in events if e.actor == "UCAROL"] == []


async def test_recover_takes_over_when_the_owners_heartbeat_stops(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    # another process committed the answer, claimed the run, and died
    now = h.clock.now()
    lease = NewEvent(kind="lease", actor="UB")
    assert await h.store.decide(lock.id, now, status="resolved", result={"score": 3}, event=lease)
    assert await h.store.claim(eid, Claim("dead-process", now, stale_before=0))
    assert await h.engine.recover() == 0  # its heartbeat is fresh: hands off
    h.clock.advance(h.engine.config.claim_ttl + 1)
    assert await h.engine.recover() == 1
    await h.engine.settled(eid)
    assert await h.status(eid) == "awaiting"
    assert [c.name for c in h.open_locks(eid)] == ["content", "final"]
    assert h.open_locks(eid)[1].data == {"score": 3}


async def test_concurrent_submissions_one_winner(h: Harness) -> None:
    eid = await h.start("review", {"doc": "d"})
    [lock] = h.open_locks(eid)
    results = await asyncio.gather(
        *(h.engine.submit(lock.id, {"score": "4"}, f"U{i}") for i in range(8))
    )
    assert sorted(r.outcome for r in results) == ["accepted"] + ["decided"] * 7
    assert (await h.kinds(eid)).count("lease") == 1


class Counted(SQLStore):
    """The store, counting its transactions (and single statements) by name."""

    def __init__(self, store: SQLStore) -> None:
        super().__init__(store.db)
        self.counts: dict[str, int] = {}

    async def run(self, fn: Any, *args: Any) -> Any:
        self.counts[fn.__name__] = self.counts.get(fn.__name__, 0) + 1
        return await super().run(fn, *args)

    async def single(self, fn: Any, *args: Any) -> Any:
        self.counts[fn.__name__] = self.counts.get(fn.__name__, 0) + 1
        return await super().single(fn, *args)


async def test_a_resume_is_three_transactions_a_read_and_one_delivery_pass(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer read with its run (one statement), decided and the run claimed together, the
    run parked at its next lock with its messages claimed for showing, and the decided lock and
    the new one shown in one pass, then recorded."""
    monkeypatch.setattr(delivery, "HOMES_EVERY", 3600.0)  # no App Home pass in the count
    counted = Counted(store)
    notes = RecordingNotifier()
    engine = Engine(counted, [app], notes, FakeClock(), EngineConfig())
    try:
        eid = await engine.start("review", {"doc": "d"}, Request("review", "UA", {}))
        await engine.settled(eid)
        [content] = notes.of("lock_opened", eid)
        counted.counts.clear()
        decision = await engine.submit(content.id, {"score": "4"}, "UB")
        await engine.settled(eid)
        assert decision.outcome == "accepted"
        assert counted.counts == {
            "call_and_run": 1, "decide": 1, "park": 1, "delivered": 1,
        }  # fmt: skip
        assert [m for m, e, _ in notes.calls if e == eid][-2:] == ["lock_resolved", "lock_opened"]
    finally:
        await engine.close()


async def test_a_decision_is_shown_within_the_hold_while_its_run_works_on(h: Harness) -> None:
    """Its rows wait for the run's next change at most ``HOLD`` seconds, not for a long step."""
    eid = await h.start("slow_after", {"seconds": 30})
    [final] = h.open_locks(eid)
    began = asyncio.get_running_loop().time()
    decision = await h.engine.submit(final.id, {"ok": "on"}, "UB")
    assert decision.outcome == "accepted"
    while not h.notes.of("lock_resolved", eid):
        await asyncio.sleep(0.02)
        assert asyncio.get_running_loop().time() - began < 5
    waited = asyncio.get_running_loop().time() - began
    assert HOLD <= waited < HOLD + 1.0  # shown while the step still runs
    assert await h.status(eid) == "running"


async def test_a_run_that_ends_elsewhere_leaves_nothing_behind_in_the_deliverer(h: Harness) -> None:
    """Cancelled while its step runs, the run's own ending changes nothing (it was ended
    already): the claim it would have made with it is forgotten, not kept for good."""
    eid = await h.start("slow_after", {"seconds": 0.3})
    [final] = h.open_locks(eid)
    assert (await h.engine.submit(final.id, {"ok": "on"}, "UB")).outcome == "accepted"
    await asyncio.sleep(0.1)  # the step runs
    await h.engine.cancel(eid, None, "stop")
    await h.engine.settled(eid)
    assert await h.status(eid) == "cancelled"
    assert h.engine._deliver._taking == {}
