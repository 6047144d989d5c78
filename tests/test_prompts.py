"""Typed prompts: the tracer builds the form and the flow gets typed values back."""

from __future__ import annotations

from typing import Any, cast

import pytest

from flows import FlowConfigError, Request
from flows.engine import Engine, FakeClock, RecordingNotifier
from flows.tracer import Recorder, Tracer
from store import SQLStore
from tests.sample_flows import app


async def answer(engine: Engine, notes: RecordingNotifier, eid: str, values: dict[str, Any]) -> Any:
    lock = notes.of("lock_opened", eid)[-1]
    decision = await engine.submit(lock.id, values, "UBOB")
    await engine.settled(eid)
    return lock, decision


async def test_every_prompt_returns_its_type(store: SQLStore) -> None:
    notes = RecordingNotifier()
    engine = Engine(store, [app], notes, FakeClock())
    eid = await engine.start("prompted", {}, Request("prompted", "UALICE"))
    await engine.settled(eid)
    lock, _ = await answer(engine, notes, eid, {"comment": "looks good"})
    assert lock.name == "prompt.approval" and lock.form[0] == {
        "type": "markdown",
        "text": "Ship it?",
    }
    await answer(engine, notes, eid, {"value": "Aurora"})
    lock, bad = await answer(engine, notes, eid, {"value": "nightly"})
    assert bad.outcome == "invalid"  # not one of the choices: the lock stays open
    await answer(engine, notes, eid, {"value": "beta"})
    await answer(engine, notes, eid, {"value": ["us", "eu"]})
    lock, bad = await answer(engine, notes, eid, {"value": "2.5"})
    assert bad.errors == {"value": ["Enter a multiple of 1."], "_global_": []}
    await answer(engine, notes, eid, {"value": "3"})
    await answer(engine, notes, eid, {"value": "2"})
    await answer(engine, notes, eid, {"value": "2026-12-24"})
    lock, _ = await answer(engine, notes, eid, {"value": "on"})
    assert lock.deadline == lock.created_at + 60  # lock options pass through
    last = notes.of("lock_opened", eid)[-1]
    assert (await engine.reject(last.id, "UCAROL", "too risky")).outcome == "rejected"
    await engine.settled(eid)
    execution = await store.execution(eid)
    assert execution and execution.status == "finished"
    assert execution.result == {
        "approved": True, "name": "Aurora", "channel": "beta", "regions": ["eu", "us"],
        "count": 3, "ratio": 2.0, "day": {"$date": "2026-12-24"}, "sure": True,
        "second_opinion": False,
    }  # fmt: skip
    rejected = [e for e in await store.events(eid) if e.kind == "rejected"]
    assert [(e.actor, e.detail) for e in rejected] == [("UCAROL", {"comment": "too risky"})]
    await engine.close()


async def test_prompt_types_are_checked() -> None:
    tracer = Tracer(cast(Recorder, None))  # both checks come before anything is recorded
    with pytest.raises(FlowConfigError, match=r"tracer\.input takes one of int"):
        await tracer.input("Colour?", complex)
    with pytest.raises(FlowConfigError, match="non-empty list of strings"):
        await tracer.choose("Pick", [])
