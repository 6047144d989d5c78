"""Decisions through the real Bolt app, with signed requests from different people: quorum,
four-eyes, flow admins, and the audit trail."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from sqlalchemy import text

from bot import held_clicks
from tests.slack_flows import CONSIDERING
from tests.slackbot import (
    CHANNEL,
    Bot,
    assert_valid_surfaces,
    checked,
    fields,
    input_value,
    start_without_form,
)

IN_TIME = 2.5  # seconds an ack may take here: Slack wants it within 3


def current(bot: Bot, message: dict[str, Any]) -> dict[str, Any]:
    """The message as people now see it (after the bot's chat.update calls)."""
    return next(
        m for m in bot.slack.thread(CHANNEL, message["thread_ts"]) if m["ts"] == message["ts"]
    )


def context_text(message: dict[str, Any]) -> list[str]:
    return [b["elements"][0]["text"] for b in message["blocks"] if b["type"] == "context"]


async def test_a_lock_that_names_its_approvers_mentions_them(bot: Bot) -> None:
    """Named approvers are mentioned as the lock is posted (its text is the notification), and
    the message says whom it waits for; a lock for the channel names nobody."""
    message = await start_without_form(bot, "vetted")
    asked = "<@UAPPROVER> or <!subteam^SREVIEW>"
    assert message["text"] == f"Vetted form: waiting for an answer from {asked}"
    assert f"Waiting for {asked}." in context_text(message)
    assert message["blocks"][-1]["type"] == "actions"
    plain = await start_without_form(bot, "ship")
    assert plain["text"] == "Approval: Ship _v2_ to everyone?"  # names no one
    assert not any("Waiting for" in t for t in context_text(plain))
    assert assert_valid_surfaces(bot.slack)


async def test_quorum_of_two_needs_two_different_people(bot: Bot) -> None:
    message = await start_without_form(bot, "release")
    assert "👥 Needs approval from 2 different people." in context_text(message)

    await bot.click(message, "lockstep_submit", "UALICE")  # started it: four-eyes
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"] == "You started this run, so someone else has to decide this."

    await bot.click(message, "lockstep_submit", "UBOB")
    notes = await bot.slack.wait_for("chat.postEphemeral", count=2)
    assert (notes[-1].args["user"], notes[-1].args["text"]) == (
        "UBOB", "Your approval is counted: 1 of 2.",
    )  # fmt: skip
    counted = "👥 Approved by <@UBOB>: 1 of 2."
    await bot.slack.until(lambda: counted in context_text(current(bot, message)))

    await bot.click(message, "lockstep_submit", "UBOB")  # the same person twice counts once
    notes = await bot.slack.wait_for("chat.postEphemeral", count=3)
    assert notes[-1].args["text"] == (
        "You have already approved this; it needs 1 more from someone else."
    )
    [execution] = await bot.lockstep.store.executions()
    assert (await bot.lockstep.store.execution(execution.id)).status == "awaiting"

    await bot.click(message, "lockstep_submit", "UCAROL")
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert done[-1].args["text"].startswith("✅ *Approved* by <@UBOB>, <@UCAROL> · <!date^")
    assert fields(done[-1].args) == {"Result": "Yes"}
    decided = current(bot, message)
    assert decided["text"].startswith("Approval: ✅ Approved by <@UBOB>, <@UCAROL> · ")
    assert assert_valid_surfaces(bot.slack) > 3

    await bot.click(message, "lockstep_submit", "UGROUPIE")  # late: told who decided it
    notes = await bot.slack.wait_for("chat.postEphemeral", count=4)
    assert notes[-1].args["text"].startswith("Already answered by <@UBOB>, <@UCAROL> (")


async def test_flow_admins_may_cancel_a_run_others_may_not(bot: Bot) -> None:
    await start_without_form(bot, "release")
    [execution] = await bot.lockstep.store.executions()
    _, text = await bot.command(f"cancel {execution.id}", user="UBOB")
    assert text == "Only <@UALICE>, who started this run, or <!subteam^SREVIEW> can cancel it."
    assert (await bot.lockstep.store.execution(execution.id)).status == "awaiting"
    _, text = await bot.command(f"cancel {execution.id}", user="UGROUPIE")  # in SREVIEW
    assert text == f"Run `{execution.id[:8]}` is cancelled."
    events = [(e.kind, e.actor) for e in await bot.lockstep.store.events(execution.id)]
    assert ("refused", "UBOB") in events and ("cancelled", "UGROUPIE") in events


def hints(message: dict[str, Any]) -> dict[str, str]:
    return {
        b["block_id"]: b["hint"]["text"]
        for b in message["blocks"]
        if b["type"] == "input" and "hint" in b
    }


async def test_a_pydantic_model_form_validates_each_field(bot: Bot) -> None:
    message = await start_without_form(bot, "trip")
    assert hints(message) == {"f_city": "Where to"}  # the field's description
    cabin = {
        "f_cabin": {"cabin": {"type": "static_select", "selected_option": {"value": "economy"}}}
    }
    city = input_value("city", "Lisbon")
    too_long = city | input_value("nights", "20") | input_value("budget", "600")
    await bot.click(message, "lockstep_submit", "UBOB", too_long | cabin)
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"] == "Please fix the form:\n• *Nights*: Enter a number of at most 14."
    free = city | input_value("nights", "4") | input_value("budget", "0")
    await bot.click(message, "lockstep_submit", "UBOB", free | cabin)
    notes = await bot.slack.wait_for("chat.postEphemeral", count=2)
    assert (
        notes[-1].args["text"] == "Please fix the form:\n• *Budget*: Input should be greater than 0"
    )
    await bot.lockstep.engine.idle()  # the message shows the newest refusal, for everyone
    shown = hints(current(bot, message))
    assert shown == {"f_city": "Where to", "f_budget": "⚠️ Input should be greater than 0"}
    assert (await bot.lockstep.store.executions())[0].status == "awaiting"

    good = input_value("city", "Lisbon") | input_value("nights", "4") | input_value("budget", "600")
    await bot.click(message, "lockstep_submit", "UBOB", good | cabin)
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert done[-1].args["text"].startswith("✅ *Finished* · ")  # answered: nothing to approve
    assert fields(done[-1].args) == {"City": "Lisbon", "Nights": "4", "Per night": "150"}
    [execution] = await bot.lockstep.store.executions()
    assert (await bot.lockstep.store.execution(execution.id)).result == {
        "city": "Lisbon", "nights": 4, "per_night": 150.0,
    }  # fmt: skip
    assert_valid_surfaces(bot.slack)


async def test_status_shows_the_history_and_audit_sends_the_whole_trail(bot: Bot) -> None:
    message = await start_without_form(bot, "trip")
    cabin = {
        "f_cabin": {"cabin": {"type": "static_select", "selected_option": {"value": "economy"}}}
    }
    answer = input_value("city", "Oslo") | input_value("budget", "900") | cabin
    await bot.click(message, "lockstep_submit", "UBOB", answer | input_value("nights", "0"))
    await bot.slack.wait_for("chat.postEphemeral")
    await bot.click(message, "lockstep_submit", "UCAROL", answer | input_value("nights", "3"))
    await bot.slack.wait_for("chat.postMessage", count=3)
    [execution] = await bot.lockstep.store.executions()

    _, status = await bot.command(f"status {execution.id}", user="UBOB")  # in the channel
    lines = status.splitlines()
    assert lines[0] == f"*trip* `{execution.id[:8]}`: ✅ finished"  # a short id
    assert lines[1].endswith(": started by <@UALICE>")
    assert (
        "<@UBOB>'s answer to *Input* was refused: Nights: Enter a number of at least 1." in status
    )
    assert "<@UCAROL> answered *Input*: City=Oslo, Nights=3, Budget=900, Cabin=economy" in status
    assert lines[-1].endswith(": finished")

    _, refused = await bot.command(f"audit {execution.id}", user="UOUTSIDER")  # not in it
    assert (
        refused == "Only people in the run's channel, whoever started it, or its admins can see it."
    )
    _, reply = await bot.command(f"audit {execution.id}", user="UBOB")
    assert reply == f"The audit trail of run `{execution.id[:8]}` is on its way to you as a file."
    await bot.slack.wait_for("files.completeUploadExternal")
    [shared] = bot.slack.files()
    assert shared["channel"] == "DUBOB" and shared["name"] == f"lockstep-{execution.id}.json"
    trail = json.loads(shared["content"])
    assert trail["format"] == "lockstep.audit/1"
    assert trail["execution"] | {"initiator": "UALICE", "status": "finished"} == trail["execution"]
    [lock] = trail["locks"]
    assert (lock["name"], lock["status"], lock["decided_by"]) == (
        "prompt.input",
        "resolved",
        "UCAROL",
    )
    kinds = [(e["kind"], e["actor"]) for e in trail["events"]]
    assert kinds == [
        ("started", "UALICE"), ("lock_opened", None), ("status", None), ("invalid", "UBOB"),
        ("lease", "UCAROL"), ("finished", None), ("refused", "UOUTSIDER"),
    ]  # fmt: skip
    assert trail["events"][3]["detail"]["errors"]["nights"] == ["Enter a number of at least 1."]


def picked(kind: str, *values: str) -> dict[str, Any]:
    """What Slack sends for the prompt's one input (named ``value``) once someone picked."""
    options = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values]
    state = {
        "static_select": {"selected_option": options[0] if options else None},
        "multi_static_select": {"selected_options": options},
        "datepicker": {"selected_date": values[0] if values else None},
    }[kind]
    return {"f_value": {"value": {"type": kind, **state}}}


