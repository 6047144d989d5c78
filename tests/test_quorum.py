"""Quorum locks: N distinct people approve; one person counts once; a rejection ends it unless
the flow says otherwise; the lease sees every response; concurrent answers count each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flows import FlowApp, Request, Response, Tracer
from flows.engine import SINGLE, Call, Engine, FakeClock, NewEvent, RecordingNotifier
from flows.forms import Cancel, InputText, Model, Submit
from flows.policy import make_policy
from store import SQLStore
from tests.reading import calls, events
from tests.sample_flows import app


@pytest.fixture
def notes() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def engine(store: SQLStore, notes: RecordingNotifier) -> AsyncIterator[Engine]:
    engine = Engine(store, [app], notes, FakeClock())
    yield engine
    await engine.close()


async def panel(engine: Engine, **inputs: Any) -> Call:
    eid = await engine.start("panel", inputs, Request("panel", "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    [lock] = [c for c in await calls(engine, eid) if c.kind == "lock"]
    return lock


async def result(engine: Engine, lock: Call) -> Any:
    await engine.settled(lock.execution_id)
    execution = await engine.execution(lock.execution_id)
    assert execution is not None and execution.status == "finished", execution
    return execution.result


async def test_two_different_people_must_approve(engine: Engine, notes: RecordingNotifier) -> None:
    lock = await panel(engine)
    first = await engine.submit(lock.id, {"score": 4}, "UBOB")
    assert first.outcome == "counted" and first.approvers == ["UBOB"]
    await engine.settled(lock.execution_id)
    assert notes.of("voted", lock.execution_id) == [("panel", ["UBOB"])]  # shown on the lock
    again = await engine.submit(lock.id, {"score": 9}, "UBOB")
    assert again.outcome == "repeat" and again.approvers == ["UBOB"]
    assert (await engine.lock(lock.id)).open  # the same person twice counts once
    second = await engine.submit(lock.id, {"score": 8}, "UCAROL")
    assert second.outcome == "accepted" and second.approvers == ["UBOB", "UCAROL"]
    assert await result(engine, lock) == {
        "mean": 6.0, "approvers": ["UBOB", "UCAROL"], "declined": [],
    }  # fmt: skip
    [decided] = [s for s in notes.shows if s.kind == "lock" and s.lock and not s.lock.open]
    assert decided.lock.status == "resolved" and decided.approvers == ["UBOB", "UCAROL"]
    kinds = [(e.kind, e.actor) for e in await events(engine, lock.execution_id)]
    assert ("approved", "UBOB") in kinds and ("approved", "UCAROL") in kinds
    assert kinds.count(("approved", "UBOB")) == 1
    quorum = [e for e in await events(engine, lock.execution_id) if e.kind == "quorum"]
    assert quorum[0].detail == {"approvers": ["UBOB", "UCAROL"]}


async def test_an_invalid_answer_is_not_counted(engine: Engine) -> None:
    lock = await panel(engine)
    bad = await engine.submit(lock.id, {"score": 11}, "UBOB")
    assert bad.outcome == "invalid" and bad.errors["score"] == ["At most 10"]
    assert (await engine.submit(lock.id, {"score": 2}, "UBOB")).outcome == "counted"


async def test_one_rejection_ends_it(engine: Engine) -> None:
    lock = await panel(engine)
    await engine.submit(lock.id, {"score": 4}, "UBOB")
    assert (await engine.reject(lock.id, "UCAROL", "no")).outcome == "rejected"
    assert await result(engine, lock) == {"rejected_by": "UCAROL"}


async def test_without_veto_a_rejection_is_recorded_and_the_lease_sees_it(engine: Engine) -> None:
    lock = await panel(engine, veto=False)
    declined = await engine.reject(lock.id, "UCAROL", "too risky")
    assert declined.outcome == "counted" and declined.approvers == []
    assert declined.responses[0].comment == "too risky"
    assert (await engine.submit(lock.id, {"score": 3}, "UBOB")).outcome == "counted"
    assert (await engine.submit(lock.id, {"score": 5}, "UDAN")).outcome == "accepted"
    assert await result(engine, lock) == {
        "mean": 4.0, "approvers": ["UBOB", "UDAN"], "declined": ["UCAROL"],
    }  # fmt: skip


async def test_without_veto_a_rejection_withdraws_the_same_persons_approval(
    engine: Engine,
) -> None:
    """A person's latest response counts: Bob approves, then rejects (his approval no longer
    counts, and the lease sees only the rejection), then approves again (it counts again)."""
    lock = await panel(engine, veto=False, quorum=2)
    assert (await engine.submit(lock.id, {"score": 3}, "UBOB")).approvers == ["UBOB"]
    changed = await engine.reject(lock.id, "UBOB", "on second thought")
    assert changed.outcome == "counted" and changed.approvers == []
    carol = await engine.submit(lock.id, {"score": 5}, "UCAROL")
    assert carol.outcome == "counted" and carol.approvers == ["UCAROL"]
    assert (await engine.lock(lock.id)).open  # one approval standing, two needed
    again = await engine.submit(lock.id, {"score": 7}, "UBOB")
    assert again.outcome == "accepted" and again.approvers == ["UCAROL", "UBOB"]
    assert await result(engine, lock) == {
        "mean": 6.0, "approvers": ["UCAROL", "UBOB"], "declined": [],
    }  # fmt: skip


async def test_a_quorum_lock_waits_on_those_whose_approval_would_count(engine: Engine) -> None:
    """Once Bob has approved, the lock waits on the others, not on him: his inbox (the App
    Home) and his runs waiting on him leave it out; Carol's still list it. Without veto, one
    who declined may still approve: it waits on them again."""
    lock = await panel(engine, veto=False, quorum=3)
    execution = await engine.execution(lock.execution_id)
    assert execution is not None

    async def waiting(user: str) -> tuple[list[str], list[str]]:
        inbox = [c.id for _, c in await engine.inbox(user, SINGLE)]
        return inbox, [e.id for e in await engine.waiting_on([execution], user)]

    listed = ([lock.id], [lock.execution_id])
    assert await waiting("UBOB") == listed
    assert (await engine.submit(lock.id, {"score": 3}, "UBOB")).outcome == "counted"
    assert await waiting("UBOB") == ([], [])
    assert await waiting("UCAROL") == listed
    assert (await engine.reject(lock.id, "UCAROL", "no")).outcome == "counted"
    assert await waiting("UCAROL") == listed  # her approval would count
    assert (await engine.reject(lock.id, "UBOB", "on second thought")).outcome == "counted"
    assert await waiting("UBOB") == listed  # his approval is withdrawn: it counts again


async def test_concurrent_last_approvals_decide_once(engine: Engine) -> None:
    lock = await panel(engine, quorum=3)
    await engine.submit(lock.id, {"score": 1}, "UBOB")
    racing = await asyncio.gather(
        *(engine.submit(lock.id, {"score": 2}, user) for user in ("UCAROL", "UDAN", "UERIN"))
    )
    outcomes = sorted(d.outcome for d in racing)  # the 2nd, 3rd and 4th approvals, in any order
    assert outcomes == ["accepted", "counted", "decided"]
    decided = await engine.lock(lock.id)
    assert decided is not None and decided.status == "resolved"


async def test_an_approval_landing_while_the_quorum_is_decided_is_in_its_value(
    engine: Engine, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carol's approval completes the quorum; Dan's vote lands after hers and before her
    decision is written (and his own decision comes last). The lock's value and its
    ``quorum`` event name all three: no approval is recorded and left out of the value."""
    lock = await panel(engine)
    await engine.submit(lock.id, {"score": 3}, "UBOB")
    decide = store.decide
    turns = [asyncio.Event(), asyncio.Event()]  # Carol's first decision, Dan's
    reached = [asyncio.Event(), asyncio.Event()]

    async def held(*args: Any, **kwargs: Any) -> Any:
        turn = next((i for i, r in enumerate(reached) if not r.is_set()), None)
        if turn is not None:
            reached[turn].set()
            await turns[turn].wait()
        return await decide(*args, **kwargs)

    monkeypatch.setattr(store, "decide", held)
    carol = asyncio.create_task(engine.submit(lock.id, {"score": 6}, "UCAROL"))
    await reached[0].wait()
    dan = asyncio.create_task(engine.submit(lock.id, {"score": 9}, "UDAN"))
    await reached[1].wait()  # both voted; Carol decides first, with Dan's vote in the store
    turns[0].set()
    assert (await carol).outcome == "accepted"
    turns[1].set()
    assert (await dan).outcome == "decided"
    everyone = ["UBOB", "UCAROL", "UDAN"]
    assert await result(engine, lock) == {"mean": 6.0, "approvers": everyone, "declined": []}
    [event] = [e for e in await events(engine, lock.execution_id) if e.kind == "quorum"]
    assert event.detail == {"approvers": everyone}


