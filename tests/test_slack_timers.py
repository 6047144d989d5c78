"""Reminders, escalation, snoozing and expiry as people see them in Slack (injected clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flows.engine import Execution, FakeClock
from store import SQLStore
from tests.slackbot import CHANNEL, Bot, input_value, running_bot

H = 3600.0


@pytest.fixture
async def clocked(db_url: str, store: SQLStore) -> AsyncIterator[tuple[Bot, FakeClock]]:
    clock = FakeClock()
    async with running_bot(db_url, clock) as bot:
        yield bot, clock


async def tick(bot: Bot, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await bot.lockstep.engine.fire_due()
    await bot.lockstep.engine.idle()


def thread(bot: Bot) -> list[dict[str, Any]]:
    parent = bot.slack.messages(CHANNEL)[-1]
    return bot.slack.thread(CHANNEL, parent["ts"])


async def nudged(bot: Bot) -> tuple[Execution, dict[str, Any]]:
    """A run of the ``nudged`` flow, paused at its lock: the run and the lock's message."""
    await bot.command("start nudged")
    await bot.slack.wait_for("chat.postMessage", count=2)
    [execution] = await bot.lockstep.store.executions()
    await bot.lockstep.engine.settled(execution.id)
    return execution, thread(bot)[-1]


async def test_reminders_escalation_snooze_and_expiry_in_the_thread(clocked: Any) -> None:
    bot, clock = clocked
    execution, lock = await nudged(bot)
    snooze = [e for b in lock["blocks"] if b["type"] == "actions" for e in b["elements"]][-1]
    assert snooze["action_id"] == "lockstep_snooze" and snooze["text"]["text"] == "Snooze +1 day"

    await tick(bot, clock, H)
    reminder = thread(bot)[-1]["text"]
    assert reminder.startswith("⏰ *Nudge form* has waited 1 h; it expires in 2 h.")
    assert "|Open the form>" in reminder and "https://example.slack.test/" in reminder

    await tick(bot, clock, 0.5 * H)
    escalated = thread(bot)[-1]["text"]
    assert escalated.startswith("📣 <@UMANAGER>, <!subteam^SREVIEWERS>: you can now answer")
    [dm] = [
        c.args for c in bot.slack.calls_to("chat.postMessage") if c.args["channel"] == "DUMANAGER"
    ]
    assert f"<#{CHANNEL}>" in dm["text"] and "Open the form" in dm["text"]

    await tick(bot, clock, 0.5 * H)  # the next reminder mentions who was added
    assert thread(bot)[-1]["text"].startswith("⏰ <@UMANAGER>, <!subteam^SREVIEWERS> *Nudge form*")

    await bot.click(lock, "lockstep_snooze", "UBOB")
    await bot.slack.wait_for("chat.postMessage", count=7)
    assert thread(bot)[-1]["text"].startswith(
        "⏰ <@UBOB> snoozed *Nudge form*: it now waits until <!date^"
    )
    await tick(bot, clock, H)  # the original deadline passes: still open
    assert (await bot.lockstep.store.execution(execution.id)).status == "awaiting"

    await tick(bot, clock, 24 * H)
    expired = next(m for m in thread(bot) if m["ts"] == lock["ts"])
    assert "⌛ Expired with no answer · <!date^" in expired["text"]
    assert not any(b["type"] == "actions" for b in expired["blocks"])
    events = [(e.kind, e.actor) for e in await bot.lockstep.store.events(execution.id)]
    assert ("snoozed", "UBOB") in events and ("escalated", None) in events
    assert [k for k, _ in events].count("reminded") == 3  # 1 h, 2 h, and 3 h: snoozed, it goes on