async def test_typed_prompts_from_slack_return_typed_values(bot: Bot) -> None:
    """ask, choose, choose_many and input(int, date, bool), answered by clicks with the
    state.values Slack sends for each element."""
    answers = [
        input_value("value", "Aurora"),
        picked("static_select", "beta"),
        picked("multi_static_select", "eu", "ap"),
        input_value("value", "three"),  # refused: not a whole number
        input_value("value", "3"),
        picked("datepicker", "2026-12-01"),
        checked("value"),
    ]
    message = await start_without_form(bot, "launch")
    for number, answer in enumerate(answers):
        if number == 4:  # the refused answer: the same lock, now showing the error
            [note] = await bot.slack.wait_for("chat.postEphemeral")
            assert note.args["text"].startswith("Please fix the form:\n• *How many canaries?*: ")
            message = current(bot, message)
        elif number:
            posted = await bot.slack.wait_for("chat.postMessage", count=number + 2 - (number > 4))
            message = posted[-1].response["message"]
        await bot.click(message, "lockstep_submit", "UBOB", answer)
    done = await bot.slack.wait_for("chat.postMessage", count=8)  # parent, 6 locks, the end
    [execution] = await bot.lockstep.store.executions()
    assert done[-1].args["text"].startswith("✅ *Finished* · ")
    assert fields(done[-1].args) == {
        "Name": "Aurora",
        "Channel": "beta",
        "Regions": "eu, ap",
        "Canaries": "3",
        "Day": "2026-12-01",
        "Announce": "Yes",
    }  # keys no field is named after, readable
    assert (await bot.lockstep.store.execution(execution.id)).result == {
        "name": "Aurora", "channel": "beta", "regions": ["eu", "ap"], "canaries": 3,
        "day": "2026-12-01", "announce": True,
    }  # fmt: skip
    assert_valid_surfaces(bot.slack)