jury = FlowApp()


@jury.flow("jury")
async def jury_flow(tracer: Tracer) -> Any:
    return await tracer.lock("jury", quorum=2)


@jury.lock("jury")
def jury_form(data: dict[str, Any]) -> Model:
    return Model(InputText("note", "Note"), Submit("Approve"), Cancel("Reject"))


@jury.lease("jury")
async def jury_lease(inputs: dict[str, Any], responses: list[Response]) -> dict[str, Any]:
    await asyncio.sleep(0.01)  # some I/O: another approval may be counted meanwhile
    return {
        "approvers": [r.user for r in responses],
        "notes": [r.inputs["note"] for r in responses],
    }


async def test_approvals_at_the_same_moment_each_reach_the_lease_that_decides(
    store: SQLStore,
) -> None:
    engine = Engine(store, [jury], RecordingNotifier(), FakeClock())
    try:
        eid = await engine.start("jury", {}, Request("jury", "UALICE", {"channel": "C1"}))
        await engine.settled(eid)
        [lock] = [c for c in await calls(engine, eid) if c.kind == "lock"]
        both = await asyncio.gather(
            engine.submit(lock.id, {"note": "from bob"}, "UBOB"),
            engine.submit(lock.id, {"note": "from carol"}, "UCAROL"),
        )
        assert sorted(d.outcome for d in both) == ["accepted", "counted"]
        decided = await engine.lock(lock.id)
        assert decided is not None and decided.status == "resolved"
        assert sorted(decided.result["approvers"]) == ["UBOB", "UCAROL"]
        assert sorted(decided.result["notes"]) == ["from bob", "from carol"]
    finally:
        await engine.close()


