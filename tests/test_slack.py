"""The Slack surface end to end: signed requests in, recorded Web API calls out."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.fake.signing import interaction_body, slash_command_body
from bot.render import home, messages
from flows import Request
from flows.engine import FakeClock
from store import SQLStore
from tests import slack_flows
from tests.slackbot import (
    CHANNEL,
    Bot,
    assert_valid_surfaces,
    checked,
    chosen,
    fields,
    input_value,
    running_bot,
    start_without_form,
)


def lock_message(bot: Bot, parent_ts: str, title: str) -> dict:
    thread = bot.slack.thread(CHANNEL, parent_ts)
    return next(
        m for m in thread if m.get("blocks") and m["blocks"][0].get("text", {}).get("text") == title
    )


async def test_document_review_from_slash_command_to_result(bot: Bot) -> None:
    slack = bot.slack
    status, body = await bot.command('start review document="Q3 plan"')
    assert (status, body) == (200, "")
    [opened] = await slack.wait_for("views.open")
    view = opened.response["view"]
    assert view["callback_id"] == "lockstep_entry"
    doc = next(b for b in view["blocks"] if b.get("block_id") == "f_document")
    assert doc["element"]["initial_value"] == "Q3 plan"  # prefilled from the command

    # the entry modal: a missing required field comes back inside the modal
    status, body = await bot.submit_view(view, input_value("document", ""), "UALICE")
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"f_document": "This field is required."},
    }
    status, body = await bot.submit_view(view, input_value("document", "Q3 plan"), "UALICE")
    assert (status, body) == (200, "")

    await slack.wait_for("chat.postMessage", count=3)  # parent, progress, first lock
    [parent] = slack.messages(CHANNEL)
    assert "started by <@UALICE>" in parent["text"]
    await slack.wait_for("chat.update", count=1)
    content = lock_message(bot, parent["ts"], "Content review")
    inputs = {b["block_id"]: b for b in content["blocks"] if b["type"] == "input"}
    assert (inputs["f_score"]["optional"], inputs["f_comments"]["optional"]) == (False, True)
    assert inputs["f_score"]["label"]["text"] == "Score (1 to 5)"  # Block Kit marks it, no star
    assert "*Content review*" not in json.dumps(content["blocks"])  # the title shows once

    # a failed validation: the message keeps the values and shows the error; a private note
    status, _ = await bot.click(content, "lockstep_submit", "UBOB", input_value("score", "2"))
    assert status == 200
    [note] = [c.args for c in await slack.wait_for("chat.postEphemeral")]
    assert note["user"] == "UBOB" and "Please explain a score below 3." in note["text"]
    await bot.lockstep.engine.idle()
    content = lock_message(bot, parent["ts"], "Content review")
    comments = next(b for b in content["blocks"] if b.get("block_id") == "f_comments")
    assert "Please explain a score below 3." in comments["hint"]["text"]
    score = next(b for b in content["blocks"] if b.get("block_id") == "f_score")
    assert score["element"]["initial_value"] == "2"

    # fixed: the lock shows who decided, the next lock is posted in the thread
    values = {**input_value("score", "2"), **input_value("comments", "Needs work on the intro")}
    await bot.click(content, "lockstep_submit", "UBOB", values)
    await slack.wait_for("chat.postMessage", count=5)  # + progress, final lock
    decided = next(m for m in slack.thread(CHANNEL, parent["ts"]) if m["ts"] == content["ts"])
    assert "✅ Approved by <@UBOB> · <!date^" in decided["text"]  # each reader's local time
    assert not any(b["type"] == "actions" for b in decided["blocks"])
    # the answer itself, under the labels the reviewer saw
    assert fields(decided) == {"Score (1 to 5)": "2", "Comments": "Needs work on the intro"}

    # a late click on the decided lock changes nothing and says who decided
    await bot.click(content, "lockstep_submit", "UCAROL", values)
    late = await slack.wait_for("chat.postEphemeral", count=2)
    assert late[-1].args["text"].startswith("Already answered by <@UBOB> (<!date^")

    final = lock_message(bot, parent["ts"], "Final review")
    await bot.click(final, "lockstep_submit", "UCAROL", checked("publish"))
    posts = await slack.wait_for("chat.postMessage", count=6)
    assert posts[-1].args["text"].startswith("✅ *Approved* by <@UCAROL> · <!date^")
    assert fields(posts[-1].args) == {
        "Document (title or link)": "Q3 plan",
        "Score (1 to 5)": "2",
        "Published": "Yes",
    }
    [parent] = slack.messages(CHANNEL)
    assert parent["text"].endswith("✅ approved by <@UCAROL>")
    assert assert_valid_surfaces(slack) >= 8


async def test_bad_signatures_and_malformed_payloads_change_nothing(bot: Bot) -> None:
    body = slash_command_body("/flow", "start deploy", user_id="U1", channel_id=CHANNEL)
    assert (await bot.post(body, secret="wrong"))[0] == 401
    assert (await bot.post(body, timestamp=int(time.time()) - 600))[0] == 401
    assert (await bot.post(interaction_body({"type": "block_actions", "actions": []})))[0] == 400
    assert (await bot.post(b"payload=%7Bnot+json"))[0] == 400
    assert bot.slack.calls_to("views.open") == []
    assert await bot.lockstep.store.executions() == []


async def test_commands_answer_privately(bot: Bot) -> None:
    """A command's answer is the HTTP response to it: Slack shows it to the caller only."""
    status, body = await bot.command("list")
    assert status == 200 and "`review`: Document review" in body
    assert body.count("•") == 15
    assert "/flow start &lt;name&gt;" in (await bot.command("frobnicate"))[1]
    assert "no flow called `nope`" in (await bot.command("start nope"))[1]
    assert "not started any runs" in (await bot.command("status"))[1]
    assert "write inputs as `key=value`" in (await bot.command("start review oops"))[1]