async def test_a_lock_message_found_again_after_its_answer_was_lost_takes_clicks(bot: Bot) -> None:
    """Slack made the lock's post but its answer was lost: the retry finds the message and
    keeps it (noting that a late copy of it may still come), and a click on it decides."""
    bot.slack.drop_next("chat.postMessage", when="after", skip=1)  # the run's post goes first
    message = await start_without_form(bot, "ship")
    await bot.slack.wait_for("chat.update")  # found and updated where it is, not posted again
    assert len(bot.slack.calls_to("chat.postMessage")) == 2
    assert (await bot.click(message, "lockstep_submit", "UBOB"))[0] == 200
    [*_, ending] = await bot.slack.wait_for("chat.postMessage", count=3)
    assert ending.args["text"].startswith("✅ *Approved* by <@UBOB>")
    [execution] = await bot.lockstep.store.executions()
    assert execution.status == "finished" and execution.result is True
    assert not bot.slack.ephemerals("UBOB")  # no "not this message" note


async def test_a_quorum_lock_rejected_or_cancelled_after_an_approval_names_who_did_it(
    bot: Bot,
) -> None:
    """An approval counted does not make its approver the one who rejected the lock, or
    cancelled it with the run: the decided message names who did."""
    message = await start_without_form(bot, "release")
    await bot.click(message, "lockstep_submit", "UBOB")
    await bot.slack.wait_for("chat.postEphemeral")
    await bot.click(message, "lockstep_cancel", "UCAROL")
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert done[-1].args["text"].startswith("🚫 *Rejected* by <@UCAROL>")
    await bot.lockstep.engine.idle()
    assert current(bot, message)["text"].startswith("Approval: 🚫 Rejected by <@UCAROL> · ")

    message = await start_without_form(bot, "release")
    await bot.click(message, "lockstep_submit", "UBOB")
    await bot.slack.wait_for("chat.postEphemeral", count=2)
    execution = next(e for e in await bot.lockstep.store.executions() if not e.done)
    _, text = await bot.command(f"cancel {execution.id}", user="UGROUPIE")  # an admin
    assert text == f"Run `{execution.id[:8]}` is cancelled."
    await bot.lockstep.engine.idle()
    shown = current(bot, message)["text"]
    assert shown.startswith("Approval: 🚫 Cancelled with its run by <@UGROUPIE> · "), shown