def test_quorum_is_checked_when_declared() -> None:
    with pytest.raises(ValueError, match="quorum must be a whole number"):
        make_policy(None, 10, quorum=0)
    with pytest.raises(ValueError, match="quorum=3 needs 3 approvers, but only 2 named"):
        make_policy(None, 10, approvers=["U1", "U2"], quorum=3)
    assert make_policy(None, 10, approvers=["U1", "SREVIEW"], quorum=3).quorum == 3


async def test_a_quorum_whose_deciding_process_died_is_decided_by_the_next_click(
    engine: Engine, store: SQLStore
) -> None:
    """The last approval a quorum needed is recorded, and the process dies before it decides
    the lock (the vote and the decision are two transactions): clicking again decides it,
    rather than telling its approvers, for good, that they approved already."""
    lock = await panel(engine)
    for who, score in (("UBOB", 4), ("UCAROL", 8)):  # as the dead process recorded them
        vote = NewEvent(
            kind="approved", actor=who, call_id=lock.id, detail={"inputs": {"score": score}}
        )
        assert await store.vote(lock.id, engine.clock.now(), vote) is not None
    assert (await engine.lock(lock.id)).open
    again = await engine.submit(lock.id, {"score": 2}, "UCAROL")  # their recorded answer counts
    assert again.outcome == "accepted" and again.approvers == ["UBOB", "UCAROL"]
    assert await result(engine, lock) == {
        "mean": 6.0, "approvers": ["UBOB", "UCAROL"], "declined": [],
    }  # fmt: skip
    [decided] = [e for e in await events(engine, lock.execution_id) if e.kind == "quorum"]
    assert decided.actor == "UCAROL"


async def test_a_quorum_whose_deciding_process_died_is_decided_by_the_sweep(
    engine: Engine, store: SQLStore
) -> None:
    """As above, and nobody clicks again (each approver was answered, or gave up): the sweep
    decides it once the dead process's work would be taken over, as its approver's click
    would have, with every answer as recorded. A lock short of its quorum waits on."""
    lock, short, wide = await panel(engine), await panel(engine), await panel(engine, quorum=3)
    for who, score in (("UBOB", 4), ("UCAROL", 8)):  # as the dead process recorded them
        for one in (lock, wide):
            vote = NewEvent(
                kind="approved", actor=who, call_id=one.id, detail={"inputs": {"score": score}}
            )
            assert await store.vote(one.id, engine.clock.now(), vote) is not None
    one = NewEvent(kind="approved", actor="UBOB", call_id=short.id, detail={"inputs": {"score": 1}})
    assert await store.vote(short.id, engine.clock.now(), one) is not None
    await engine.sweep()
    assert (await engine.lock(lock.id)).open  # its process may still be deciding it
    assert isinstance(engine.clock, FakeClock)
    engine.clock.advance(60)
    await engine.sweep()
    assert await result(engine, lock) == {
        "mean": 6.0, "approvers": ["UBOB", "UCAROL"], "declined": [],
    }  # fmt: skip
    [decided] = [e for e in await events(engine, lock.execution_id) if e.kind == "quorum"]
    assert decided.actor == "UCAROL"
    assert (await engine.lock(short.id)).open and (await engine.lock(wide.id)).open
    await engine.sweep()
    assert [e.kind for e in await events(engine, lock.execution_id)].count("quorum") == 1
