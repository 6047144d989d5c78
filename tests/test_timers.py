"""Service levels of locks, with an injected clock: reminders, escalation, every on_timeout
policy, snoozing, and delivery retries. No test sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from bot.render import history
from flows import Request
from flows.engine import (
    Engine,
    EngineConfig,
    FakeClock,
    RecordingNotifier,
    Show,
    Snooze,
)
from flows.policy import Escalation, Policy, humanize, make_policy, reminder_times
from store import SQLStore
from tests.reading import events
from tests.sample_flows import app

H = 3600.0


class Flaky(RecordingNotifier):
    """Fails the first ``failures`` reminders, as Slack being down would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def show(self, show: Show) -> Any:
        if show.payload.get("type") == "reminder" and self.failures:
            self.failures -= 1
            raise ConnectionError("slack is down")
        return await super().show(show)


@pytest.fixture
async def env(store: SQLStore) -> AsyncIterator[tuple[Engine, RecordingNotifier, FakeClock]]:
    clock = FakeClock()
    notes = Flaky(0)
    engine = Engine(store, [app], notes, clock, EngineConfig())
    yield engine, notes, clock
    await engine.close()


async def start(engine: Engine, flow: str, inputs: dict[str, Any] | None = None) -> str:
    eid = await engine.start(flow, inputs, Request(flow, "UALICE"))
    await engine.settled(eid)
    return eid


async def tick(engine: Engine, clock: FakeClock, seconds: float) -> int:
    clock.advance(seconds)
    fired = await engine.fire_due()
    await engine.idle()
    return fired


async def test_reminders_and_escalation_at_the_right_times(env: Any) -> None:
    engine, notes, clock = env
    eid = await start(engine, "reminded")
    assert await tick(engine, clock, H - 1) == 0
    assert await tick(engine, clock, 1) == 1
    assert notes.of("reminder", eid) == [("final", [])]
    assert await tick(engine, clock, 0.5 * H) == 1  # escalation at 1.5 h
    assert notes.of("escalated", eid) == [("final", ["UMANAGER"])]
    assert await tick(engine, clock, 0.5 * H) == 1  # second reminder now mentions the manager
    assert notes.of("reminder", eid) == [("final", []), ("final", ["UMANAGER"])]
    assert await tick(engine, clock, H) == 1  # the deadline: no reminder at 3 h, it expires
    execution = await engine.execution(eid)
    assert execution.status == "error" and "final expired" in execution.error
    kinds = [e.kind for e in await events(engine, eid)]
    assert kinds.count("reminded") == 2 and kinds.count("escalated") == 1
    assert kinds.count("expired") == 1


async def test_nudges_missed_while_no_bot_ran_are_in_the_trail(env: Any) -> None:
    """No process ran from before the first reminder until past the deadline: the deadline
    closes the lock, and the reminders and the escalation that never went are in the trail
    (``missed``, each with when it was due), not silently gone; none is sent late."""
    engine, notes, clock = env
    eid = await start(engine, "reminded")
    [lock] = notes.of("lock_opened", eid)
    opened = lock.created_at
    assert await tick(engine, clock, 4 * H) == 1  # only the deadline fires
    assert notes.of("reminder", eid) == [] and notes.of("escalated", eid) == []
    missed = [e for e in await events(engine, eid) if e.kind == "missed"]
    assert [(e.call_id, e.detail) for e in missed] == [
        (lock.id, {"timer": "reminder", "due_at": opened + H, "instead": "the deadline"}),
        (lock.id, {"timer": "escalation", "due_at": opened + 1.5 * H, "instead": "the deadline"}),
        (lock.id, {"timer": "reminder", "due_at": opened + 2 * H, "instead": "the deadline"}),
    ]
    status = history.line(missed[1], lock)
    assert status.startswith("the escalation for *Final* due <!date^")
    assert status.endswith("was never sent: no bot was running then, and the deadline came with it")