async def test_cancel_is_for_the_initiator_only(bot: Bot) -> None:
    await bot.command("start deploy")
    [opened] = await bot.slack.wait_for("views.open")
    values = {**input_value("service", "api"), **input_value("version", "1.2.3")}
    await bot.submit_view(opened.response["view"], values, "UALICE")
    await bot.slack.wait_for("chat.postMessage", count=2)  # parent, approval lock
    [execution] = await bot.lockstep.store.executions()
    await bot.lockstep.engine.settled(execution.id)
    assert "Only <@UALICE>" in (await bot.command(f"cancel {execution.id}", user="UBOB"))[1]
    assert "is cancelled" in (await bot.command(f"cancel {execution.id}", user="UALICE"))[1]
    assert "already ended" in (await bot.command(f"cancel {execution.id}", user="UALICE"))[1]
    await bot.slack.wait_for("chat.postMessage", count=3)
    [parent] = bot.slack.messages(CHANNEL)
    assert "🚫 cancelled" in parent["text"]
    thread = bot.slack.thread(CHANNEL, parent["ts"])
    [lock] = [m for m in thread if m["text"].startswith("Deploy approval:")]
    assert "Cancelled with its run" in lock["text"]
    assert thread[-1]["text"].startswith("🚫 *Cancelled* by <@UALICE>")
    assert parent["text"].endswith("🚫 cancelled by <@UALICE>")
    status = (await bot.command(f"status {execution.id}", user="UBOB"))[1]
    assert "cancelled by <@UALICE>" in status and "started by <@UALICE>" in status


async def test_a_form_too_big_for_a_message_opens_as_a_modal(bot: Bot) -> None:
    message = await start_without_form(bot, "survey")
    assert not any(b["type"] == "input" for b in message["blocks"])
    await bot.click(message, "lockstep_open", "UBOB")
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.response["view"]
    assert view["callback_id"] == "lockstep_lock" and len(view["blocks"]) == 60
    status, body = await bot.submit_view(view, input_value("q1", "only the second"), "UBOB")
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"f_q0": "This field is required."},
    }
    status, body = await bot.submit_view(view, input_value("q0", "first"), "UBOB")
    assert (status, body) == (200, "")
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert fields(done[-1].args) == {"Question 0": "first"}
    assert view["close"]["text"] == "Close"  # closing it decides nothing
    status, body = await bot.submit_view(view, input_value("q0", "again"), "UCAROL")
    assert json.loads(body)["response_action"] == "update"
    assert "Already answered by <@UBOB>" in json.dumps(json.loads(body)["view"])
    assert_valid_surfaces(bot.slack)


