"""Flows whose branches (``asyncio.gather``) wait at locks and run steps: a replay's branches
interleave otherwise than the first run's (a recorded step answers at once, a real one waits),
and each call still gets its own record: every step runs once, every lock keeps its answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flows import FlowApp, Request, Tracer
from flows.engine import Call, Engine, FakeClock, RecordingNotifier
from flows.forms import InputText, Model, Submit
from store import SQLStore

app = FlowApp()
RAN: list[str] = []  # each time a step really ran


def form() -> Model:
    return Model(InputText("v", "Value"), Submit("OK"))


for lock in ("a", "b", "a1", "a2", "x", "y", "z", "A", "B", "approve"):
    app.lock(lock)(form)


async def effect(name: str, idempotency_key: str) -> str:
    RAN.append(f"{name}:{idempotency_key}")
    await asyncio.sleep(0.005)  # really waits: the other branch runs meanwhile
    return f"{name} done"


@app.flow("lock_then_step")
async def lock_then_step(tracer: Tracer) -> dict[str, Any]:
    async def a() -> Any:
        answer = await tracer.lock("a")
        return answer, await tracer.step("after a", effect, "after a")

    async def b() -> Any:
        return await tracer.lock("b")

    first, second = await asyncio.gather(a(), b())
    return {"a": first, "b": second, "end": await tracer.step("end", effect, "end")}


@app.flow("two_in_a_row")
async def two_in_a_row(tracer: Tracer) -> dict[str, Any]:
    async def a() -> Any:
        return [await tracer.lock("a1"), await tracer.lock("a2")]

    async def b() -> Any:
        return await tracer.lock("b")

    first, second = await asyncio.gather(a(), b())
    return {"a": first, "b": second}


@app.flow("steps_in_branches")
async def steps_in_branches(tracer: Tracer) -> dict[str, Any]:
    async def branch(name: str) -> Any:
        looked = await tracer.step("look", effect, name)
        answer = await tracer.lock(name, data={"looked": looked})
        return [looked, answer, await tracer.step("act", effect, f"act {name}")]

    x, y, z = await asyncio.gather(branch("x"), branch("y"), branch("z"))
    return {"x": x, "y": y, "z": z}


@app.flow("sleep_in_a_branch")
async def sleep_in_a_branch(tracer: Tracer) -> dict[str, Any]:
    async def a() -> Any:
        answer = await tracer.lock("a")
        await tracer.sleep(60)
        return answer

    task = asyncio.create_task(a())  # a task the flow starts is a branch too
    second = await tracer.lock("b")
    return {"a": await task, "b": second}


HELD: list[asyncio.Event] = []  # set: ``held``'s step returns; clear: it waits (a hung call)
FRESH = [0]  # another figure every replay (data made afresh outside a step)


async def hold(name: str, idempotency_key: str) -> str:
    RAN.append(f"{name}:{idempotency_key}")
    await HELD[0].wait()
    return f"{name} done"


@app.flow("held")
async def held(tracer: Tracer) -> Any:
    async def a() -> Any:
        answer = await tracer.lock("a")
        return answer, await tracer.step("call", hold, "call")

    return await asyncio.gather(a(), tracer.lock("b"))


@app.flow("fresh_arguments")
async def fresh_arguments(tracer: Tracer) -> Any:
    async def a() -> Any:
        FRESH[0] += 1
        await tracer.markdown(f"draft {FRESH[0]}")
        first = await tracer.step("look", effect, f"look {FRESH[0]}")
        return first, await tracer.lock("a")

    return await asyncio.gather(a(), tracer.lock("b"))


@app.flow("talking")
async def talking(tracer: Tracer) -> Any:
    async def review(doc: str) -> Any:
        await tracer.markdown(f"reviewing {doc}")
        answer = await tracer.lock(doc)
        await tracer.markdown(f"{doc} done")
        return answer

    await tracer.markdown("start")
    both = await asyncio.gather(review("A"), review("B"))
    await tracer.markdown("end")
    return both


@app.flow("printing")
async def printing(tracer: Tracer) -> Any:
    FRESH[0] += 1
    print(f"draft {FRESH[0]}")  # the flow's own task: its first output, whatever it says
    return await tracer.lock("a")


@app.flow("drafting")
async def drafting(tracer: Tracer) -> Any:
    async def a() -> Any:
        FRESH[0] += 1
        await tracer.markdown(f"draft {FRESH[0]}")  # made afresh on every replay
        return await tracer.lock("a")

    both = await asyncio.gather(a(), tracer.lock("b"))
    await tracer.markdown("after")
    await tracer.lock("x")
    await tracer.markdown("end")
    return both


@app.flow("reminding")
async def reminding(tracer: Tracer) -> Any:
    async def remind() -> None:
        for _ in range(3):  # the same step, the same arguments, three times
            await tracer.step("remind", effect, "please")

    task = asyncio.create_task(remind())
    answer = await tracer.lock("a")
    await task
    return answer


@app.flow("naps")
async def naps(tracer: Tracer) -> Any:
    async def a() -> Any:
        answer = await tracer.lock("a")
        await tracer.sleep(60)
        return answer

    async def b() -> str:
        await tracer.sleep(60)  # as long as a's, begun before it
        return "b woke"

    return await asyncio.gather(a(), b())


@app.flow("alike")
async def alike(tracer: Tracer) -> Any:
    async def approve(doc: int) -> Any:
        answer = await tracer.lock("approve", data={"doc": doc})
        return answer, await tracer.step("act", lambda: effect(f"act {doc}", "k"))

    return await asyncio.gather(approve(0), approve(1))


@app.flow("cleaning")
async def cleaning(tracer: Tracer) -> Any:
    async def a() -> Any:
        try:
            return await tracer.lock("a")
        finally:
            await tracer.step("release", effect, "release")

    return await asyncio.gather(a(), tracer.step("work", hold, "work"))


STEP = ["fetch"]  # the step's name: a test renames it, as a code change would


@app.flow("waiting_for")
async def waiting_for(tracer: Tracer) -> Any:
    looked = await asyncio.wait_for(tracer.step(STEP[0], effect, "look"), 10)  # its own task
    return looked, await tracer.lock("a")


@app.flow("chatty")
async def chatty(tracer: Tracer) -> Any:
    async def branch(name: str) -> Any:
        await tracer.markdown(f"branch {name} begins")
        print(f"branch {name} printing")  # queued: recorded in a task of its own
        return await tracer.lock(name)

    return await asyncio.gather(branch("a"), branch("b"))


CLOCK = FakeClock()


@pytest.fixture
async def engine(store: SQLStore) -> AsyncIterator[Engine]:
    RAN.clear()
    FRESH[0] = 0
    engine = Engine(store, [app], RecordingNotifier(), CLOCK)
    yield engine
    await engine.close()


async def open_locks(engine: Engine, eid: str) -> dict[str, Call]:
    await engine.settled(eid)
    trail = await engine.trail(eid)
    assert trail is not None
    return {c.name: c for c in trail[1] if c.kind == "lock" and c.open}


async def answer(engine: Engine, eid: str, name: str, value: str) -> None:
    lock = (await open_locks(engine, eid))[name]
    decision = await engine.submit(lock.id, {"v": value}, "UBOB")
    assert decision.outcome == "accepted", decision
    await engine.settled(eid)


async def finished(engine: Engine, eid: str) -> Any:
    await engine.settled(eid)
    execution = await engine.execution(eid)
    assert execution is not None and execution.status == "finished", execution
    return execution.result


async def start(engine: Engine, flow: str) -> str:
    eid = await engine.start(flow, {}, Request(flow, "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    return eid


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
async def test_a_step_after_a_branchs_lock_runs_once(
    engine: Engine, order: tuple[str, str]
) -> None:
    eid = await start(engine, "lock_then_step")
    assert set(await open_locks(engine, eid)) == {"a", "b"}
    for name in order:
        await answer(engine, eid, name, name.upper())
    assert await finished(engine, eid) == {
        "a": [{"v": "A"}, "after a done"], "b": {"v": "B"}, "end": "end done",
    }  # fmt: skip
    assert sorted(r.split(":")[0] for r in RAN) == ["after a", "end"]


@pytest.mark.parametrize("order", [("a1", "a2", "b"), ("a1", "b", "a2"), ("b", "a1", "a2")])
async def test_two_locks_in_a_row_in_a_branch_keep_their_answers(
    engine: Engine, order: tuple[str, ...]
) -> None:
    eid = await start(engine, "two_in_a_row")
    for name in order:
        assert name in await open_locks(engine, eid)
        await answer(engine, eid, name, name.upper())
    assert await finished(engine, eid) == {"a": [{"v": "A1"}, {"v": "A2"}], "b": {"v": "B"}}


@pytest.mark.parametrize("order", [("x", "y", "z"), ("z", "y", "x"), ("y", "x", "z")])
async def test_steps_awaited_in_parallel_branches_run_once_each(
    engine: Engine, order: tuple[str, ...]
) -> None:
    eid = await start(engine, "steps_in_branches")
    assert set(await open_locks(engine, eid)) == {"x", "y", "z"}
    for name in order:
        await answer(engine, eid, name, name.upper())
    assert await finished(engine, eid) == {
        n: [f"{n} done", {"v": n.upper()}, f"act {n} done"] for n in "xyz"
    }
    names = sorted(r.split(":")[0] for r in RAN)
    assert names == ["act x", "act y", "act z", "x", "y", "z"]  # each once
    assert len({r.split(":")[1] for r in RAN}) == 6  # each effect its own key


async def test_a_durable_sleep_after_a_branchs_lock_keeps_its_timer(engine: Engine) -> None:
    eid = await start(engine, "sleep_in_a_branch")
    await answer(engine, eid, "a", "A")  # a sleeps now, b still waits
    await answer(engine, eid, "b", "B")
    assert (await engine.execution(eid)).status == "awaiting"  # type: ignore[union-attr]
    CLOCK.advance(61)
    assert await engine.fire_due() == 1
    assert await finished(engine, eid) == {"a": {"v": "A"}, "b": {"v": "B"}}


async def test_a_branchs_step_run_again_after_a_crash_gets_the_same_key(store: SQLStore) -> None:
    """The process dies (here: stops) while a branch's step is under way, its outcome not
    recorded; the run resumes in another process, where the step runs again with the same
    idempotency key, though the branches reach their calls in another order there."""
    RAN.clear()
    HELD[:] = [asyncio.Event()]  # of this test's event loop
    first = Engine(store, [app], RecordingNotifier(), CLOCK)
    eid = await start(first, "held")
    await first.submit((await open_locks(first, eid))["a"].id, {"v": "A"}, "UBOB")
    for _ in range(100):  # until the step is under way
        if RAN:
            break
        await asyncio.sleep(0.01)
    await first.close()
    CLOCK.advance(60)  # its claim goes stale
    HELD[0].set()
    second = Engine(store, [app], RecordingNotifier(), CLOCK)
    try:
        assert await second.recover() == 1
        await second.settled(eid)
        await second.submit((await open_locks(second, eid))["b"].id, {"v": "B"}, "UBOB")
        assert await finished(second, eid) == [[{"v": "A"}, "call done"], {"v": "B"}]
    finally:
        await second.close()
    assert len(RAN) == 2 and len(set(RAN)) == 1, RAN  # ran twice, with one key


async def test_a_branchs_step_with_arguments_made_afresh_is_new_its_output_is_not(
    engine: Engine, store: SQLStore
) -> None:
    """A step in a branch is known by where it comes and its arguments: arguments made afresh
    on every replay (outside a step) make it a new step each time, which runs again. An
    output by where it comes only: a draft made afresh is announced once."""
    eid = await start(engine, "fresh_arguments")
    await answer(engine, eid, "b", "B")
    await answer(engine, eid, "a", "A")
    await finished(engine, eid)
    assert [r.split(":")[0] for r in RAN] == ["look 1", "look 2", "look 3"]
    said = [e.detail["text"] for e in await store.events(eid) if e.kind == "progress"]
    assert said == ["draft 1"]


@pytest.mark.parametrize("order", [("A", "B"), ("B", "A")])
async def test_each_branchs_output_is_announced_once(
    engine: Engine, store: SQLStore, order: tuple[str, str]
) -> None:
    """The branches say their outputs in another order on a replay (a branch whose lock is
    answered goes on at once): each output is announced once, none is lost."""
    eid = await start(engine, "talking")
    for name in order:
        await answer(engine, eid, name, name.lower())
    await finished(engine, eid)
    said = [e.detail["text"] for e in await store.events(eid) if e.kind == "progress"]
    first, second = order
    assert said[0] == "start" and sorted(said[1:3]) == ["reviewing A", "reviewing B"]
    assert said[3:] == [f"{first} done", f"{second} done", "end"]  # (the two above: at once)


async def test_the_flows_own_output_is_counted_by_position(engine: Engine, store: SQLStore) -> None:
    """Outside branches an output is the n-th the flow says: made afresh on a replay (a
    printed draft), it was announced all the same."""
    eid = await start(engine, "printing")
    await answer(engine, eid, "a", "A")
    await finished(engine, eid)
    said = [e.detail["text"] for e in await store.events(eid) if e.kind == "progress"]
    assert said == ["draft 1"] and FRESH[0] == 2


async def test_the_flows_own_outputs_after_branches_keep_their_count(
    engine: Engine, store: SQLStore
) -> None:
    """A branch's draft made afresh is announced once, and the flow's own outputs after the
    branches are each announced, once."""
    eid = await start(engine, "drafting")
    await answer(engine, eid, "a", "A")
    await answer(engine, eid, "b", "B")
    await answer(engine, eid, "x", "X")
    await finished(engine, eid)
    said = [e.detail["text"] for e in await store.events(eid) if e.kind == "progress"]
    assert said == ["draft 1", "after", "end"]


async def test_a_step_repeated_in_a_branch_gets_a_key_each_time(engine: Engine) -> None:
    eid = await start(engine, "reminding")
    await answer(engine, eid, "a", "A")
    await finished(engine, eid)
    assert len(RAN) == 3 and len(set(RAN)) == 3, RAN  # three reminders, three keys, once each


async def test_sleeps_as_long_in_two_branches_keep_their_own_timers(engine: Engine) -> None:
    eid = await start(engine, "naps")  # b sleeps now, a waits
    CLOCK.advance(30)
    await answer(engine, eid, "a", "A")  # a sleeps from now
    CLOCK.advance(31)
    assert await engine.fire_due() == 1  # b's, due at +60; a's is due at +90
    await engine.settled(eid)
    assert (await engine.execution(eid)).status == "awaiting"  # type: ignore[union-attr]
    CLOCK.advance(30)
    assert await engine.fire_due() == 1
    assert await finished(engine, eid) == [{"v": "A"}, "b woke"]


async def test_a_stopping_process_records_no_cleanup(store: SQLStore) -> None:
    """Stopped while a branch's step runs and another waits at a lock: the cleanup around the
    lock records nothing (it runs for real once the lock is answered)."""
    RAN.clear()
    HELD[:] = [asyncio.Event()]
    engine = Engine(store, [app], RecordingNotifier(), CLOCK)
    eid = await engine.start("cleaning", {}, Request("cleaning", "UALICE", {"channel": "C1"}))
    for _ in range(100):  # until the step is under way
        if RAN:
            break
        await asyncio.sleep(0.01)
    await engine.close()
    await asyncio.sleep(0.05)  # what the flow's cleanup would do, done
    trail = await Engine(store, [app], RecordingNotifier(), CLOCK).trail(eid)
    assert trail is not None
    assert [(c.kind, c.name) for c in trail[1]] == [("lock", "a")]


async def test_a_call_in_wait_for_is_a_branchs_and_a_record_never_reached_is_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """``asyncio.wait_for`` runs the step in a task of its own: renamed between replays, it
    runs anew (a branch's call is matched by where it comes), and the run, finishing without
    reaching the old step's record, logs a warning naming it."""
    eid = await start(engine, "waiting_for")
    STEP[0] = "fetch v2"
    try:
        caplog.set_level(logging.WARNING)
        await answer(engine, eid, "a", "A")
        assert await finished(engine, eid) == ["look done", {"v": "A"}]
    finally:
        STEP[0] = "fetch"
    assert len(RAN) == 2  # the renamed step ran anew
    [line] = [r.getMessage() for r in caplog.records if "without reaching" in r.getMessage()]
    assert "step 'fetch'" in line


async def test_alike_branches_answered_out_of_order_keep_their_own_steps(
    engine: Engine, store: SQLStore
) -> None:
    """Two branches alike but for their lock's data, each acting after its lock through a
    closure: answered the other way round, each step is its own branch's, run once."""
    eid = await start(engine, "alike")
    trail = await engine.trail(eid)
    assert trail is not None
    locks = {c.data["doc"]: c for c in trail[1] if c.kind == "lock"}
    for doc in (1, 0):
        await engine.submit(locks[doc].id, {"v": str(doc)}, "UBOB")
        await engine.settled(eid)
    assert await finished(engine, eid) == [[{"v": "0"}, "act 0 done"], [{"v": "1"}, "act 1 done"]]
    assert sorted(r.split(":")[0] for r in RAN) == ["act 0", "act 1"]


async def test_branches_that_print_reach_their_locks_before_the_run_parks(engine: Engine) -> None:
    """A branch whose printed output is still being recorded is busy: the run waits for it to
    reach its lock before parking, so both locks are open at once."""
    eid = await start(engine, "chatty")
    assert set(await open_locks(engine, eid)) == {"a", "b"}