async def test_reminders_missed_together_go_as_one(env: Any) -> None:
    """Two reminders came due while no process ran (the deadline not yet): one reminder is
    sent, not two alike back to back; the earlier is in the trail as missed."""
    engine, notes, clock = env
    eid = await start(engine, "reminded")
    assert await tick(engine, clock, 2.2 * H) == 3  # two reminders and the escalation
    assert notes.of("reminder", eid) == [("final", ["UMANAGER"])]
    assert notes.of("escalated", eid) == [("final", ["UMANAGER"])]
    kinds = [(e.kind, (e.detail or {}).get("instead")) for e in await events(engine, eid)]
    assert ("missed", "a later reminder") in kinds and kinds.count(("reminded", None)) == 1


async def test_answering_cancels_the_remaining_reminders(env: Any) -> None:
    engine, notes, clock = env
    eid = await start(engine, "reminded")
    [lock] = notes.of("lock_opened", eid)
    await engine.submit(lock.id, {"ok": True}, "UBOB")
    await engine.settled(eid)
    assert await tick(engine, clock, 10 * H) == 0
    assert notes.of("reminder", eid) == [] and notes.of("escalated", eid) == []


@pytest.mark.parametrize(
    ("then", "status", "result"),
    [
        ("reject", "finished", "rejected: no answer by the deadline"),
        ("approve", "finished", {"ok": "default"}),
        ("fail", "error", None),
    ],
)
async def test_each_on_timeout_policy(env: Any, then: str, status: str, result: Any) -> None:
    engine, notes, clock = env
    eid = await start(engine, "policies", {"then": then})
    assert await tick(engine, clock, 30) == 1  # the reminder 30 s before the deadline
    assert await tick(engine, clock, 30) == 1
    execution = await engine.execution(eid)
    assert (execution.status, execution.result) == (status, result)
    [lock] = notes.of("lock_resolved", eid)
    assert lock.status == {"reject": "rejected", "approve": "resolved", "fail": "expired"}[then]


async def test_deadlines_due_together_fire_in_one_batch_each_once(env: Any) -> None:
    """Every policy in one batch, one lock answered before its deadline; fired again, nothing.
    A reminder due with its lock's deadline goes with the lock: nobody is nudged about a form
    that just closed."""
    engine, notes, clock = env
    runs = {
        then: await start(engine, "policies", {"then": then})
        for then in ("reject", "approve", "fail")
    }
    answered = await start(engine, "policies", {"then": "fail"})
    [lock] = notes.of("lock_opened", answered)
    assert (await engine.submit(lock.id, {"ok": True}, "UBOB")).outcome == "accepted"
    clock.advance(60)
    due = await engine.due(0)
    assert len(due) == 6  # three reminders, three deadlines (the answered lock's were dropped)
    assert await engine.fire(due) == 3
    assert await engine.fire(due) == 0  # each timer fires once
    await engine.idle()
    statuses = {t: (await engine.execution(e)).status for t, e in runs.items()}
    assert statuses == {"reject": "finished", "approve": "finished", "fail": "error"}
    assert (await engine.execution(answered)).status == "finished"
    for eid in runs.values():
        kinds = [e.kind for e in await events(engine, eid)]
        assert kinds.count("expired") == 1 and "reminded" not in kinds
    assert notes.of("reminder") == []


async def test_keep_stays_open_and_keeps_reminding(env: Any) -> None:
    engine, notes, clock = env
    eid = await start(engine, "policies", {"then": "keep"})
    await tick(engine, clock, 60)
    await tick(engine, clock, 60)
    await tick(engine, clock, 60)
    assert (await engine.execution(eid)).status == "awaiting"
    assert len(notes.of("reminder", eid)) >= 3  # 30 s before, at the deadline, and on
    kinds = [e.kind for e in await events(engine, eid)]
    assert "overdue" in kinds and "expired" not in kinds
    [lock] = notes.of("lock_opened", eid)
    assert (await engine.submit(lock.id, {"ok": True}, "UBOB")).outcome == "accepted"
    await engine.settled(eid)
    assert (await engine.execution(eid)).result == {"ok": True}


