"""The compatibility suite: kodosumi-style apps (``tests.kodosumi_apps``), with only their
imports changed, run end to end through the real Bolt app against the fake Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from flows.errors import GLOBAL
from store import SQLStore
from tests.kodosumi_apps import form as form_app
from tests.kodosumi_apps import prime, simple
from tests.kodosumi_slack import (
    block,
    box,
    choice,
    click,
    clock,
    day,
    ending,
    kodosumi_bot,
    merged,
    moment,
    number,
    open_entry,
    radio,
    settled,
    started,
    submit,
    text,
    texts,
    thread,
)
from tests.slackbot import CHANNEL, Bot, assert_valid_surfaces


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with kodosumi_bot(db_url) as running:
        yield running


async def test_any_path_is_a_flow_named_by_path_summary_or_module(bot: Bot) -> None:
    listed = (await bot.command("list"))[1]
    for line in (
        "`simple-hitl-demo`: Simple HITL Demo",  # "/" named by its summary
        "`much/deeper`: much/deeper",  # a deep path, no summary
        "`wise/financial-report`: Wise financial report",
        "`async`: Prime Gaps (async)",  # a second entry sharing the first one's model
        "`0`: Mock service 0",  # entries made in a loop
    ):
        assert line in listed
    view = await open_entry(bot, "much/deeper")
    assert view["callback_id"] == "lockstep_entry"


async def test_hitl_demo_lock_without_data_or_lease_returns_markdown(bot: Bot) -> None:
    view = await open_entry(bot, "simple-hitl-demo")
    assert block(view, "name")["element"]["placeholder"]["text"] == "Your name"
    run = await started(bot, "simple-hitl-demo", text("name", None))
    said = texts(bot, run)
    assert said[:3] == [
        "Hello *stranger*.",
        "Working...\n\nStill working.",
        "Done: now your feedback, please.",
    ]
    lock = block(thread(bot, run)[-1], "rating")["element"]
    assert [o["value"] for o in lock["options"]] == ["good", "ok", "bad"]
    run = await click(bot, run, choice("rating", "good"))
    assert run.status == "finished" and run.result == {
        "$markdown": "## Thanks\nYou rated it *good*: no comment"  # comment "" as kodosumi's
    }
    line, shown = ending(bot, run)
    assert line.startswith("✅ *Finished*") and shown == "*Thanks*\nYou rated it _good_: no comment"
    assert assert_valid_surfaces(bot.slack) >= 3


async def test_every_element_reaches_the_handler_as_a_kodosumi_form_submits_it(bot: Bot) -> None:
    view = await open_entry(bot, "elements")
    assert block(view, "active")["element"]["initial_options"][0]["text"]["text"] == "Go for it"
    assert block(view, "item")["element"]["initial_option"]["value"] == "item3"
    assert block(view, "age")["element"]["type"] == "number_input"
    actions = block(view, "action")["element"]  # a modal's Action buttons: one choice
    assert actions["type"] == "radio_buttons"
    assert [o["value"] for o in actions["options"]] == ["draft", "publish"]
    meeting = int(datetime(2025, 1, 31, 14, 30, tzinfo=UTC).timestamp())
    values = merged(
        text("name", None), number("age", "42"), number("weight", None), box("active", False),
        choice("item", "item2"), text("bio", None), day("birthday", "2000-02-29"),
        clock("wake", "07:15"), moment("meeting", meeting), radio("action", "publish"),
    )  # fmt: skip
    answer = await submit(bot, view, values)
    assert form_app.seen[-1] == {
        GLOBAL: None, "name": "", "age": "42", "weight": "", "active": False, "item": "item2",
        "bio": "", "birthday": "2000-02-29", "wake": "07:15", "meeting": "2025-01-31T14:30",
        "action": "publish",
    }  # fmt: skip
    order = [GLOBAL, "name", "age", "weight", "active", "item", "bio", "birthday", "wake"]
    assert list(form_app.seen[-1]) == [*order, "meeting", "action"]  # the form's order
    assert answer == {
        "response_action": "errors",
        "errors": {
            "f_name": "Received 10 values got ''",  # the global message, on the first input
            "f_age": "got '42'",
            "f_active": "got False",
            "f_item": "got 'item2'",
            "f_birthday": "got '2000-02-29'",
            "f_wake": "got '07:15'",
            "f_meeting": "got '2025-01-31T14:30'",
        },
    }
    calls = len(form_app.seen)
    refused = await submit(bot, view, merged(values, number("age", "121")))
    assert refused == {
        "response_action": "errors",
        "errors": {"f_age": "Enter a number of at most 120."},
    }
    assert len(form_app.seen) == calls  # checked on the server before the handler ran
    assert await bot.lockstep.engine.runs() == []  # type: ignore[union-attr]


async def test_a_crew_named_by_string_runs_through_kickoff(bot: Bot) -> None:
    view = await open_entry(bot, "hymn-creator")
    assert block(view, "topic")["element"]["initial_value"] == "the sea"
    refused = await submit(bot, view, text("topic", "   "))
    assert refused == {
        "response_action": "errors",
        "errors": {"f_topic": "Please give me a topic."},
    }
    run = await started(bot, "hymn-creator", text("topic", "the moon"))
    assert run.status == "finished" and run.runner == "tests.kodosumi_apps.hymn:crew"
    assert run.result["value"] == {"raw": "A hymn to the moon", "tasks": 1}
    said = texts(bot, run)
    assert "thinking about the moon" in said  # the crew's step, recorded as an action
    assert any('"task": "write"' in t for t in said)  # its task, as a result
    assert "A hymn to the moon" in ending(bot, run)[1]  # the result, shown under the ending


async def test_sync_runners_run_off_the_loop_with_the_sync_tracer(bot: Bot) -> None:
    view = await open_entry(bot, "prime-gap-distribution")
    refused = await submit(bot, view, merged(text("start", "x"), text("end", "9")))
    assert refused and refused["errors"] == {"f_start": "Start and end must be whole numbers"}
    run = await started(
        bot, "prime-gap-distribution", merged(text("start", "1"), text("end", "30"))
    )
    assert run.status == "finished" and run.result == {"primes": 10, "largest_gap": 6}
    assert prime.threads[-1] != "MainThread"
    assert texts(bot, run)[:2] == ["*Primes from 1 to 30*", "found 10"]
    other = await started(bot, "async", merged(text("start", "1"), text("end", "30")))
    assert other.result == {"primes": 10}


async def test_callable_entry_with_converted_inputs_prints_and_returns_markdown(bot: Bot) -> None:
    view = await open_entry(bot, "throughput")
    refused = await submit(bot, view, text("rate", "fast"))
    assert refused == {"response_action": "errors", "errors": {"f_rate": "rate must be a number"}}
    run = await started(bot, "throughput", text("messages", "2"))
    assert run.inputs == {"messages": 2.0, "rate": 10.0}
    assert texts(bot, run)[:-1] == [
        "markdown 0", "```stdout 0```", "markdown 1", "```stdout 1```",
    ]  # fmt: skip
    assert ending(bot, run)[1] == "Sent 2 messages."
    events = await bot.lockstep.engine.trail(run.id)  # type: ignore[union-attr]
    assert events is not None
    levels = [e.detail["level"] for e in events[2] if e.kind == "progress"]
    assert levels == ["markdown", "stdout", "markdown", "stdout"]


async def test_files_uploaded_with_the_form_reach_the_handler_and_the_run(bot: Bot) -> None:
    a = bot.slack.uploaded("UALICE", "a.txt", b"alpha")
    b = bot.slack.uploaded("UALICE", "b.txt", b"beta")
    view = await open_entry(bot, "simple")
    assert block(view, "files")["element"] == {"type": "file_input", "action_id": "files",
                                                "max_files": 10}  # fmt: skip
    uploads = {"f_files": {"files": {"type": "file_input", "files": [a, b]}}}
    refused = await submit(bot, view, merged(text("text", "no"), uploads))
    assert simple.seen[-1] == {GLOBAL: None, "text": "no", "files": {"a.txt", "b.txt"}}
    assert refused == {
        "response_action": "errors",
        "errors": {"f_text": f"Not yet. You sent {sorted(simple.seen[-1])} you must say _yes_"},
    }
    run = await started(bot, "simple", merged(text("text", "yes"), uploads))
    assert run.status == "finished", run.error
    assert run.result["files"] == ["a.txt", "b.txt"]
    assert [f["path"] for f in run.result["listed"]] == ["in/a.txt", "in/b.txt"]
    assert run.result["listed"][0]["size"] == 5
    assert run.result["contents"] == {"in/a.txt": "alpha", "in/b.txt": "beta"}
    fetched = [c for c in bot.slack.calls_to("files.info") if c.ok]
    assert {c.args["file"] for c in fetched} == {a["id"], b["id"]}
    assert all(c.token == "xoxb-test-token" for c in fetched)


async def test_a_file_someone_else_uploaded_is_not_read_for_a_form_naming_it(bot: Bot) -> None:
    """A file input's value names files by id, and the bot reads them with its own token: a
    submission naming a file another person uploaded (a made-up value) gets no bytes of it."""
    bobs = bot.slack.uploaded("UBOB", "secret.txt", b"bob's secret")
    uploads = {"f_files": {"files": {"type": "file_input", "files": [bobs]}}}
    run = await started(bot, "simple", merged(text("text", "yes"), uploads))
    assert run.status == "error" and "secret.txt" in (run.error or "")
    assert "bob's secret" not in json.dumps(run.result)
    mine = bot.slack.uploaded("UALICE", "mine.txt", b"alice's")  # hers: read as before
    uploads = {"f_files": {"files": {"type": "file_input", "files": [mine]}}}
    run = await started(bot, "simple", merged(text("text", "yes"), uploads))
    assert run.status == "finished" and run.result["contents"] == {"in/mine.txt": "alice's"}


async def test_files_read_and_written_from_worker_threads_land_in_the_thread(bot: Bot) -> None:
    notes = bot.slack.uploaded("UALICE", "notes.txt", b"one two three")
    view = await open_entry(bot, "upload")
    assert view["callback_id"] == "lockstep_entry"
    values = {"f_files": {"files": {"type": "file_input", "files": [notes]}}}
    values |= box("ignore_errors", True, "ignore errors")
    assert await submit(bot, view, values) is None
    run = await settled(bot)
    assert run.status == "finished", run.error
    assert run.result == {
        "$markdown": "### File Processing Completed\n* in/notes.txt: 3 words -> notes.md\n"
        "1 files in out"
    }
    [shared] = bot.slack.files(CHANNEL)
    assert shared["name"] == "notes.md" and shared["content"] == "# one two three"
    assert shared["thread_ts"] == thread(bot, run)[0]["ts"]  # in the run's thread
    said = texts(bot, run)
    assert f"/files/{run.id}/in/notes.txt" in said[1]  # tracer.fid is the run's id
    assert "start processing `in/notes.txt`" in said


async def test_entries_made_in_a_loop_launch_with_positional_inputs(bot: Bot) -> None:
    run = await started(bot, "1", text("query", "q"))
    assert run.inputs == {"query": "q"} and run.result == {"$markdown": "done"}
    assert ending(bot, run)[1] == "done"
