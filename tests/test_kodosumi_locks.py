"""The compatibility suite, continued: locks and leases as kodosumi's guides and tests use
them, dates and passwords, every kind of output, and the failures a person must see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.models.views import View

from bot.loading import load_flows
from bot.render import messages, surfaces
from bot.settings import SettingsError
from flows import Request, response
from flows.engine import Engine, FakeClock, RecordingNotifier
from store import SQLStore
from tests.kodosumi_apps import execution as execution_app
from tests.kodosumi_apps import launches, twins
from tests.kodosumi_slack import (
    block,
    box,
    click,
    day,
    ending,
    kodosumi_bot,
    merged,
    number,
    open_entry,
    open_lock,
    settled,
    started,
    submit,
    text,
    texts,
    thread,
)
from tests.reading import calls
from tests.slackbot import Bot, assert_valid_surfaces, running_bot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with kodosumi_bot(db_url) as running:
        yield running


async def test_lock_handlers_without_parameters_leases_echoing_and_action_buttons(
    bot: Bot,
) -> None:
    run = await started(bot, "execution-test", text("name", "Ann"))
    assert texts(bot, run)[:2] == ["runner started", "```hello from print```"]
    first = open_lock(bot, run)
    assert first["blocks"][0] == {  # the form's heading is its title, shown once
        "type": "header",
        "text": {"type": "plain_text", "text": "hello world"},
    }
    run = await click(bot, run, text("note", "hi"))
    assert execution_app.leased[-1] == {"note": "hi"}  # kodosumi's values, as submitted
    second = open_lock(bot, run)
    buttons = [e["text"]["text"] for b in second["blocks"] if b["type"] == "actions"
               for e in b["elements"]]  # fmt: skip
    assert buttons == ["ok", "Go left", "Go right"]
    run = await click(bot, run, action="lockstep_action.2")  # "Go right"
    assert run.status == "finished"
    assert run.result == {
        "lock-result": {"phase": "lease-1", "inputs": {"note": "hi"}},
        "second": {"choice": "right"},
    }


async def test_a_click_naming_no_action_button_of_the_form_changes_nothing(bot: Bot) -> None:
    """Slack sends back the buttons the bot drew; a crafted index that names no ``Action`` of
    the stored form (another element, or none) is refused, not taken for Submit."""
    run = await started(bot, "execution-test", text("name", "Ann"))
    run = await click(bot, run, text("note", "hi"))
    second = open_lock(bot, run)
    for index in (0, 99):
        crafted = json.loads(json.dumps(second))
        for b in crafted["blocks"]:
            for e in b.get("elements", []) if b["type"] == "actions" else []:
                if e["action_id"] == "lockstep_action.2":
                    e["action_id"] = f"lockstep_action.{index}"
        assert (await bot.click(crafted, f"lockstep_action.{index}", "UBOB"))[0] == 200
        assert bot.lockstep is not None
        await bot.lockstep.handlers.drain()
    found = await bot.lockstep.engine.execution(run.id)
    assert found is not None and found.status == "awaiting"
    notes = [n["text"] for n in bot.slack.ephemerals("UBOB")]
    assert notes[-2:] == [messages.NOT_THIS_MESSAGE] * 2
    run = await click(bot, run, action="lockstep_action.2")  # the real one still works
    assert run.status == "finished"


async def test_a_lease_validating_a_keyword_named_checkbox_keeps_the_lock_open(bot: Bot) -> None:
    run = await started(bot, "much/deeper", text("name", "x"))  # a sync enter handler
    form = open_lock(bot, run)
    assert form["blocks"][1]["text"]["text"] == "Started by UALICE; data is None"
    run = await click(bot, run, merged(box("continue", False), text("name", "no")))
    [note] = bot.slack.ephemerals("UBOB")
    assert "You must tick continue" in note["text"] and "Name must be yes" in note["text"]
    assert "You must tick continue" in block(open_lock(bot, run), "continue")["hint"]["text"]
    run = await click(bot, run, merged(box("continue", True), text("name", "yes")))
    assert run.status == "finished"
    assert run.result == {"continue": True, "name": "yes", "by": "UBOB"}


async def test_a_lock_past_its_timeout_ends_the_run_with_a_timeout_error(
    db_url: str, store: SQLStore
) -> None:
    clock = FakeClock(time.time())
    async with kodosumi_bot(db_url, clock) as bot:
        await _a_lock_past_its_timeout(bot, clock)


async def _a_lock_past_its_timeout(bot: Bot, clock: FakeClock) -> None:
    view = await open_entry(bot, "timeout")
    assert view["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Nothing to fill in."}}
    ]
    run = await started(bot, "timeout", {})
    assert run.inputs is None  # Launch without inputs hands the flow None, as kodosumi
    engine = bot.lockstep.engine  # type: ignore[union-attr]
    [lock] = [c for c in await bot.lockstep.store.calls(run.id) if c.kind == "lock"]  # type: ignore[union-attr]
    assert lock.deadline == pytest.approx(lock.created_at + 3)
    clock.advance(4)
    await engine.fire_due()
    await engine.settled(run.id)
    ended = await engine.execution(run.id)
    assert ended and ended.status == "error" and "LockExpired" in (ended.error or "")
    line, _ = ending(bot, ended)
    assert line.startswith("⌛ *Expired*") or line.startswith("❌ *Failed*"), line
    assert "*Lock timeout*" in line


async def test_a_rejection_by_action_button_reads_as_the_answer_it_is(
    db_url: str, store: SQLStore
) -> None:
    """kodosumi apps approve or reject with ``Action`` buttons (Cancel only goes back): the
    buttons are the form's own (no Submit added), and pressing Reject is no "Approved by"."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.decisions") as bot:
        view = await open_entry(bot, "go-no-go")
        assert await submit(bot, view, text("service", "api")) is None
        run = await settled(bot)
        [actions] = [b for b in open_lock(bot, run)["blocks"] if b["type"] == "actions"]
        buttons = {e["text"]["text"]: e["action_id"] for e in actions["elements"]}
        assert list(buttons) == ["Back", "Approve", "Reject"]
        run = await click(bot, run, text("reason", "tests red"), action=buttons["Reject"])
        assert run.result == {"deployed": False, "reason": "tests red"}
        said = texts(bot, run)
        assert not any("Approved" in s for s in said), said
        assert ending(bot, run)[0].startswith("✅ *Finished*")


