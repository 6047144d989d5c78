"""Who may answer a lock: checked on every answer, rejection and snooze; refusals audited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from flows import FlowApp, FlowConfigError, Request
from flows.engine import Answer, Call, Cancel, Engine, FakeClock, RecordingNotifier, Snooze
from flows.policy import make_policy
from store import SQLStore
from tests.sample_flows import app


class Directory:
    """SREVIEW holds UGROUPIE; channel C1 holds UMEMBER, UALICE and UBOB."""

    members = {"UMEMBER", "UALICE", "UBOB"}

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        if principal == "SREVIEW":
            return user == "UGROUPIE"
        return principal == "channel" and context.get("channel") == "C1" and user in self.members

    async def person(self, user: str, context: Mapping[str, Any]) -> str:
        return user

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        channel = context.get("channel")
        return channel is None or (channel == "C1" and user in self.members)


@pytest.fixture
async def engine(store: SQLStore) -> AsyncIterator[Engine]:
    engine = Engine(store, [app], RecordingNotifier(), FakeClock(), directory=Directory())
    yield engine
    await engine.close()


async def guarded(engine: Engine, **inputs: Any) -> Call:
    eid = await engine.start("guarded", inputs, Request("guarded", "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    [lock] = [c for c in (await engine.trail(eid) or TRAIL)[1] if c.kind == "lock"]
    return lock


TRAIL: Any = (None, [], [])


async def refused(engine: Engine, lock: Call) -> list[Any]:
    events = (await engine.trail(lock.execution_id) or TRAIL)[2]
    return [(e.actor, e.detail["action"]) for e in events if e.kind == "refused"]


async def test_only_approvers_and_group_members_may_answer(engine: Engine) -> None:
    lock = await guarded(engine, approvers=["UAPPROVER", "SREVIEW"])
    outsider = await engine.submit(lock.id, {"ok": True}, "UOUTSIDER")
    assert outsider.outcome is Answer.FORBIDDEN and outsider.allowed == ("UAPPROVER", "SREVIEW")
    assert (await engine.reject(lock.id, "UOUTSIDER")).outcome is Answer.FORBIDDEN
    assert (await engine.snooze(lock.id, "UOUTSIDER")).outcome is Snooze.FORBIDDEN
    assert (await engine.lock(lock.id)).open  # nothing changed
    assert await refused(engine, lock) == [
        ("UOUTSIDER", "submit"), ("UOUTSIDER", "reject"), ("UOUTSIDER", "snooze"),
    ]  # fmt: skip
    assert (await engine.submit(lock.id, {"ok": True}, "UGROUPIE")).outcome is Answer.ACCEPTED


async def test_four_eyes_keeps_the_initiator_out(engine: Engine) -> None:
    lock = await guarded(engine, four_eyes=True)
    mine = await engine.submit(lock.id, {"ok": True}, "UALICE")
    assert mine.outcome is Answer.FORBIDDEN and mine.allowed == ()
    assert (await engine.submit(lock.id, {"ok": True}, "UBOB")).outcome is Answer.ACCEPTED


async def test_channel_members_and_escalated_people(engine: Engine) -> None:
    lock = await guarded(engine, approvers=["channel"])
    assert (await engine.submit(lock.id, {}, "ULATE")).outcome is Answer.FORBIDDEN
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert await engine.fire_due() == 1  # the escalation adds ULATE
    assert (await engine.submit(lock.id, {}, "ULATE")).outcome is Answer.ACCEPTED
    other = await guarded(engine, approvers=["channel"])
    assert (await engine.submit(other.id, {}, "UMEMBER")).outcome is Answer.ACCEPTED


async def test_a_refusal_names_each_who_may_answer_once(engine: Engine) -> None:
    """An approver the lock escalates to as well is one of those who may answer, said once
    ("Only @late or @review", not "Only @late, @late or @review")."""
    lock = await guarded(engine, approvers=["ULATE", "SREVIEW"])
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert await engine.fire_due() == 1  # the escalation adds ULATE, named already
    refused = await engine.submit(lock.id, {}, "UOUTSIDER")
    assert refused.outcome is Answer.FORBIDDEN and refused.allowed == ("ULATE", "SREVIEW")
    late = await guarded(engine)  # no approvers: the channel, and those it escalates to
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert await engine.fire_due() == 1
    assert (await engine.submit(late.id, {}, "UOUTSIDER")).allowed == ("channel", "ULATE")


def test_approvers_are_checked_when_declared() -> None:
    with pytest.raises(ValueError, match="'alice' is not a user id"):
        make_policy(None, 10, approvers=["alice"])
    with pytest.raises(TypeError, match="must be a list"):
        make_policy(None, 10, approvers="U1")  # type: ignore[arg-type]


async def test_the_initiator_and_flow_admins_may_cancel_and_snooze(engine: Engine) -> None:
    eid = await engine.start("managed", {}, Request("managed", "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    [lock] = [c for c in (await engine.trail(eid) or TRAIL)[1] if c.kind == "lock"]
    refusal = await engine.cancel(eid, "UOUTSIDER")
    assert refusal.outcome is Cancel.FORBIDDEN and refusal.admins == ("UADMIN", "SREVIEW")
    assert (await engine.snooze(lock.id, "UOUTSIDER")).outcome is Snooze.FORBIDDEN
    snoozed = Snooze.SNOOZED
    assert (await engine.snooze(lock.id, "UALICE")).outcome is snoozed  # started it
    assert (await engine.snooze(lock.id, "UGROUPIE")).outcome is snoozed  # an admin, by group
    assert (await engine.snooze(lock.id, "UAPPROVER")).outcome is snoozed  # may decide it
    assert await refused(engine, lock) == [("UOUTSIDER", "cancel"), ("UOUTSIDER", "snooze")]
    assert (await engine.execution(eid)).status == "awaiting"
    assert (await engine.cancel(eid, "UADMIN")).outcome is Cancel.CANCELLED
    assert (await engine.execution(eid)).status == "cancelled"


def test_admins_are_checked_when_declared() -> None:
    with pytest.raises(FlowConfigError, match="flow 'x': admins: 'bob' is not a user id"):
        FlowApp().enter("x", admins=["bob"])(lambda: None)


async def test_the_initiator_among_the_approvers_is_told_it_is_four_eyes(engine: Engine) -> None:
    """Alice started the run and is one of its approvers (by name, or as a channel member):
    four-eyes keeps her out, and she is told so, not that only people like her may decide."""
    for approvers in (["UALICE", "UBOB"], ["channel"], None):
        lock = await guarded(engine, approvers=approvers, four_eyes=True)
        mine = await engine.submit(lock.id, {"ok": True}, "UALICE")
        assert (mine.outcome, mine.allowed) == (Answer.FORBIDDEN, ()), approvers
        assert (await engine.reject(lock.id, "UALICE")).allowed == ()
    named = await guarded(engine, approvers=["UBOB"], four_eyes=True)  # she is no approver
    assert (await engine.submit(named.id, {"ok": True}, "UALICE")).allowed == ("UBOB",)
    outsider = await engine.submit(named.id, {"ok": True}, "UOUTSIDER")
    assert outsider.allowed == ("UBOB",)
    assert (await engine.submit(named.id, {"ok": True}, "UBOB")).outcome is Answer.ACCEPTED