async def test_a_cancel_sent_twice_at_once_shows_the_lock_cancelled(bot: Bot) -> None:
    """Two ``/flow cancel`` at once (a double Enter): one cancels, the other is told the run
    ended, and the lock's message shows the cancel at once, without its buttons (the loser
    held the lock's row while the winner's pass went by, on Postgres)."""
    for _ in range(4):
        message = await start_without_form(bot, "release")
        execution = next(e for e in await bot.lockstep.store.executions() if not e.done)
        said = await asyncio.gather(*(bot.command(f"cancel {execution.id}") for _ in range(2)))
        assert sorted(text.split(" ", 2)[-1] for _, text in said) == [
            "has already ended (🚫 cancelled by <@UALICE>).", "is cancelled.",
        ]  # fmt: skip
        await bot.lockstep.handlers.drain()
        await bot.lockstep.engine.idle()
        shown = current(bot, message)
        assert shown["text"].startswith("Approval: 🚫 Cancelled with its run by <@UALICE>"), shown
        assert not [b for b in shown["blocks"] if b["type"] == "actions"]


async def test_an_approval_counted_into_a_decided_quorum_is_told_so(bot: Bot) -> None:
    """Carol and Groupie approve at the same moment after Bob: both are counted and the lock
    is approved with all three; whoever's click did not decide it is told their approval is
    among them, not "Already answered by" a list naming themselves. Bob, clicking again
    later, is told the same."""
    message = await start_without_form(bot, "release")
    await bot.click(message, "lockstep_submit", "UBOB")
    await bot.slack.wait_for("chat.postEphemeral")
    await asyncio.gather(
        *(bot.click(message, "lockstep_submit", u) for u in ("UCAROL", "UGROUPIE"))
    )
    await bot.lockstep.handlers.drain()
    await bot.lockstep.engine.idle()
    [execution] = await bot.lockstep.store.executions()
    events = await bot.lockstep.store.events(execution.id)
    voters = [e.actor for e in events if e.kind == "approved"]
    for user in ("UCAROL", "UGROUPIE"):
        for note in bot.slack.ephemerals(user):
            assert note["text"].startswith(
                "Approved by " if user in voters else "Already answered by "
            ), note
            assert ("your approval among them" in note["text"]) == (user in voters), note
    await bot.click(message, "lockstep_submit", "UBOB")
    await bot.lockstep.handlers.drain()
    late = bot.slack.ephemerals("UBOB")[-1]["text"]
    assert late.startswith("Approved by <@UBOB>, <@U") and "your approval among them (" in late