async def test_a_timeout_the_flow_catches_ends_as_the_flow_does(
    db_url: str, store: SQLStore
) -> None:
    """kodosumi: an expired lock raises ``TimeoutError``; a flow that catches it goes on, so
    its run reads as finished, not expired."""
    clock = FakeClock(time.time())
    async with running_bot(db_url, clock, flows="tests.kodosumi_apps.decisions") as bot:
        view = await open_entry(bot, "patient")
        assert await submit(bot, view, {}) is None
        run = await settled(bot)
        clock.advance(6)
        await bot.lockstep.engine.fire_due()  # type: ignore[union-attr]
        await bot.lockstep.engine.settled(run.id)  # type: ignore[union-attr]
        await bot.lockstep.handlers.drain()  # type: ignore[union-attr]
        ended = await bot.lockstep.engine.execution(run.id)  # type: ignore[union-attr]
        assert ended is not None and (ended.status, ended.result) == ("finished", "fallback")
        line, _ = ending(bot, ended)
        assert line.startswith("✅ *Finished*") and "Expired" not in line, line


async def test_request_state_user_names_who_starts_as_kodosumi_s_middleware_does(
    store: SQLStore,
) -> None:
    engine = Engine(store, [launches.app], RecordingNotifier(), FakeClock())
    eid = await engine.start("whoami", {}, Request("whoami", "UALICE"))
    await engine.settled(eid)
    assert (await engine.execution(eid)).result == {"by": "UALICE"}  # type: ignore[union-attr]
    await engine.close()


async def test_a_pydantic_model_as_the_result_shows_its_fields(
    db_url: str, store: SQLStore
) -> None:
    async with running_bot(db_url, flows="tests.kodosumi_apps.launches") as bot:
        view = await open_entry(bot, "model-result")
        assert await submit(bot, view, text("topic", "budget")) is None
        run = await settled(bot)
        line, shown = ending(bot, run)
        assert line.startswith("✅ *Finished*") and shown == "*Topic*\nbudget", shown


async def test_the_locks_guide_approval_and_document_review(bot: Bot) -> None:
    run = await started(bot, "approval", text("topic", "budget"))
    approve = block(open_lock(bot, run), "approve")["element"]
    assert approve["options"][0]["text"]["text"] == "APPROVE"
    run = await click(bot, run, merged(box("approve", False), text("comments", None)))
    assert "Approval is required" in bot.slack.ephemerals("UBOB")[-1]["text"]
    run = await click(bot, run, merged(box("approve", True), text("comments", None)))
    assert run.result == {"approved": True, "comments": ""}  # a blank field is ""

    review = await started(bot, "review", text("document", "spec.md"))
    review = await click(bot, review, merged(box("accurate", False), box("grammar", False)))
    note = bot.slack.ephemerals("UBOB")[-1]["text"]
    assert "Please confirm the content is accurate" in note and "Please confirm the grammar" in note
    review = await click(
        bot, review, merged(box("accurate", True), box("grammar", True), text("notes", "ok"))
    )
    assert open_lock(bot, review)["blocks"][1]["text"]["text"] == "Content approved. Publish?"
    review = await click(bot, review)
    assert review.result == {"content": {"approved": True, "notes": "ok"}, "final": {}}