async def test_open_form_tells_someone_who_may_not_answer_at_once(bot: Bot) -> None:
    """An outsider's "Open form" opens no modal: a private note says the form is not theirs,
    as the Home's Answer does; a member of the channel gets the form."""
    message = await start_without_form(bot, "survey")
    await bot.click(message, "lockstep_open", "UOUTSIDER")
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert (note.args["user"], note.args["text"]) == ("UOUTSIDER", messages.NOT_YOURS)
    # not in the channel, Slack takes no ephemeral for them there: the note is a modal
    [told] = await bot.slack.wait_for("views.open")
    assert told.args["view"]["blocks"][0]["text"]["text"] == messages.NOT_YOURS
    await bot.click(message, "lockstep_open", "UBOB")
    opened = (await bot.slack.wait_for("views.open", count=2))[-1]
    assert opened.response["view"]["callback_id"] == "lockstep_lock"


async def test_a_crashing_lease_answers_with_an_error_id_and_keeps_the_lock(bot: Bot) -> None:
    message = await start_without_form(bot, "fragile")
    await bot.click(message, "lockstep_submit", "UBOB", input_value("x", "boom"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert "error id `" in note.args["text"] and "hunter2" not in note.args["text"]
    assert all("hunter2" not in json.dumps(c.args) for c in bot.slack.calls)
    await bot.click(message, "lockstep_submit", "UBOB", input_value("x", "fine"))
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert done[-1].args["text"].startswith("✅ *Finished* · ")  # an answer, not an approval
    assert fields(done[-1].args) == {"X": "fine"}


async def test_a_refused_modal_without_fields_can_be_sent_again(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A form with no fields is refused by showing the modal again with the reason on top;
    that modal is still the bot's own, so sending it again answers the lock."""
    monkeypatch.setitem(slack_flows.TURNSTILE, "open", False)
    message = await start_without_form(bot, "turnstile")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    answer = {"type": "button", "action_id": home.ANSWER_ACTION, "value": lock_id}
    bobs_home = {"id": "VHOME", "blocks": [{"type": "section", "accessory": answer}]}
    await bot.click_view(bobs_home, home.ANSWER_ACTION, lock_id, "UBOB")  # Answer, on his Home
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.response["view"]
    status, body = await bot.submit_view(view, {}, "UBOB")
    refused = json.loads(body)
    assert refused["response_action"] == "update"
    assert "The turnstile is closed" in json.dumps(refused["view"]["blocks"])
    assert View(**refused["view"]).to_dict() == refused["view"]
    monkeypatch.setitem(slack_flows.TURNSTILE, "open", True)
    status, body = await bot.submit_view(refused["view"] | {"id": view["id"]}, {}, "UBOB")
    assert (status, body) == (200, "")
    decided = await bot.lockstep.engine.lock(lock_id)
    assert decided is not None and (decided.status, decided.result) == ("resolved", "through")


async def test_when_slack_does_not_say_who_may_answer_nothing_is_decided_in_time(
    bot: Bot,
) -> None:
    """Who may answer is asked of Slack (the channel's members). After a button's ack, Slack
    failing is a private note; before a modal's ack, which Slack wants within 3 s, Slack
    failing or slow is said in time. Either way nothing is decided, and the same answer works
    once Slack answers."""
    fragile = await started_from_code(bot, "fragile")
    bot.slack.fail_next("conversations.members", status=503)
    await bot.click(fragile, "lockstep_submit", "UBOB", input_value("x", "fine"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert (note.args["user"], note.args["text"]) == ("UBOB", messages.NO_ANSWER)
    assert (await bot.lockstep.engine.lock(lock_of(fragile))).open  # type: ignore[union-attr]

    survey = await started_from_code(bot, "survey")
    bot.slack.fail_next("conversations.members", status=500)  # the form opens all the same
    await bot.click(survey, "lockstep_open", "UBOB")
    [opened] = await bot.slack.wait_for("views.open")
    view, answer = opened.response["view"], input_value("q0", "first")
    bot.slack.fail_next("conversations.members", status=500)
    status, body = await bot.submit_view(view, answer, "UBOB")
    assert status == 200 and messages.NO_ANSWER in body
    bot.slack.hang_next("conversations.members", 3)
    begin = time.monotonic()
    status, body = await bot.submit_view(view, answer, "UBOB")
    assert time.monotonic() - begin < 2.8 and status == 200  # before Slack answers, at 3 s
    assert json.loads(body)["response_action"] == "errors" and messages.NO_ANSWER in body
    assert (await bot.lockstep.engine.lock(lock_of(survey))).open  # type: ignore[union-attr]

    # the Home's chooser: the channel's members are unknown, so nothing starts
    await bot.shortcut(home.START_SHORTCUT, "UCAROL")
    chooser = (await bot.slack.wait_for("views.open", count=2))[-1].response["view"]
    bot.slack.fail_next("conversations.members", error="fatal_error")
    status, body = await bot.submit_view(chooser, chosen("turnstile", "CELSEWHERE"), "UCAROL")
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {home.CHOOSE_CHANNEL: messages.NO_ANSWER},
    }

    await asyncio.sleep(max(0.0, begin + 3.5 - time.monotonic()))  # Slack has answered
    assert await bot.submit_view(view, answer, "UBOB") == (200, "")
    assert not (await bot.lockstep.engine.lock(lock_of(survey))).open  # type: ignore[union-attr]


async def started_from_code(bot: Bot, flow: str) -> dict[str, Any]:
    """A run of ``flow`` started from code, not ``/flow start`` (which asks Slack who is in
    the channel, and caches it): its first lock's message."""
    before = len(bot.slack.calls_to("chat.postMessage"))
    await bot.lockstep.engine.start(flow, request=Request(flow, "UALICE", {"channel": CHANNEL}))
    await bot.slack.wait_for("chat.postMessage", count=before + 2)
    parent = bot.slack.messages(CHANNEL)[-1]
    return next(m for m in bot.slack.thread(CHANNEL, parent["ts"]) if m["ts"] != parent["ts"])


def lock_of(message: dict[str, Any]) -> str:
    """The lock a message's buttons name."""
    return str(message["blocks"][-1]["elements"][0]["value"])


async def test_a_click_whose_handling_fails_after_the_ack_is_told_so(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack failing a call of the reply is Slack's trouble, not a bug: the person is told,
    and the log has one warning line, no error with a traceback."""
    message = await start_without_form(bot, "survey")
    bot.slack.fail_next("views.open", status=500, times=2)  # Slack fails, and the retry too
    assert (await bot.click(message, "lockstep_open", "UBOB"))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert (note.args["user"], note.args["text"]) == ("UBOB", messages.SLACK_FAILED)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    [line] = [r.getMessage() for r in caplog.records if "did not reach Slack" in r.getMessage()]
    assert line == "a reply to UBOB's request did not reach Slack: Slack answered internal_error"
    assert (await bot.lockstep.engine.lock(message["blocks"][-1]["elements"][0]["value"])).open


async def test_slack_refusing_what_the_bot_asked_is_a_fault_with_an_error_id(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack answering that the request was wrong (``invalid_arguments``) fails the same way
    every time: a fault of the bot's, reported with an error id, not "try again"."""
    message = await start_without_form(bot, "survey")
    bot.slack.fail_next("views.open", error="invalid_arguments")
    assert (await bot.click(message, "lockstep_open", "UBOB"))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert "went wrong" in note.args["text"] and "error id `" in note.args["text"]
    assert [r for r in caplog.records if r.exc_info]


async def test_a_trigger_that_expired_before_the_modal_opened_is_try_again(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A trigger lasts 3 s: one that expired before ``views.open`` (a busy moment) is not the
    bot's fault, and clicking again works: one warning line and "try again", no traceback."""
    message = await start_without_form(bot, "survey")
    bot.slack.fail_next("views.open", error="expired_trigger_id")
    assert (await bot.click(message, "lockstep_open", "UBOB"))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"] == messages.SLACK_FAILED
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("code", ["exchanged_trigger_id", "invalid_trigger_id"])
async def test_a_trigger_used_already_or_never_given_is_one_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    """A trigger Slack says was used already (Slack sending a request again whose ack came
    late, or a request replayed) or never given (made up): no modal opens, and it is the
    request's doing, not a bug of the bot's: one warning line, no traceback, no note saying
    something went wrong (where a first request opened the modal already)."""
    message = await start_without_form(bot, "survey")
    bot.slack.fail_next("views.open", error=code)
    caplog.set_level(logging.INFO)
    assert (await bot.click(message, "lockstep_open", "UBOB"))[0] == 200
    await bot.lockstep.handlers.drain()
    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [m for m in caplog.messages if code in m] == [
        f"Slack opened no view for UBOB's request: {code}"
    ]


async def test_a_click_whose_handling_breaks_is_told_an_error_id(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    message = await start_without_form(bot, "survey")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.lockstep.engine, "lock", broken)
    assert (await bot.click(message, "lockstep_open", "UBOB"))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["user"] == "UBOB" and "went wrong" in note.args["text"]
    error_id = note.args["text"].split("`")[1]
    [logged] = [r for r in caplog.records if r.exc_info]
    assert logged.getMessage() == f"handling a Slack request failed (error id {error_id})"


async def test_form_values_slack_would_never_send_are_refused(bot: Bot) -> None:
    message = await start_without_form(bot, "fragile")
    broken = {"f_x": {"x": {"type": "plain_text_input", "value": ["not", "text"]}}}
    assert (await bot.click(message, "lockstep_submit", "UBOB", broken))[0] == 400
    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert (await bot.lockstep.engine.lock(message["blocks"][-1]["elements"][0]["value"])).open


async def test_double_clicks_and_slack_retries_resolve_once(bot: Bot) -> None:
    message = await start_without_form(bot, "fragile")
    values = input_value("x", "once")
    first, second = await asyncio.gather(
        bot.click(message, "lockstep_submit", "UBOB", values),
        bot.click(message, "lockstep_submit", "UBOB", values, retry=1),
    )
    assert first[0] == second[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"].startswith("Already answered by <@UBOB>")
    [execution] = await bot.lockstep.store.executions()
    leases = [e for e in await bot.lockstep.store.events(execution.id) if e.kind == "lease"]
    assert len(leases) == 1


async def test_rate_limits_are_retried(bot: Bot) -> None:
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=0)
    message = await start_without_form(bot, "fragile", failures=1)
    assert message["blocks"]
    statuses = [c.status for c in bot.slack.calls_to("chat.postMessage")]
    assert statuses == [429, 200, 200]


@pytest.mark.parametrize("refusal", ["not_in_channel", "is_archived"])
async def test_a_channel_that_refuses_the_bot_is_no_outage_and_shows_once_it_takes_it(
    db_url: str, store: SQLStore, refusal: str
) -> None:
    """The bot not invited yet (or the channel archived): the run's message is refused. It is
    no outage (nothing counts as waiting for readiness, other runs go as usual); it is tried
    again with the usual backoff, so once the bot is invited, the run and its form appear."""
    clock = FakeClock(time.time())
    async with running_bot(db_url, clock) as bot:
        bot.slack.fail_next("chat.postMessage", error=refusal, times=2)
        assert (await bot.command("start fragile"))[0] == 200
        await bot.lockstep.handlers.drain()
        [refused] = await bot.lockstep.store.executions()
        await bot.lockstep.engine.settled(refused.id)
        await asyncio.sleep(0.2)
        assert await bot.lockstep.engine.backlog() == (0, None)  # readiness: nothing behind
        clock.advance(1.5)  # the first try again: refused again, still no outage
        await bot.lockstep.engine.sweep()
        await asyncio.sleep(0.2)
        assert await bot.lockstep.engine.backlog() == (0, None)
        message = await start_without_form(bot, "fragile")  # another run goes as usual
        assert message["blocks"]
        tries = [c.response.get("error") for c in bot.slack.calls_to("chat.postMessage")]
        assert tries == [refusal, refusal, None, None]
        clock.advance(3)  # the bot was invited meanwhile: its next try goes through
        await bot.lockstep.engine.sweep()
        await bot.slack.wait_for("chat.postMessage", count=6)
        parents = bot.slack.messages(CHANNEL)
        assert len(parents) == 2 and all(
            len(bot.slack.thread(CHANNEL, p["ts"])) == 2 for p in parents
        )


async def test_messages_slack_refused_are_posted_later_exactly_once(
    db_url: str, store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(time.time())
    async with running_bot(db_url, clock) as bot:
        engine, slack = bot.lockstep.engine, bot.slack
        slack.fail_next("chat.postMessage", status=500, times=2)
        slack.fail_next("chat.postMessage", status=429, retry_after=30)
        eid = await engine.start("fragile", {}, Request("fragile", "UALICE", {"channel": CHANNEL}))
        await engine.settled(eid)
        attempts = [c.status for c in slack.calls_to("chat.postMessage")]
        assert attempts == [500]  # the run's message failed; its lock waits behind it
        for seconds in (1, 2):  # backing off: 1 s, then 2 s
            clock.advance(seconds)
            await engine.sweep()
            await engine.idle()
        assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 500, 429]
        clock.advance(29)  # Slack said: again in 30 s
        await engine.sweep()
        await engine.idle()
        assert len(slack.calls_to("chat.postMessage")) == 3
        clock.advance(1)
        await engine.sweep()
        await engine.idle()
        [parent] = slack.messages(CHANNEL)
        [_, lock] = slack.thread(CHANNEL, parent["ts"])
        assert lock["blocks"] and await engine.backlog() == (0, None)
        assert len([c for c in slack.calls_to("chat.postMessage") if c.ok]) == 2
    failed = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert len(failed) == 3 and all("\n" not in line for line in failed), failed  # a line each


async def test_health_check(bot: Bot) -> None:
    async with bot.http.get(bot.url.replace("/slack/events", "/healthz")) as response:
        assert response.status == 200 and await response.json() == {"ok": True}


async def start_deploy(bot: Bot) -> dict[str, Any]:
    await bot.command("start deploy service=api version=1.2.3")
    [opened] = await bot.slack.wait_for("views.open")
    values = {**input_value("service", "api"), **input_value("version", "1.2.3")}
    await bot.submit_view(opened.response["view"], values, "UALICE")
    await bot.slack.wait_for("chat.postMessage", count=2)
    parent = bot.slack.messages(CHANNEL)[-1]
    return bot.slack.thread(CHANNEL, parent["ts"])[-1]


async def test_cancel_button_is_a_recorded_rejection(bot: Bot) -> None:
    lock = await start_deploy(bot)
    await bot.click(lock, "lockstep_cancel", "UBOB")
    posts = await bot.slack.wait_for("chat.postMessage", count=4)  # + warning, result
    assert "api 1.2.3 will not be deployed." in posts[-2].args["text"]
    # a rejected deploy reads as rejected, not finished: in the thread, the result and the parent
    assert posts[-1].args["text"].startswith("🚫 *Rejected* by <@UBOB>")
    assert fields(posts[-1].args) == {"Deployed": "No"}
    [parent] = bot.slack.messages(CHANNEL)
    assert parent["text"].endswith("🚫 rejected by <@UBOB>")
    decided = next(m for m in bot.slack.thread(CHANNEL, lock["thread_ts"]) if m["ts"] == lock["ts"])
    assert "Rejected by <@UBOB>" in decided["text"]
    [execution] = await bot.lockstep.store.executions()
    rejected = [e for e in await bot.lockstep.store.events(execution.id) if e.kind == "rejected"]
    assert [e.actor for e in rejected] == ["UBOB"]


async def test_a_click_on_an_expired_lock_says_so(db_url: str, store: SQLStore) -> None:
    clock = FakeClock(time.time())
    async with running_bot(db_url, clock) as bot:
        await _click_on_an_expired_lock(bot, clock)


async def _click_on_an_expired_lock(bot: Bot, clock: FakeClock) -> None:
    lock = await start_deploy(bot)
    [execution] = await bot.lockstep.store.executions()
    await bot.lockstep.engine.settled(execution.id)  # its lock message is posted
    [timer] = await bot.lockstep.store.due_timers(execution.created_at + 3601)
    assert await bot.lockstep.engine.fire([timer]) == 0  # not due yet: nothing happens
    assert (await bot.lockstep.store.due_timers(execution.created_at + 3601)) == [timer]
    clock.advance(3601)
    assert await bot.lockstep.engine.fire([timer]) == 1
    await bot.lockstep.engine.settled(execution.id)
    expired = next(m for m in bot.slack.thread(CHANNEL, lock["thread_ts"]) if m["ts"] == lock["ts"])
    assert "⌛ Expired with no answer · <!date^" in expired["text"]
    await bot.click(lock, "lockstep_submit", "UBOB", input_value("comment", "late"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"].startswith("This expired with no answer (<!date^")
    ending = bot.slack.thread(CHANNEL, lock["thread_ts"])[-1]
    assert ending["text"].startswith("⌛ *Expired*: *Deploy approval* had no answer")
    [parent] = bot.slack.messages(CHANNEL)
    assert parent["text"].endswith("⌛ expired: *Deploy approval* had no answer")


async def test_only_approvers_may_decide_and_outsiders_are_told_who_may(bot: Bot) -> None:
    message = await start_without_form(bot, "vetted")
    await bot.click(message, "lockstep_submit", "UOUTSIDER", input_value("x", "mine"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["user"] == "UOUTSIDER"
    assert note.args["text"] == "Only <@UAPPROVER> or <!subteam^SREVIEW> can decide this."
    await bot.click(message, "lockstep_cancel", "UOUTSIDER")
    await bot.slack.wait_for("chat.postEphemeral", count=2)
    [execution] = await bot.lockstep.store.executions()
    assert (await bot.lockstep.store.execution(execution.id)).status == "awaiting"
    await bot.click(message, "lockstep_submit", "UGROUPIE", input_value("x", "ok"))  # in SREVIEW
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert done[-1].args["text"].startswith("✅ *Approved* by <@UGROUPIE>")
    events = [(e.kind, e.actor) for e in await bot.lockstep.store.events(execution.id)]
    assert events.count(("refused", "UOUTSIDER")) == 2 and ("lease", "UGROUPIE") in events


async def test_an_approval_prompt_rejected_with_a_comment(bot: Bot) -> None:
    message = await start_without_form(bot, "ship")
    assert message["blocks"][0]["text"]["text"] == "Approval"
    await bot.click(message, "lockstep_cancel", "UBOB", input_value("comment", "not on Friday"))
    done = await bot.slack.wait_for("chat.postMessage", count=3)
    assert done[-1].args["text"].startswith("🚫 *Rejected* by <@UBOB>")
    assert fields(done[-1].args) == {"Comment": "not on Friday", "Result": "No"}
    decided = next(
        m for m in bot.slack.thread(CHANNEL, message["thread_ts"]) if m["ts"] == message["ts"]
    )
    assert "Rejected by <@UBOB>" in decided["text"] and fields(decided) == {
        "Comment": "not on Friday"
    }


HOSTILE = "<!channel> *now* <https://evil.example|your bank> <@U0BOSS>"


def live_texts(args: dict[str, Any]) -> list[str]:
    """Every text of a Web API call that Slack parses: ``text`` and mrkdwn text objects."""

    def walk(node: Any) -> list[str]:
        if isinstance(node, list):
            return [t for item in node for t in walk(item)]
        if not isinstance(node, dict):
            return []
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for value in node.values() for t in walk(value)]

    top = [args["text"]] if isinstance(args.get("text"), str) else []
    return top + walk(args.get("blocks", [])) + walk(args.get("view", {}))


async def test_what_people_type_shows_as_typed_and_pings_no_one(bot: Bot) -> None:
    await bot.command("start review")
    [opened] = await bot.slack.wait_for("views.open")
    await bot.submit_view(opened.response["view"], input_value("document", HOSTILE), "UALICE")
    await bot.slack.wait_for("chat.postMessage", count=3)  # parent, progress, content review
    [parent] = bot.slack.messages(CHANNEL)
    content = lock_message(bot, parent["ts"], "Content review")
    answer = {**input_value("score", "4"), **input_value("comments", HOSTILE)}
    await bot.click(content, "lockstep_submit", "UBOB", answer)
    final = await bot.slack.wait_for("chat.postMessage", count=5)
    await bot.click(final[-1].response["message"], "lockstep_cancel", "UCAROL", {})
    await bot.slack.wait_for("chat.postMessage", count=6)
    decided = next(m for m in bot.slack.thread(CHANNEL, parent["ts"]) if m["ts"] == content["ts"])
    assert fields(decided)["Comments"] == HOSTILE  # plain text: exactly as typed
    for call in bot.slack.calls:
        for text in live_texts(call.args):
            assert "<!channel>" not in text and "<https://evil" not in text, (call.method, text)
            assert "<@U0BOSS>" not in text, (call.method, text)
    thread = bot.slack.thread(CHANNEL, parent["ts"])
    assert any("&lt;!channel&gt;" in m["text"] for m in thread)  # quoted, escaped
    assert assert_valid_surfaces(bot.slack) >= 6


async def cancel_and_see(bot: Bot, lock: dict[str, Any]) -> None:
    """Cancel the run with ``/flow cancel``; wait until its lock's thread says so."""
    [execution] = await bot.lockstep.store.executions()
    assert (await bot.command(f"cancel {execution.id[:8]}"))[0] == 200
    await bot.slack.until(
        lambda: any(
            "Cancelled with its run" in m["text"]
            for m in bot.slack.thread(CHANNEL, lock["thread_ts"])
        )
    )


async def test_a_message_deleted_in_slack_is_posted_again_at_its_next_update(bot: Bot) -> None:
    lock = await start_deploy(bot)
    bot.slack.delete(CHANNEL, lock["ts"])
    await cancel_and_see(bot, lock)
    failed = [
        c
        for c in bot.slack.calls_to("chat.update")
        if c.response.get("error") == "message_not_found"
    ]
    assert [c.args["ts"] for c in failed] == [lock["ts"]]
    reposted = bot.slack.thread(CHANNEL, lock["thread_ts"])[-1]
    assert reposted["ts"] != lock["ts"] and "Cancelled with its run" in reposted["text"]
    await bot.lockstep.engine.idle()
    assert await bot.lockstep.store.backlog(time.time()) == (0, None)


async def test_an_update_slack_says_it_cannot_find_is_looked_for_before_posting_again(
    bot: Bot,
) -> None:
    """Slack answers ``message_not_found`` to an update of a message that is still there (a
    moment's fault): the message is looked for by its metadata before it is posted again, so
    the lock's form is not left in the thread with its buttons beside a second copy."""
    lock = await start_deploy(bot)
    bot.slack.fail_next("chat.update", error="message_not_found")
    await cancel_and_see(bot, lock)
    await bot.lockstep.engine.idle()
    thread = bot.slack.thread(CHANNEL, lock["thread_ts"])
    locks = [m for m in thread if m["metadata"]["event_payload"]["key"].startswith("lock:")]
    assert [m["ts"] for m in locks] == [lock["ts"]]  # updated where it is, not posted again
    assert "Cancelled with its run" in locks[0]["text"]
    parent = lock["thread_ts"]  # its update that failed goes again, where it is

    def parent_cancelled() -> bool:
        return any(
            c.ok and c.args["ts"] == parent and "cancelled" in c.args.get("text", "").lower()
            for c in bot.slack.calls_to("chat.update")
        )

    await bot.slack.until(parent_cancelled, timeout=10)  # after the failure's backoff
    await bot.lockstep.engine.idle()
    [shown] = bot.slack.messages(CHANNEL)
    assert shown["ts"] == parent and "cancelled" in shown["text"].lower()
    posts = bot.slack.calls_to("chat.postMessage")
    posted = [c.args["metadata"]["event_payload"]["key"] for c in posts]
    assert len(posted) == len(set(posted))
    assert await bot.lockstep.store.backlog(time.time()) == (0, None)