async def test_snooze_moves_the_deadline_and_is_audited(env: Any) -> None:
    engine, notes, clock = env
    eid = await start(engine, "snoozable")
    [lock] = notes.of("lock_opened", eid)
    snoozed = await engine.snooze(lock.id, "UBOB")
    assert snoozed.outcome is Snooze.SNOOZED and snoozed.lock.deadline == lock.deadline + 86400
    assert await tick(engine, clock, H) == 0  # the old deadline passes quietly
    assert (await engine.execution(eid)).status == "awaiting"
    assert await tick(engine, clock, 86400) == 1
    assert (await engine.execution(eid)).status == "error"
    [event] = [e for e in await events(engine, eid) if e.kind == "snoozed"]
    assert (event.actor, event.detail) == ("UBOB", {"by": 86400.0})
    assert notes.of("snoozed", eid) == [("final", "UBOB", lock.deadline + 86400)]
    other = await start(engine, "reminded")
    [no_snooze] = notes.of("lock_opened", other)
    not_allowed = await engine.snooze(no_snooze.id, "UBOB")
    assert not_allowed.outcome is Snooze.NOT_ALLOWED  # the flow does not allow it


async def test_an_undelivered_reminder_is_shown_later_and_once(store: SQLStore) -> None:
    clock = FakeClock()
    notes = Flaky(failures=2)
    engine = Engine(store, [app], notes, clock)
    eid = await start(engine, "reminded")

    async def drain_after(seconds: float) -> list[Any]:
        clock.advance(seconds)
        await engine.sweep()
        await engine.idle()
        return notes.of("reminder", eid)

    assert await tick(engine, clock, H) == 1  # the timer fires once; Slack is down
    assert notes.of("reminder", eid) == [] and await engine.backlog() == (1, 0.0)
    assert await drain_after(0.5) == []  # backing off: 1 s after the first failure
    assert await drain_after(0.5) == []  # tried again, failed again: 2 s more
    assert await drain_after(1.9) == []
    assert await drain_after(0.1) == [("final", [])]  # shown
    assert await drain_after(60) == [("final", [])]  # and only once
    assert (await engine.backlog())[0] == 0
    assert [e.kind for e in await store.events(eid)].count("reminded") == 1
    await engine.close()


