"""Who may answer a lock: checked on every answer, rejection and snooze; refusals audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flows import Engine, FlowApp, FlowConfigError, Forbidden, RecordingNotifier, Request
from flows.clock import FakeClock
from flows.policy import make_policy
from store import Call, Store
from tests.sample_flows import app


class Directory:
    async def group_members(self, group: str) -> frozenset[str]:
        return frozenset({"UGROUPIE"}) if group == "SREVIEW" else frozenset()

    async def channel_members(self, channel: str) -> frozenset[str]:
        return frozenset({"UMEMBER"}) if channel == "C1" else frozenset()


@pytest.fixture
async def engine(store: Store) -> AsyncIterator[Engine]:
    engine = Engine(store, [app], RecordingNotifier(), FakeClock(), directory=Directory())
    yield engine
    await engine.close()


async def guarded(engine: Engine, **inputs: Any) -> Call:
    eid = await engine.start("guarded", inputs, Request("guarded", "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    [lock] = [c for c in await engine.store.calls(eid) if c.kind == "lock"]
    return lock


async def refused(engine: Engine, lock: Call) -> list[Any]:
    events = await engine.store.events(lock.execution_id)
    return [(e.actor, e.detail["action"]) for e in events if e.kind == "refused"]


async def test_only_approvers_and_group_members_may_answer(engine: Engine) -> None:
    lock = await guarded(engine, approvers=["UAPPROVER", "SREVIEW"])
    outsider = await engine.submit(lock.id, {"ok": True}, "UOUTSIDER")
    assert outsider.outcome == "forbidden" and outsider.allowed == ("UAPPROVER", "SREVIEW")
    assert (await engine.reject(lock.id, "UOUTSIDER")).outcome == "forbidden"
    with pytest.raises(Forbidden):
        await engine.snooze(lock.id, "UOUTSIDER")
    assert (await engine.store.call(lock.id)).open  # nothing changed
    assert await refused(engine, lock) == [
        ("UOUTSIDER", "submit"), ("UOUTSIDER", "reject"), ("UOUTSIDER", "snooze"),
    ]  # fmt: skip
    assert (await engine.submit(lock.id, {"ok": True}, "UGROUPIE")).outcome == "accepted"


async def test_four_eyes_keeps_the_initiator_out(engine: Engine) -> None:
    lock = await guarded(engine, four_eyes=True)
    mine = await engine.submit(lock.id, {"ok": True}, "UALICE")
    assert mine.outcome == "forbidden" and mine.allowed == ()
    assert (await engine.submit(lock.id, {"ok": True}, "UBOB")).outcome == "accepted"


async def test_channel_members_and_escalated_people(engine: Engine) -> None:
    lock = await guarded(engine, approvers=["channel"])
    assert (await engine.submit(lock.id, {}, "ULATE")).outcome == "forbidden"
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert await engine.fire_due() == 1  # the escalation adds ULATE
    assert (await engine.submit(lock.id, {}, "ULATE")).outcome == "accepted"
    other = await guarded(engine, approvers=["channel"])
    assert (await engine.submit(other.id, {}, "UMEMBER")).outcome == "accepted"


def test_approvers_are_checked_when_declared() -> None:
    with pytest.raises(ValueError, match="'alice' is not a user id"):
        make_policy(None, 10, approvers=["alice"])
    with pytest.raises(TypeError, match="must be a list"):
        make_policy(None, 10, approvers="U1")  # type: ignore[arg-type]


async def test_the_initiator_and_flow_admins_may_cancel_and_snooze(engine: Engine) -> None:
    eid = await engine.start("managed", {}, Request("managed", "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    [lock] = [c for c in await engine.store.calls(eid) if c.kind == "lock"]
    with pytest.raises(Forbidden) as refusal:
        await engine.cancel(eid, "UOUTSIDER")
    assert refusal.value.allowed == ("UADMIN", "SREVIEW")
    with pytest.raises(Forbidden):
        await engine.snooze(lock.id, "UOUTSIDER")
    assert await engine.snooze(lock.id, "UALICE")  # started it
    assert await engine.snooze(lock.id, "UGROUPIE")  # an admin, through the SREVIEW group
    assert await engine.snooze(lock.id, "UAPPROVER")  # may decide the lock
    assert await refused(engine, lock) == [("UOUTSIDER", "cancel"), ("UOUTSIDER", "snooze")]
    assert (await engine.store.execution(eid)).status == "awaiting"
    assert await engine.cancel(eid, "UADMIN")
    assert (await engine.store.execution(eid)).status == "cancelled"


def test_admins_are_checked_when_declared() -> None:
    with pytest.raises(FlowConfigError, match="flow 'x': admins: 'bob' is not a user id"):
        FlowApp().enter("x", admins=["bob"])(lambda: None)