async def test_dates_arrive_as_iso_strings_and_the_run_gets_datetimes(bot: Bot) -> None:
    view = await open_entry(bot, "news")
    companies = text("texts", "ACME\n\nGlobex")
    missing = await submit(bot, view, merged(companies, day("start", None), day("end", None)))
    assert missing == {  # required dates are checked before the handler parses them
        "response_action": "errors",
        "errors": {"f_start": "This field is required.", "f_end": "This field is required."},
    }
    backwards = merged(companies, day("start", "2025-02-01"), day("end", "2025-01-01"))
    assert (await submit(bot, view, backwards)) == {
        "response_action": "errors",
        "errors": {"f_start": "Start must not be after end"},
    }
    run = await started(bot, "news", merged(companies, day("start", "2025-01-01"),
                                            day("end", "2025-01-31")))  # fmt: skip
    assert run.status == "finished", run.error
    assert run.inputs["start"] == {"$datetime": "2025-01-01T00:00:00"}
    assert run.result == {"companies": ["ACME", "Globex"], "days": 30, "from": "2025-01-01"}
    assert texts(bot, run)[:3] == [
        "Searching *2* companies over 30 days",
        "…",
        "```searching ACME, Globex```",
    ]  # the HTML divider has no text to show


async def test_a_deep_path_and_a_password_with_a_pattern(bot: Bot) -> None:
    view = await open_entry(bot, "wise/financial-report")
    key = block(view, "api_key")
    assert key["element"]["type"] == "plain_text_input"
    refused = await submit(bot, view, merged(text("account", "A1"), text("api_key", "nope")))
    assert refused == {
        "response_action": "errors",
        "errors": {"f_api_key": "This value does not have the expected format."},
    }
    run = await started(
        bot, "wise/financial-report", merged(text("account", "A1"), text("api_key", "sk-abc123"))
    )
    assert run.result == {"account": "A1", "key_length": 9, "in": []}
    trail = await bot.lockstep.engine.trail(run.id)  # type: ignore[union-attr]
    assert trail is not None
    assert trail[2][0].detail["inputs"]["api_key"] == "***"


async def test_every_kind_of_output_in_order_once_with_a_formatted_result(bot: Bot) -> None:
    run = await started(bot, "tracing", {})
    said = texts(bot, run)
    assert said[:2] == ["```plain\ntext```", "some *HTML*"]
    assert said[2].startswith("⚠️ lookup failed\nTraceback") and "KeyError: 'missing'" in said[2]
    assert said[3:8] == [
        '```{"tool": "search", "query": "q"}```',
        "a result",
        "```as text```",
        "from a sync helper",  # queued from sync code on the loop, recorded in order
        "```printed by the helper```",
    ]
    run = await click(bot, run)
    assert run.status == "finished"
    said = texts(bot, run)
    assert said[8].startswith("Tracing lock: ✅ Answered by <@UBOB>")
    assert said[9] == "after\n\nthe lock"  # markdown joins with a blank line
    assert said.count("a result") == 1  # replayed, not said again
    assert ending(bot, run)[1] == f"*Done*\n\nrun {run.id}"  # response.HTML, as mrkdwn
    parent = thread(bot, run)[0]
    assert parent["text"].startswith("*Tracing, this time*")  # Launch(summary=...)


