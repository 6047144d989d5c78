"""Locks waited for side by side answer in the order people answered them (``panel``): after
each answer the flow is replayed, and every lock answered by then must not come back at once,
in whatever order the replay reaches them, but in turn, as it did live."""

from __future__ import annotations

import pytest

from flows import Request
from flows.engine import Engine, FakeClock, RecordingNotifier
from store import SQLStore
from tests.kodosumi_apps import panel


@pytest.mark.parametrize("order", [("finance", "brand", "legal"), ("brand", "legal", "finance")])
async def test_as_completed_hands_back_verdicts_in_the_order_given(
    store: SQLStore, order: tuple[str, ...]
) -> None:
    engine = Engine(store, [panel.app], RecordingNotifier(), FakeClock())  # answers tie in time
    eid = await engine.start("panel", {}, Request("panel", "UALICE"))
    await engine.settled(eid)
    for reviewer in order:
        [lock] = [c for c in await store.calls(eid) if c.open and c.data == {"reviewer": reviewer}]
        await engine.submit(lock.id, {"verdict": "go", "comments": ""}, "UBOB")
        await engine.settled(eid)
    run = await engine.execution(eid)
    assert run is not None and (run.status, run.error) == ("finished", None)
    assert run.result == [f"{r}: go" for r in order]
    said = [e.detail["text"] for e in await store.events(eid) if e.kind == "progress"]
    assert said == [f"**{r}** says *go* ({n} of 3)" for n, r in enumerate(order, 1)]
    await engine.close()


async def test_the_first_answer_wins_a_poll(store: SQLStore) -> None:
    engine = Engine(store, [panel.app], RecordingNotifier(), FakeClock())
    eid = await engine.start("poll", {}, Request("poll", "UALICE"))
    await engine.settled(eid)
    [lock] = [c for c in await store.calls(eid) if c.open and c.data == {"reviewer": "brand"}]
    await engine.submit(lock.id, {"verdict": "hold", "comments": ""}, "UBOB")
    await engine.settled(eid)
    run = await engine.execution(eid)
    assert run is not None and run.result == "brand first: hold"
    statuses = sorted(c.status for c in await store.calls(eid))
    assert statuses == ["cancelled", "cancelled", "resolved"]
    await engine.close()