async def test_the_same_snooze_click_sent_twice_snoozes_once(clocked: Any) -> None:
    bot, clock = clocked
    execution, lock = await nudged(bot)
    [lock_id] = {
        e["value"] for b in lock["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    before = (await bot.lockstep.engine.lock(lock_id)).deadline

    async def deadline_after_click(trigger: str | None) -> float:
        assert (await bot.click(lock, "lockstep_snooze", "UBOB", trigger=trigger))[0] == 200
        await bot.lockstep.handlers.drain()
        return (await bot.lockstep.engine.lock(lock_id)).deadline

    assert await deadline_after_click("trigger-once") == before + 24 * H
    assert await deadline_after_click("trigger-once") == before + 24 * H  # replayed: no more
    clock.advance(60)
    assert await deadline_after_click(None) == before + 48 * H  # a click of its own, later
    events = [e.kind for e in await bot.lockstep.store.events(execution.id)]
    assert events.count("snoozed") == 2


async def test_a_double_click_on_snooze_snoozes_once(clocked: Any) -> None:
    """Snooze clicked twice at once by one person (two requests, two trigger ids) pushes the
    deadline once, with one line in the thread; someone else's snooze at the same moment, and
    their own a minute later, each count."""
    bot, clock = clocked
    execution, lock = await nudged(bot)
    [lock_id] = {
        e["value"] for b in lock["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    before = (await bot.lockstep.engine.lock(lock_id)).deadline
    said = await asyncio.gather(*(bot.click(lock, "lockstep_snooze", "UBOB") for _ in range(2)))
    assert [status for status, _ in said] == [200, 200]
    await bot.lockstep.handlers.drain()
    await bot.lockstep.engine.idle()
    assert (await bot.lockstep.engine.lock(lock_id)).deadline == before + 24 * H
    assert sum("snoozed" in m["text"] for m in thread(bot)) == 1
    assert bot.slack.ephemerals("UBOB") == []  # nothing to tell: the thread says it
    await bot.click(lock, "lockstep_snooze", "UCAROL")
    clock.advance(60)
    await bot.click(lock, "lockstep_snooze", "UBOB")
    await bot.lockstep.handlers.drain()
    assert (await bot.lockstep.engine.lock(lock_id)).deadline == before + 72 * H
    events = [e.kind for e in await bot.lockstep.store.events(execution.id)]
    assert events.count("snoozed") == 3


async def test_reminders_and_escalations_go_without_a_link_to_a_deleted_lock_message(
    clocked: Any,
) -> None:
    """Someone deleted the lock's message: the reminder, the escalation and its direct
    message still go, without the link Slack can no longer give."""
    bot, clock = clocked
    _, lock = await nudged(bot)
    bot.slack.delete(CHANNEL, lock["ts"])
    await tick(bot, clock, H)
    await tick(bot, clock, 0.5 * H)
    posted = [m["text"] for m in thread(bot)]
    assert any(t.startswith("⏰ *Nudge form* has waited 1 h") for t in posted)
    assert any(t.startswith("📣 <@UMANAGER>") for t in posted)
    [dm] = [
        c.args for c in bot.slack.calls_to("chat.postMessage") if c.args["channel"] == "DUMANAGER"
    ]
    assert "Open the form" not in dm["text"] and "Open the form" not in posted[-1]


async def test_a_member_of_a_group_the_lock_escalated_to_may_answer(clocked: Any) -> None:
    """Escalated to a user group: its members may answer, though not in the channel; before
    the escalation they may not."""
    bot, clock = clocked
    bot.slack._usergroups["SREVIEWERS"] = ["UREVIEWER"]  # in no channel
    execution, lock = await nudged(bot)
    lock_id = lock["blocks"][-1]["elements"][0]["value"]
    await bot.click(lock, "lockstep_submit", "UREVIEWER", input_value("note", "early"))
    await bot.lockstep.handlers.drain()
    assert (await bot.lockstep.engine.lock(lock_id)).open  # not yet theirs
    await tick(bot, clock, 1.5 * H)  # escalated to UMANAGER and SREVIEWERS
    await bot.click(lock, "lockstep_submit", "UREVIEWER", input_value("note", "ok"))
    await bot.lockstep.handlers.drain()
    await bot.lockstep.engine.settled(execution.id)
    decided = await bot.lockstep.engine.lock(lock_id)
    assert (decided.status, decided.actor) == ("resolved", "UREVIEWER")


async def test_a_reminder_slack_posted_unheard_reads_as_when_it_was_sent(clocked: Any) -> None:
    """Slack posts the reminder and the connection drops before the bot hears: the retry finds
    the post and shows it once more later. By then the lock has expired; the reminder still
    reads as it did when it was sent, not "overdue, it stays open until someone answers"."""
    bot, clock = clocked
    await nudged(bot)
    bot.slack.drop_next("chat.postMessage", when="after")  # the reminder
    await tick(bot, clock, H)
    await tick(bot, clock, 0.5 * H)  # the escalation
    await tick(bot, clock, 2 * H)  # the deadline: the lock expires
    for _ in range(3):
        await tick(bot, clock, 10)  # the retry's second look
    assert len(bot.slack.calls_to("chat.update")) >= 3  # the lock, the run, the reminder
    [reminder] = [m["text"] for m in thread(bot) if m["text"].startswith("⏰")]
    assert reminder.startswith("⏰ *Nudge form* has waited 1 h; it expires in 2 h."), reminder


async def test_a_snooze_shown_late_names_the_deadline_it_set(clocked: Any) -> None:
    """Bob's snooze cannot be posted at once (Slack fails) and Carol snoozes before it is: his
    line names the deadline his snooze set, hers the one hers did."""
    bot, clock = clocked
    _, lock = await nudged(bot)
    bot.slack.fail_next("chat.postMessage", status=500)  # Bob's snooze, in the thread
    await bot.click(lock, "lockstep_snooze", "UBOB")
    await bot.lockstep.handlers.drain()
    await bot.click(lock, "lockstep_snooze", "UCAROL")
    await bot.lockstep.handlers.drain()
    await tick(bot, clock, 2)  # Bob's, again
    await bot.slack.wait_for("chat.postMessage", count=5)
    snoozes = [m["text"] for m in thread(bot) if "snoozed" in m["text"]]
    assert len(snoozes) == 2 and snoozes[0].startswith("⏰ <@UBOB>"), snoozes
    until = [text.partition("<!date^")[2].partition("^")[0] for text in snoozes]
    assert int(until[1]) - int(until[0]) == 24 * H, snoozes


async def test_nudges_slack_could_not_post_before_the_lock_was_answered_go_unsaid(
    clocked: Any,
) -> None:
    """The reminder, the escalation and its direct message fire while Slack asks the bot to
    wait; Bob answers before they can be posted. Posted now, they would call people to a form
    already answered: they go unsaid (the trail keeps that they fired)."""
    bot, clock = clocked
    execution, lock = await nudged(bot)
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=30)
    await tick(bot, clock, 1.5 * H)  # the reminder is refused: everything waits 30 s
    await bot.slack.wait_for("chat.postMessage", count=3)
    await bot.click(lock, "lockstep_submit", "UBOB", input_value("note", "ok"))
    await bot.lockstep.handlers.drain()
    clock.advance(31)
    await bot.lockstep.engine.sweep()
    await bot.slack.until(lambda: any(m["text"].startswith("✅ *") for m in thread(bot)))
    await bot.lockstep.engine.idle()
    texts = [m["text"] for m in thread(bot)]
    assert not any(t.startswith(("⏰", "📣")) for t in texts), texts
    assert not bot.slack.messages("DUMANAGER")
    events = [e.kind for e in await bot.lockstep.store.events(execution.id)]
    assert "reminded" in events and "escalated" in events


async def test_a_snoozed_lock_is_reminded_until_its_new_deadline(clocked: Any) -> None:
    """Reminded every hour of its 3 h, the lock is snoozed a day: it is reminded every hour
    until its new deadline too, not left silent after the first two."""
    bot, clock = clocked
    _, lock = await nudged(bot)
    await bot.click(lock, "lockstep_snooze", "UBOB")
    await bot.lockstep.handlers.drain()
    for _ in range(6):
        await tick(bot, clock, H)
    reminders = [m["text"] for m in thread(bot) if m["text"].startswith("⏰ <@UMANAGER>")]
    assert len(reminders) == 5, [m["text"][:60] for m in thread(bot)]  # at 2 h ... 6 h
    assert reminders[-1].split(";")[1].startswith(" it expires in 21 h"), reminders[-1]


async def test_a_reminder_shown_again_after_a_snooze_keeps_the_deadline_it_said(
    clocked: Any,
) -> None:
    """Slack posts the first reminder unheard; the lock is snoozed a day before the retry's
    second look updates it: it still says what it said when it was sent (2 h to go), not how
    long it had waited then beside how long is left now."""
    bot, clock = clocked
    _, lock = await nudged(bot)
    bot.slack.drop_next("chat.postMessage", when="after")  # the first reminder
    await tick(bot, clock, H)
    await tick(bot, clock, 0.5 * H)  # the escalation; the reminder's retry finds it
    await bot.click(lock, "lockstep_snooze", "UBOB")
    await bot.lockstep.handlers.drain()
    await tick(bot, clock, 0.5 * H)  # the next reminder; the first's second look
    [first, *_] = [m["text"] for m in thread(bot) if m["text"].startswith("⏰ *Nudge")]
    assert first.startswith("⏰ *Nudge form* has waited 1 h; it expires in 2 h."), first


@pytest.mark.parametrize("nudge", ["reminder", "escalation"])
async def test_a_nudge_slack_could_not_take_is_not_shown_once_its_lock_is_answered(
    clocked: Any, nudge: str
) -> None:
    """Slack failed a reminder (or an escalation and its direct message); by the time it was
    retried the lock was answered, and the thread said it waited ("is overdue...; it stays open
    until someone answers", "you can now answer") under the decided form."""
    bot, clock = clocked
    execution, lock = await nudged(bot)
    if nudge == "escalation":
        await tick(bot, clock, H)  # the first reminder, shown
    before = len(bot.slack.calls_to("chat.postMessage"))
    failing = 1 if nudge == "reminder" else 2  # the thread's post, and the direct message
    bot.slack.fail_next("chat.postMessage", status=500, times=failing)
    await tick(bot, clock, H if nudge == "reminder" else 0.5 * H)
    await bot.slack.wait_for("chat.postMessage", count=before + failing)
    assert (await bot.click(lock, "lockstep_submit", "UBOB"))[0] == 200
    await bot.slack.wait_for("chat.update", count=2)  # the form, decided; the run's message
    clock.advance(60)  # the nudges' retries are due
    await bot.lockstep.engine.sweep()
    await bot.lockstep.engine.settled(execution.id)
    assert (await bot.lockstep.store.execution(execution.id)).status == "finished"
    texts = [m["text"] for m in thread(bot)]
    assert texts[-1].startswith("✅ *Finished*")
    assert [t for t in texts if t.startswith("⏰")] == ([] if nudge == "reminder" else texts[2:3])
    assert not [t for t in texts if t.startswith("📣")]
    assert bot.slack.messages("DUMANAGER") == []


async def test_a_reminder_shown_after_its_locks_deadline_is_not_shown(clocked: Any) -> None:
    """Slack failed the reminder 1 h before the deadline, and took the retry only after the
    deadline had passed (the deadline's own timer not fired yet): it said the lock "is overdue;
    it stays open until someone answers", a moment before it expired."""
    bot, clock = clocked
    execution, _ = await nudged(bot)
    await tick(bot, clock, H)  # the first reminder, shown
    before = len(bot.slack.calls_to("chat.postMessage"))
    bot.slack.fail_next("chat.postMessage", status=500)
    await tick(bot, clock, H)  # the second: Slack fails it; tried again in a second
    await bot.slack.wait_for("chat.postMessage", count=before + 1)
    clock.advance(H + 1)  # meanwhile the deadline passed
    engine = bot.lockstep.engine
    for _ in range(200):  # the retry comes by the deliverer's own timer, in a second
        if not (await engine.backlog())[0]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the reminder was not tried again")
    assert await engine.fire_due() == 1  # the deadline
    await engine.settled(execution.id)
    nudges = [m["text"] for m in thread(bot) if m["text"].startswith("⏰")]
    assert len(nudges) == 1 and "has waited 1 h" in nudges[0]
    assert (await bot.lockstep.store.execution(execution.id)).status == "error"