async def test_a_click_is_stored_before_slack_hears_it_arrived(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack does not send a click again once it was acked: a bot killed right after the ack
    must have stored the answer. A Submit or Cancel is held before its ack, and decided after
    it (a slow lease does not hold the ack up); handled, its hold is done."""

    async def held() -> list[tuple[str, bool]]:
        rows = await bot.lockstep.store.run(
            lambda c: c.execute(text("SELECT kind, done FROM held")).all()
        )
        return [tuple(r) for r in rows]

    monkeypatch.setitem(CONSIDERING, "seconds", 1.0)
    message = await start_without_form(bot, "considered")
    began = time.monotonic()
    assert (await bot.click(message, "lockstep_submit", "UBOB"))[0] == 200
    assert time.monotonic() - began < CONSIDERING["seconds"]  # acked before the lease ended
    assert await held() == [("click", False)]  # stored, at the ack
    await bot.slack.until(lambda: "Approved by" in current(bot, message)["text"])
    await bot.lockstep.handlers.drain()
    await bot.lockstep.engine.idle()
    assert await held() == [("click", True)]

    rejected = await start_without_form(bot, "considered")
    assert (await bot.click(rejected, "lockstep_cancel", "UBOB"))[0] == 200
    await bot.lockstep.handlers.drain()
    runs = await bot.lockstep.store.executions()
    locks = [c for r in runs for c in await bot.lockstep.store.calls(r.id)]
    assert sorted(c.status for c in locks) == ["rejected", "resolved"]


async def test_a_click_waiting_before_its_listener_is_still_acked_within_slacks_3_s(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack's 3 s run from when the click arrived: time it spent before the listener (Bolt's
    authorize waiting for a database connection in a busy moment) does not push the ack past
    them."""
    message = await start_without_form(bot, "considered")
    monkeypatch.setitem(CONSIDERING, "seconds", 2.5)  # a lease slower than the ack may wait

    async def busy(next: Any) -> Any:  # (Bolt passes middleware arguments by name)
        await asyncio.sleep(1.5)
        return await next()

    bot.lockstep.bolt.middleware(busy)
    began = time.monotonic()
    assert (await bot.click(message, "lockstep_submit", "UBOB"))[0] == 200
    assert time.monotonic() - began < IN_TIME
    await bot.slack.until(lambda: "Approved by" in current(bot, message)["text"])


async def test_a_click_is_acked_within_slacks_three_seconds_of_arriving_not_of_its_listener(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What comes before the listener (Bolt asking Slack who the bot is, the first request
    after a restart, with Slack slow) is part of the three seconds: a decision slower than the
    rest is acked in time, and finishes after."""
    message = await start_without_form(bot, "considered")
    monkeypatch.setitem(CONSIDERING, "seconds", 4.0)
    [authorize] = [
        m
        for m in bot.lockstep.bolt._async_middleware_list
        if isinstance(m, AsyncSingleTeamAuthorization)
    ]
    authorize.auth_test_result = None  # as after a restart: Bolt asks again
    bot.slack.hang_next("auth.test", 1.5)
    began = time.monotonic()
    assert (await bot.click(message, "lockstep_submit", "UBOB"))[0] == 200
    assert time.monotonic() - began < IN_TIME
    await bot.slack.until(lambda: "Approved by" in current(bot, message)["text"])


async def test_clicks_at_once_and_a_replayed_click_are_decided_once_each_acked_in_time(
    bot: Bot,
) -> None:
    """Two people click Submit at once: both are acked within Slack's three seconds, one
    decides, the other is told who did; the same click sent again (Slack's retry headers, the
    same trigger id) while it is under way is the same answer: acked, and nothing more."""
    message = await start_without_form(bot, "considered")
    began = time.monotonic()
    acks = await asyncio.gather(
        bot.click(message, "lockstep_submit", "UBOB", trigger="t-bob"),
        bot.click(message, "lockstep_submit", "UCAROL"),
        bot.click(message, "lockstep_submit", "UBOB", trigger="t-bob", retry=1),
    )
    assert [status for status, _ in acks] == [200, 200, 200]
    assert time.monotonic() - began < 3
    await bot.lockstep.handlers.drain()
    [run] = await bot.lockstep.store.executions()
    [lock] = await bot.lockstep.store.calls(run.id)
    assert lock.status == "resolved"
    [note] = bot.slack.calls_to("chat.postEphemeral")  # the one who did not decide, once
    assert f"Already answered by <@{lock.actor}>" in note.args["text"]
    assert note.args["user"] == ({"UBOB", "UCAROL"} - {lock.actor}).pop()
    trail = await bot.lockstep.store.events(run.id)
    assert [e.actor for e in trail if e.kind == "lease"] == [lock.actor]


async def test_a_form_answered_in_a_modal_is_acked_in_time_however_slow_slack_says_who_may(
    bot: Bot,
) -> None:
    """The lookups of who may answer before a modal's ack share 2 s from when it arrived
    (``AckBudget``); Bolt runs the listener only after every middleware returned, so the budget
    is spent by the ack, not before the listener began (which left each lookup its 1.5 s, and
    the ack past Slack's 3 s)."""
    message = await start_without_form(bot, "either_group")
    await bot.lockstep.engine.idle()
    [run] = await bot.lockstep.store.executions()
    [lock] = [c for c in await bot.lockstep.store.calls(run.id) if c.kind == "lock"]
    bot.lockstep.engine._directory.people._cache.clear()  # Slack asked again, slowly
    bot.slack.hang_next("usergroups.users.list", 1.3, times=2)  # SOPS, then SREVIEW
    view = {**bot.lockstep.handlers.lock_form(lock), "id": "VGROUPIE"}
    began = time.monotonic()
    status, body = await bot.submit_view(view, input_value("x", "yes"), "UGROUPIE")
    assert status == 200 and time.monotonic() - began < 2.4
    assert "errors" in json.loads(body)  # not decided: try again (nothing is lost)
    await bot.lockstep.handlers.drain()
    assert current(bot, message)["blocks"][-1]["type"] == "actions"  # still open
    status, body = await bot.submit_view(view, input_value("x", "yes"), "UGROUPIE")
    assert (status, body) == (200, "")  # the answers came meanwhile: decided


async def test_a_click_whose_lookups_outlast_its_ack_is_decided_after_it(bot: Bot) -> None:
    """A click's decision goes on past its ack: the lookups of who may answer are not cut at
    the ack's budget, each waits as long as after an ack."""
    message = await start_without_form(bot, "either_group")
    await bot.lockstep.engine.idle()
    bot.lockstep.engine._directory.people._cache.clear()  # Slack asked again, slowly
    bot.slack.hang_next("usergroups.users.list", 1.3, times=2)  # SOPS, then SREVIEW
    began = time.monotonic()
    assert (await bot.click(message, "lockstep_submit", "UGROUPIE", input_value("x", "y")))[
        0
    ] == 200
    assert time.monotonic() - began < IN_TIME
    await bot.slack.until(lambda: "Approved by <@UGROUPIE>" in current(bot, message)["text"])
    await bot.lockstep.handlers.drain()
    assert bot.slack.ephemerals("UGROUPIE") == []  # not told to try again


async def test_a_held_click_whose_handling_was_cut_short_too_often_is_let_go(bot: Bot) -> None:
    """A click each process handling it died on (a click that kills the bot, say) is not
    handled for ever: past ``HELD_ATTEMPTS`` it is let go, deciding nothing."""
    message = await start_without_form(bot, "considered")
    click = {"user": "UBOB", "action": "lockstep_submit", "lock_id": "x", "channel": CHANNEL,
             "message_ts": message["ts"], "thread_ts": message["ts"], "trigger_id": "t1",
             "state": {}}  # fmt: skip
    payload = {"click": click, "does": "submit", "pressed": None}
    row = {"key": "k", "kind": "click", "payload": payload, "owner": "dead", "until": 0.0,
           "attempts": held_clicks.HELD_ATTEMPTS, "created_at": 0.0}  # fmt: skip
    assert await bot.lockstep.store.hold(row)
    client = bot.lockstep.bolt.client

    async def client_of(_: object) -> Any:
        return client

    assert await bot.lockstep.handlers.handle_held(client_of) == 0
    assert await bot.lockstep.store.take_held("me", 1e12, 2e12, 10) == []  # gone
    [run] = await bot.lockstep.store.executions()
    assert [c.status for c in await bot.lockstep.store.calls(run.id)] == ["open"]


async def test_the_same_click_sent_again_after_it_was_decided_changes_nothing(bot: Bot) -> None:
    """A click Slack sends again after it was handled (its ack lost on the way, a Socket Mode
    envelope resent after a drop) is the same answer: acked, no second decision, and no note
    telling its clicker their own answer was already given; a new click is told."""
    message = await start_without_form(bot, "considered")
    assert (await bot.click(message, "lockstep_submit", "UBOB", trigger="t-once"))[0] == 200
    await bot.slack.until(lambda: "by <@UBOB>" in current(bot, message)["text"])
    again = await bot.click(message, "lockstep_submit", "UBOB", trigger="t-once", retry=1)
    assert again[0] == 200
    await bot.lockstep.handlers.drain()
    assert not bot.slack.calls_to("chat.postEphemeral")
    [run] = await bot.lockstep.store.executions()
    assert [e.actor for e in await bot.lockstep.store.events(run.id) if e.kind == "lease"] == [
        "UBOB"
    ]
    await bot.click(message, "lockstep_submit", "UBOB", trigger="t-later")  # a click of its own
    [told] = await bot.slack.wait_for("chat.postEphemeral")
    assert "Already answered by <@UBOB>" in told.args["text"]