async def test_html_with_an_inline_image_larger_than_a_message_shows_no_image_data(
    db_url: str, store: SQLStore
) -> None:
    """An ``<img>`` whose data URI runs past what is converted is left out, as a shorter one
    is: the thread shows no base64, and the caption after it is not lost to it."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.campaign") as bot:
        run = await started(bot, "campaign", merged(text("brand", "ACME"), number("graphics", "2")))
        assert run.status == "finished", run.error
        said = texts(bot, run)
        assert said[:2] == ["✅ Generated graphic 1/2", "Graphic *1* for ACME"]
        assert not any("base64" in line or "&lt;img" in line for line in said)
        assert assert_valid_surfaces(bot.slack) >= 4


def test_output_of_each_kind_as_slack_text() -> None:
    written = surfaces.progress("markdown", "# Title\n**bold** <@U1>")  # mentions stay inert:
    assert written == "*Title*\n*bold* &lt;@U1&gt;"  # the text may quote what a person typed
    assert surfaces.progress("html", "<p>a<br>b &amp; c</p>") == "a\nb &amp; c"
    assert surfaces.progress("text", "<!channel> ```x```") == "```&lt;!channel&gt; '''x'''```"
    assert surfaces.progress("stderr", "oops <!here>") == "⚠️ oops &lt;!here&gt;"  # inert
    assert surfaces.progress("result", "[1, 2]") == "```[1, 2]```"
    assert surfaces.progress("debug", "x" * 5000).endswith("…")
    assert response.Text("t").kind == "text"


async def test_entry_failures_are_shown_in_the_modal_and_start_nothing(bot: Bot) -> None:
    for flow, expected in (
        ("raises", "*Raises* could not start: its entry handler failed."),
        ("no-launch", "*Returns no Launch* could not start: its entry handler returned dict"),
        ("bad-entry", "entry point `tests.kodosumi_apps.failures.no_such_runner` cannot be"),
    ):
        view = await open_entry(bot, flow)
        answer = await submit(bot, view, text("x", "go"))
        assert answer and answer["response_action"] == "update"
        shown = answer["view"]["blocks"][0]["text"]["text"]
        assert expected in shown and "error id `" in shown and "Nothing was started" in shown
    assert "hunter2" not in json.dumps([c.args for c in bot.slack.calls])
    assert bot.slack.calls_to("chat.postMessage") == []  # no parent message stuck at starting
    assert await bot.lockstep.engine.runs() == []  # type: ignore[union-attr]


async def test_global_messages_on_a_form_with_no_inputs_are_shown(bot: Bot) -> None:
    view = await open_entry(bot, "confirm")
    answer = await submit(bot, view, {})
    assert answer and answer["response_action"] == "update"
    shown = answer["view"]
    assert shown["callback_id"] == "lockstep_entry" and shown["title"]["text"] == "Confirm only"
    assert shown["blocks"][0]["text"]["text"] == (
        ":warning: Try again tomorrow.\n:warning: Not today."  # flashed first, as kodosumi
    )
    assert shown["private_metadata"] == view["private_metadata"]  # it can be submitted again
    assert View(**shown).to_dict() == shown  # valid Block Kit
    assert bot.slack.calls_to("chat.postMessage") == []


def test_a_flows_module_failing_with_any_exception_stops_start_up_in_one_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_flows(["tests.kodosumi_apps.broken"])
    assert str(caught.value) == (
        "LOCKSTEP_FLOWS: cannot import tests.kodosumi_apps.broken: "
        "KeyError: 'LOCKSTEP_TEST_SURELY_UNSET_API_KEY'"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"LOCKSTEP_FLOWS": "tests.kodosumi_apps.broken", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"lockstep: {caught.value}"]


async def test_two_services_each_keep_their_own_lock_of_the_same_name(store: SQLStore) -> None:
    """Lock and lease names are each app's own: two services with an "approval" lock load
    together, and each run gets its own service's form and lease."""
    engine = Engine(store, [twins.a, twins.b], RecordingNotifier(), FakeClock())
    for tag in ("a", "b"):
        eid = await engine.start(f"svc-{tag}", {}, Request(f"svc-{tag}", "UALICE"))
        await engine.settled(eid)
        [lock] = [c for c in await calls(engine, eid) if c.kind == "lock"]
        assert f"Service {tag} approval" in json.dumps(lock.form)
        assert (await engine.submit(lock.id, {"note": "fine"}, "UBOB")).outcome == "accepted"
        await engine.settled(eid)
        assert (await engine.execution(eid)).result == {"svc": tag, "note": "fine"}  # type: ignore[union-attr]
    await engine.close()


def test_flows_that_do_not_fit_together_stop_start_up_in_one_line() -> None:
    with pytest.raises(SettingsError, match="registered by two FlowApps: review"):
        load_flows(["tests.kodosumi_apps.locks", "flows.examples.review"])
    with pytest.raises(SettingsError, match="cannot load runner"):
        load_flows(["tests.kodosumi_apps.wrong_runner"])


async def test_a_flow_without_a_form_that_cannot_start_says_so_privately(bot: Bot) -> None:
    status, said = await bot.command("start at-once")  # the command's answer: theirs alone
    assert status == 200 and "`tests.kodosumi_apps.failures:gone` cannot be loaded" in said
    assert bot.slack.calls_to("chat.postMessage") == []