def test_policy_arguments_are_checked() -> None:
    for bad in (0, -5, float("nan"), timedelta(0)):
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
            make_policy(bad, 10800)
    with pytest.raises(TypeError, match="timeout must be seconds or a timedelta"):
        make_policy("1h", 10800)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_timeout must be one of"):
        make_policy(None, 10800, on_timeout="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="approve"):
        make_policy(None, 10800, on_timeout=("reject", 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="remind must be a positive"):
        make_policy(None, 10800, remind=0)
    with pytest.raises(ValueError, match="user ids"):
        Escalation.of(60, ["alice"])
    # a duration whose deadline no date holds (a person's Home could never show it)
    for huge in (1e12, timedelta.max):
        with pytest.raises(ValueError, match="timeout must be at most a century"):
            make_policy(huge, 10800)
    with pytest.raises(ValueError, match="snooze must be at most a century"):
        make_policy(60, 10800, snooze=1e12)
    with pytest.raises(ValueError, match="escalate after must be at most a century"):
        Escalation.of(1e12, ["UBOB"])
    assert make_policy(timedelta(days=3650), 10800).timeout == 3650 * 86400
    assert make_policy(None, 10800).timeout == 10800
    assert make_policy(timedelta(minutes=5), 10800).timeout == 300
    policy = make_policy(60, 1, remind=[10, 30], on_timeout=("approve", 1), snooze=5)
    assert Policy.from_json(policy.to_json()) == policy


def test_reminder_maths() -> None:
    every = Policy(timeout=10, remind_every=3)
    assert reminder_times(every, 100, 110) == [103, 106, 109]
    before = Policy(timeout=10, remind_before=(5, 20))
    assert reminder_times(before, 100, 110) == [105]  # 20 s before would be before opening
    assert len(reminder_times(Policy(timeout=1e6, remind_every=1), 0, 1e6)) == 50
    assert [humanize(s) for s in (30, 90, 7200, 86400, 172800)] == [
        "30 s", "2 min", "2 h", "1 day", "2 days",
    ]  # fmt: skip


async def test_a_submission_racing_its_deadline_has_exactly_one_outcome(env: Any) -> None:
    engine, notes, clock = env
    for _ in range(10):
        eid = await start(engine, "quick", {"timeout": 60})
        [lock] = notes.of("lock_opened", eid)
        clock.advance(60)
        [timer] = [t for t in await engine.due(0) if t.call_id == lock.id]
        decision, fired = await asyncio.gather(
            engine.submit(lock.id, {"ok": True}, "UBOB"), engine.fire([timer])
        )
        await engine.settled(eid)
        execution = await engine.execution(eid)
        kinds = [e.kind for e in await events(engine, eid)]
        if decision.outcome == "accepted":  # the answer committed first: the expiry is discarded
            assert not fired and execution.status == "finished" and "expired" not in kinds
        else:  # the expiry won: the person is told it expired
            assert fired and decision.outcome == "decided" and decision.lock.status == "expired"
            assert execution.status == "error" and "lease" not in kinds


async def test_a_snooze_racing_the_deadline_on_postgres_says_nothing_if_it_lost(
    pg_url: str,
) -> None:
    """Two processes on Postgres: one closes the lock at its deadline while another snoozes
    it. The snooze that finds the lock closed when it gets the row moves nothing and says
    nothing: no "snoozed" post in the thread under the expired form, none in the trail."""
    store = await SQLStore.open(pg_url)
    engine = Engine(store, [app], RecordingNotifier(), FakeClock(), EngineConfig())
    blocker = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        eid = await start(engine, "snoozable")
        [lock] = [c for c in await store.calls(eid) if c.kind == "lock"]
        expiring = blocker.transaction()
        await expiring.start()  # the deadline's transaction, holding the lock's row
        await blocker.execute("UPDATE calls SET status = 'expired' WHERE id = $1", lock.id)
        snoozing = asyncio.create_task(engine.snooze(lock.id, "UBOB"))
        await asyncio.sleep(0.5)  # the snooze reads the lock open, and waits for its row
        await expiring.commit()
        snoozed = await snoozing
        assert snoozed.outcome is Snooze.DECIDED
        assert "snoozed" not in [e.kind for e in await store.events(eid)]
        rows = await blocker.fetch("SELECT key FROM outbox WHERE key LIKE 'snooze:%'")
        assert rows == []
    finally:
        await blocker.close()
        await engine.close()
        await store.close()


async def test_a_kept_lock_whose_reminder_fires_past_the_deadline_is_reminded_once_each_time(
    env: Any, store: SQLStore
) -> None:
    """No process ran over a kept lock's reminder and its deadline (both fire at restart):
    the deadline says it is overdue, once, and one chain of reminders goes on from there (the
    late reminder said "overdue" too, at once, and began a chain of its own)."""
    engine, notes, clock = env
    eid = await start(engine, "policies", {"then": "keep"})
    await tick(engine, clock, 65)  # the reminder (30 s before) and the deadline, together
    assert len(notes.of("reminder", eid)) == 1
    later = await store.due_timers(clock.now() + 3600)
    assert [t.kind for t in later if t.execution_id == eid] == ["remind"]  # one chain
    kinds = [e.kind for e in await events(engine, eid)]
    assert kinds.count("overdue") == 1 and kinds.count("missed") == 1  # the late one, in the trail
    for _ in range(3):
        before = len(notes.of("reminder", eid))
        await tick(engine, clock, 60)  # every timeout, after the deadline
        assert len(notes.of("reminder", eid)) == before + 1
    assert (await engine.execution(eid)).status == "awaiting"


async def test_a_kept_lock_snoozed_past_its_deadline_is_reminded_again_when_its_new_deadline_passes(
    env: Any,
) -> None:
    """A kept lock past its deadline, reminded every 30 s, is snoozed 10 min (from now: its
    deadline has passed): it is reminded as any lock before its deadline, not overdue, until
    the new deadline, which says it is overdue again and reminds on from there (its deadline's
    timer had fired: the lock went silent for good, and the snooze was counted from the old
    deadline)."""
    engine, notes, clock = env
    eid = await start(engine, "kept_snoozable")
    [lock] = notes.of("lock_opened", eid)
    await tick(engine, clock, 30)
    await tick(engine, clock, 30)  # the deadline: overdue, and reminded every 30 s from here
    await tick(engine, clock, 10)
    snoozed = await engine.snooze(lock.id, "UBOB")
    assert snoozed.outcome is Snooze.SNOOZED and snoozed.lock.deadline == clock.now() + 600
    kinds = [e.kind for e in await events(engine, eid)]
    await tick(engine, clock, 600 - 10)
    assert "overdue" not in [e.kind for e in await events(engine, eid)][len(kinds) :]
    kinds = [e.kind for e in await events(engine, eid)]
    before = len(notes.of("reminder", eid))
    await tick(engine, clock, 10)  # the new deadline
    assert [e.kind for e in await events(engine, eid)][len(kinds) :].count("overdue") == 1
    for _ in range(3):
        await tick(engine, clock, 30)
    assert len(notes.of("reminder", eid)) == before + 4
    assert (await engine.execution(eid)).status == "awaiting"


async def test_a_sleep_of_no_time_is_no_sleep_whatever_its_form(env: Any) -> None:
    """``tracer.sleep(0)`` went on at once, ``tracer.sleep(timedelta(0))`` ended the run with a
    ValueError."""
    engine, _, _ = env
    eid = await start(engine, "zero_naps")
    execution = await engine.execution(eid)
    assert (execution.status, execution.result) == ("finished", "awake")


async def test_many_reminders_due_together_let_the_event_loop_run_between_them(
    env: Any,
) -> None:
    """SQLite's transactions never yield: a thousand reminders due at once held the event loop
    for seconds (Slack's clicks meanwhile went unacknowledged). Other work runs between them."""
    engine, notes, clock = env
    eids = [await start(engine, "reminded") for _ in range(30)]
    clock.advance(H)
    due = await engine.due(0)
    assert len(due) == 30
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    beside = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = turns
    assert await engine.fire(due) == 30
    during = turns - before
    beside.cancel()
    assert during >= 29  # a turn between each two reminders, at least
    await engine.idle()
    assert all(len(notes.of("reminder", eid)) == 1 for eid in eids)


@pytest.mark.parametrize("then", ["fail", "reject", "approve"])
async def test_a_reminder_that_fires_after_its_locks_deadline_is_not_sent(
    env: Any, then: str
) -> None:
    """The reminder's job ran late (a busy process), after the deadline but before the
    deadline's own job: it said "is overdue; it stays open until someone answers" just before
    the lock closed. Not sent, it is in the trail as missed; the deadline closes the lock."""
    engine, notes, clock = env
    eid = await start(engine, "policies", {"then": then})
    [reminder] = [t for t in await engine.due(60) if t.kind == "remind"]
    clock.advance(61)
    assert await engine.fire([reminder]) == 1
    await engine.idle()
    assert notes.of("reminder", eid) == []
    [skipped] = [e for e in await events(engine, eid) if e.kind == "missed"]
    assert skipped.detail["instead"] == "the deadline"
    assert await tick(engine, clock, 0) == 1  # the deadline
    assert (await engine.execution(eid)).status != "awaiting"
    assert notes.of("reminder", eid) == []


async def test_a_lock_reminded_more_often_than_the_cap_is_reminded_up_to_its_deadline(
    env: Any,
) -> None:
    """Every second for 100 s: 99 reminders. Only the first 50 were planned, and the lock went
    quiet for the half before its deadline, the part that matters most. The 50th plans the
    next ones; a stretch no process ran is one reminder, and the series goes on after it."""
    engine, notes, clock = env
    eid = await start(engine, "chatty")
    for _ in range(60):
        await tick(engine, clock, 1)
    assert len(notes.of("reminder", eid)) == 60
    await tick(engine, clock, 30)  # no process ran: the 61st to 90th, one reminder
    assert len(notes.of("reminder", eid)) == 61
    for _ in range(9):
        await tick(engine, clock, 1)
    assert len(notes.of("reminder", eid)) == 70  # the 91st to 99th
    kinds = [e.kind for e in await events(engine, eid)]
    assert kinds.count("reminded") == 70 and kinds.count("missed") == 29
    assert await tick(engine, clock, 1) == 1  # the deadline
    assert (await engine.execution(eid)).status == "error"
