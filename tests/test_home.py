"""The App Home and the "Start a flow" shortcut, through the real bot: signed events and clicks
in, FakeSlack's recorded ``views.publish``/``views.open`` out, every view validated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.models.views import View

from bot.fake import limits
from bot.render import home
from flows import Request
from flows.engine import SINGLE, Engine, FakeClock, RecordingNotifier, reads
from store import SQLStore
from tests import sample_flows
from tests.apiclient import Api, base_of
from tests.long_flows import LONG_NAME
from tests.slackbot import CHANNEL, Bot, assert_valid_surfaces, chosen, input_value, running_bot

DEPLOY = {**input_value("service", "api"), **input_value("version", "1.2.3")}


def texts(view: dict[str, Any]) -> str:
    """Every text of a view, one per line."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(view.get("blocks"))
    return "\n".join(found)


def answers(view: dict[str, Any]) -> list[str]:
    """The lock ids a Home's Answer buttons name."""
    return [
        b["accessory"]["value"]
        for b in view["blocks"]
        if (b.get("accessory") or {}).get("action_id") == home.ANSWER_ACTION
    ]


async def published(bot: Bot, user: str, count: int) -> dict[str, Any]:
    """``user``'s Home once it has been published ``count`` times."""
    await bot.slack.until(
        lambda: (
            len([c for c in bot.slack.calls_to("views.publish") if c.args["user_id"] == user])
            >= count
        )
    )
    view = bot.slack.home(user)
    assert view is not None
    return view


def publishes(bot: Bot, user: str) -> int:
    return len([c for c in bot.slack.calls_to("views.publish") if c.args["user_id"] == user])


async def start_deploy(bot: Bot, user: str = "UALICE") -> str:
    """Alice asks for a deploy; returns the approval lock's id."""
    opened = len(bot.slack.calls_to("views.open"))
    await bot.command("start deploy", user=user)
    calls = await bot.slack.wait_for("views.open", count=opened + 1)
    await bot.submit_view(calls[-1].response["view"], DEPLOY, user)
    await bot.slack.until(lambda: len(last_thread(bot)) >= 2)
    lock = last_thread(bot)[-1]
    return str(lock["blocks"][-1]["elements"][0]["value"])


def last_thread(bot: Bot) -> list[dict[str, Any]]:
    """The newest run's thread: its message and replies."""
    runs = bot.slack.messages(CHANNEL)
    return bot.slack.thread(CHANNEL, runs[-1]["ts"]) if runs else []


async def test_the_home_lists_what_waits_for_me_and_stays_current(bot: Bot) -> None:
    assert (await bot.open_home("UBOB"))[0] == 200
    empty = await published(bot, "UBOB", 1)
    assert home.START_ACTION in json.dumps(empty)
    assert "Nothing waits for you" in texts(empty) and answers(empty) == []
    await bot.open_home("UALICE")
    await published(bot, "UALICE", 1)

    # a lock opens: Bob may decide it (four-eyes: Alice may not), so his Home lists it, with
    # its deadline as a date token and a link to its thread; Alice's lists her run
    lock_id = await start_deploy(bot)
    await bot.slack.until(lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [lock_id])
    await bot.lockstep.engine.idle()  # and once the run's message is posted, its link
    listed = bot.slack.home("UBOB")
    assert listed is not None
    words = texts(listed)
    assert "Deploy approval" in words and "⏰ Due <!date^" in words
    assert "run `" in words and "started by <@UALICE>" in words
    assert f"<https://example.slack.test/archives/{CHANNEL}/p" in words
    alice = await published(bot, "UALICE", 2)
    assert answers(alice) == [] and "Deploy approval: awaiting" in texts(alice)
    assert publishes(bot, "UCAROL") == 0  # never opened it: never published

    # Carol approves in the thread: the lock leaves Bob's Home, Alice's run reads approved
    lock = last_thread(bot)[-1]
    await bot.click(lock, "lockstep_submit", "UCAROL", input_value("comment", "ok"))
    await bot.slack.until(lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [])
    await bot.slack.until(lambda: "approved by" in texts(bot.slack.home("UALICE") or {}))
    assert "Nothing waits for you" in texts(bot.slack.home("UBOB") or {})
    assert assert_valid_surfaces(bot.slack) > 0

    # a Home that reads as it did is not published again: opening it again costs no call
    before = publishes(bot, "UBOB")
    await bot.open_home("UBOB")
    await bot.lockstep.engine.idle()
    assert publishes(bot, "UBOB") == before


async def test_answering_from_the_home_is_checked_like_the_thread(bot: Bot) -> None:
    await bot.open_home("UBOB")
    lock_id = await start_deploy(bot)
    await bot.slack.until(lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [lock_id])
    bobs = bot.slack.home("UBOB")
    assert bobs is not None

    # Answer opens the lock's own form as a modal
    await bot.click_view(bobs, home.ANSWER_ACTION, lock_id, "UBOB")
    calls = await bot.slack.wait_for("views.open", count=2)  # the entry form, then this
    form = calls[-1].response["view"]
    assert form["callback_id"] == "lockstep_lock" and form["close"]["text"] == "Close"

    # Alice started the run: asking from a Home (a stale one, or a made-up click) shows her
    # why not; her submitting Bob's modal is refused by the engine, audited, and decides nothing
    await bot.click_view(bobs, home.ANSWER_ACTION, lock_id, "UALICE")
    calls = await bot.slack.wait_for("views.open", count=3)
    assert "waits for someone else" in texts(calls[-1].response["view"])
    status, body = await bot.submit_view(form, input_value("comment", "mine"), "UALICE")
    assert status == 200 and "someone else has to decide this" in body
    lock = await bot.lockstep.engine.lock(lock_id)
    assert lock is not None and lock.open
    events = await bot.lockstep.engine.events(lock.execution_id)
    assert [e.actor for e in events if e.kind == "refused"] == ["UALICE"]

    # Bob answers in the modal: decided through the engine; the thread and his Home follow
    status, body = await bot.submit_view(form, input_value("comment", "ship it"), "UBOB")
    assert status == 200 and body == ""
    decided = await bot.lockstep.engine.lock(lock_id)
    assert decided is not None and decided.actor == "UBOB" and decided.comment is None
    assert decided.result["comment"] == "ship it"
    await bot.slack.until(lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [])
    await bot.slack.until(lambda: "Approved by <@UBOB>" in last_thread(bot)[1]["text"])

    # a late click from the stale Home: already answered, by whom
    await bot.click_view(bobs, home.ANSWER_ACTION, lock_id, "UBOB")
    calls = await bot.slack.wait_for("views.open", count=4)
    assert "Already answered by <@UBOB>" in texts(calls[-1].response["view"])
    assert assert_valid_surfaces(bot.slack) > 0


async def test_start_a_flow_from_the_shortcut_and_the_home(bot: Bot) -> None:
    assert (await bot.shortcut(home.START_SHORTCUT, "UALICE"))[0] == 200
    [opened] = await bot.slack.wait_for("views.open")
    chooser = opened.response["view"]
    assert chooser["callback_id"] == home.CHOOSE_CALLBACK
    offered = [o["value"] for o in chooser["blocks"][0]["element"]["options"]]
    assert {"deploy", "review", "survey"} <= set(offered)

    # a flow no longer loaded, or no channel: said under the field
    status, body = await bot.submit_view(chooser, chosen("nope", CHANNEL), "UALICE")
    assert json.loads(body)["errors"] == {
        home.CHOOSE_FLOW: "That flow is not loaded any more. Nothing was started."
    }
    status, body = await bot.submit_view(chooser, chosen("deploy", None), "UALICE")
    assert home.CHOOSE_CHANNEL in json.loads(body)["errors"]
    bot.slack.join("CELSEWHERE", "UBOB")
    status, body = await bot.submit_view(chooser, chosen("deploy", "CELSEWHERE"), "UALICE")
    assert json.loads(body)["errors"] == {
        home.CHOOSE_CHANNEL: "You are not in that channel: choose one you are in."
    }  # a channel they are not in (a crafted payload: Slack's picker offers theirs)

    # Next: the flow's entry form, as /flow start opens it; its submission starts the run there
    status, body = await bot.submit_view(chooser, chosen("deploy", CHANNEL), "UALICE")
    answer = json.loads(body)
    assert answer["response_action"] == "update"
    assert View(**answer["view"]).to_dict() == answer["view"]  # valid Block Kit, as sent
    entry = answer["view"] | {"id": chooser["id"]}
    assert entry["callback_id"] == "lockstep_entry" and entry["title"]["text"] == "Deploy approval"
    await bot.submit_view(entry, DEPLOY, "UALICE")
    await bot.slack.wait_for("chat.postMessage", count=2)
    [parent] = bot.slack.messages(CHANNEL)
    assert "Deploy approval" in parent["text"] and "<@UALICE>" in parent["text"]

    # the Home's button opens the same chooser; a flow without a form starts at once
    await bot.open_home("UCAROL")
    carols = await published(bot, "UCAROL", 1)
    await bot.click_view(carols, home.START_ACTION, "start", "UCAROL")
    calls = await bot.slack.wait_for("views.open", count=2)
    again = calls[-1].response["view"]
    assert again["callback_id"] == home.CHOOSE_CALLBACK
    status, body = await bot.submit_view(again, chosen("survey", CHANNEL), "UCAROL")
    assert status == 200 and body == ""
    await bot.slack.until(lambda: len(bot.slack.messages(CHANNEL)) == 2)
    assert "Long survey" in bot.slack.messages(CHANNEL)[-1]["text"]

    # answered from the Home, the form is validated as in the thread: errors under the field
    await bot.slack.until(lambda: len(answers(bot.slack.home("UCAROL") or {"blocks": []})) == 2)
    carols = bot.slack.home("UCAROL") or {}
    survey = answers(carols)[0]  # the newest run first: the survey, then the deploy
    assert "Long survey" in texts(
        {"blocks": [b for b in carols["blocks"] if survey in b.get("block_id", "")]}
    )
    await bot.click_view(carols, home.ANSWER_ACTION, survey, "UCAROL")
    calls = await bot.slack.wait_for("views.open", count=3)
    status, body = await bot.submit_view(calls[-1].response["view"], {}, "UCAROL")
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"f_q0": "This field is required."},
    }
    assert assert_valid_surfaces(bot.slack) > 0


def test_the_manifest_enables_the_home_and_the_shortcut() -> None:
    manifest = yaml.safe_load(
        (Path(__file__).resolve().parent.parent / "slack-app-manifest.yml").read_text()
    )
    features = manifest["features"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    [shortcut] = features["shortcuts"]
    assert shortcut == shortcut | {"type": "global", "callback_id": home.START_SHORTCUT}
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


async def test_a_home_is_an_outbox_row_about_no_run(store: SQLStore) -> None:
    """The store's side, on every backend: one row per person who opened their Home, about no
    run, bumped with every run's and lock's change, and shown by a drain soon after that run's own
    pass (``HOMES_EVERY``; at once when the engine is asked to be idle)."""
    notes = RecordingNotifier()
    engine = Engine(store, [sample_flows.app], notes, FakeClock(1000.0))
    try:
        await engine.open_home("UBOB", SINGLE)
        await engine.open_home("UBOB", SINGLE)  # again: the same row, shown again
        await engine.idle()
        bob = {"user": "UBOB", "team": "", "enterprise": ""}
        assert notes.of("home") == [bob] * len(notes.of("home"))
        assert all(s.execution is None for s in notes.shows if s.kind == "home")
        before = len(notes.of("home"))
        eid = await engine.start("catching", request=Request("catching", "UALICE", {}))
        await engine.idle()
        opened = len(notes.of("home"))
        assert opened > before  # the lock opened
        [lock] = await store.calls(eid, open_only=True)
        assert [(e.id, c.id) for e, c in await engine.inbox("UBOB", SINGLE)] == [(eid, lock.id)]
        await engine.submit(lock.id, {"ok": True}, "UBOB")
        await engine.idle()
        assert len(notes.of("home")) > opened  # and was decided
        assert await engine.inbox("UBOB", SINGLE) == []
    finally:
        await engine.close()


async def test_the_home_lists_locks_from_every_channel_for_whoever_may_decide(bot: Bot) -> None:
    """A lock for named approvers (a person and a user group) in another channel: on their
    Homes, with the deploy of this channel where they may decide that too; not on others'."""
    for user in ("UAPPROVER", "UGROUPIE", "UBOB"):
        await bot.open_home(user)
        await published(bot, user, 1)
    bot.slack.join("C0OTHER", "UALICE")  # she starts a run there: she must be in it
    await bot.shortcut(home.START_SHORTCUT, "UALICE")
    [opened] = await bot.slack.wait_for("views.open")
    await bot.submit_view(opened.response["view"], chosen("vetted", "C0OTHER"), "UALICE")
    await bot.slack.until(lambda: len(bot.slack.messages("C0OTHER")) == 1)
    deploy = await start_deploy(bot)

    def listed(user: str) -> list[str]:
        return answers(bot.slack.home(user) or {"blocks": []})

    await bot.slack.until(lambda: len(listed("UGROUPIE")) == 2 and len(listed("UAPPROVER")) == 1)
    vetted = listed("UAPPROVER")[0]
    assert listed("UGROUPIE") == [deploy, vetted]  # newest run first; a group member, in C0CHANNEL
    await bot.slack.until(lambda: listed("UBOB") == [deploy])  # not an approver of the other
    assert "Vetted approval" in texts(bot.slack.home("UAPPROVER") or {})


async def test_a_run_started_over_the_api_without_a_channel_is_answered_over_the_api_only(
    bot: Bot,
) -> None:
    """Shown in no channel: on no one's Home, a made-up Answer click or a sealed modal decides
    nothing; a token that answers for someone decides it over the API."""
    api = Api(bot, base_of(bot))
    ci = await api.token("ci", start=("deploy",))
    started = await api.call(
        "POST", "/api/v1/runs", ci, {"flow": "deploy", "inputs": {"service": "a", "version": "1"}}
    )
    lock_id = started.body["locks"][0]["id"]
    for user in ("UBOB", "UEVE"):
        await bot.open_home(user)
        assert answers(await published(bot, user, 1)) == []
    eves = bot.slack.home("UEVE") or {}
    button = {"type": "button", "action_id": home.ANSWER_ACTION, "value": lock_id}
    made_up = {**eves, "blocks": [*eves["blocks"], {"type": "section", "accessory": button}]}
    await bot.click_view(made_up, home.ANSWER_ACTION, lock_id, "UEVE")
    [opened] = await bot.slack.wait_for("views.open")
    assert "waits for someone else" in texts(opened.response["view"])
    assert (await bot.lockstep.engine.lock(lock_id)).open
    reviewer = await api.token("reviewer", read=("deploy",), answer=("UBOB",))
    path = f"/api/v1/locks/{lock_id}/answer"
    answered = await api.call("POST", path, reviewer, {"inputs": {"comment": "ok"}})
    assert answered.status == 200
    decided = await bot.lockstep.engine.lock(lock_id)
    assert (decided.status, decided.actor) == ("resolved", "api:reviewer")


def test_a_long_inbox_lists_the_newest_and_says_there_are_more() -> None:
    waiting = [
        home.Waiting(f"L{i}", "Approval", "Deploy", f"{i:032d}", 1_800_000_000.0, None)
        for i in range(home.MAX_WAITING + 1)
    ]
    view = home.home_view(waiting, [])
    assert answers(view) == [f"L{i}" for i in range(home.MAX_WAITING)]
    assert "… and more: only the 20 newest are listed." in texts(view)
    assert len(view["blocks"]) <= home.HOME_MAX_BLOCKS
    assert View(**view).to_dict() == view


def test_every_recent_run_shows_however_long_its_summary() -> None:
    """A run's own summary (kodosumi's ``Launch(summary=...)``) may run long: each is cut, so
    the Home lists every recent run with its state and link, not the first few and an "…"."""
    summary = "Quarterly plan for the platform team " * 20 + "<@UBOSS>"
    runs = [
        home.RecentRun(f"run{i:02d}" + "x" * 24, summary, "awaiting", f"https://t.test/p{i}")
        for i in range(home.MAX_RUNS)
    ]
    waiting = [home.Waiting("L1", "Approval", summary, "run00" + "x" * 27, None, None)]
    view = home.home_view(waiting, runs)
    shown = texts(view)
    for i in range(home.MAX_RUNS):
        assert f"`run{i:02d}xxx` Quarterly plan" in shown
        assert f"…: awaiting · <https://t.test/p{i}|Open the thread>" in shown
    assert "run `run00xxx`, started by someone" in shown
    assert View(**view).to_dict() == view


async def test_the_inbox_looks_among_the_newest_waiting_runs(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Home lists what waits among the ``INBOX_RUNS`` newest waiting runs (200): a lock of
    an older run is not on it."""
    monkeypatch.setattr(reads, "INBOX_RUNS", 3)
    clock = FakeClock(1000.0)
    engine = Engine(store, [sample_flows.app], RecordingNotifier(), clock)
    try:
        ids = []
        for _ in range(4):
            ids.append(await engine.start("catching", request=Request("catching", "UA", {})))
            await engine.settled(ids[-1])
            clock.advance(1)
        listed = [e.id for e, _ in await engine.inbox("UBOB", SINGLE)]
        assert listed == list(reversed(ids[1:]))  # the oldest is past the three newest
    finally:
        await engine.close()


async def test_an_escalation_and_a_snooze_show_on_the_homes_that_list_the_lock(
    db_url: str, store: SQLStore
) -> None:
    """Someone a lock escalates to may answer it from then on: their Home lists it; a snooze
    moves the lock's deadline: the Homes listing it show the new one."""
    clock = FakeClock()
    async with running_bot(db_url, clock) as bot:
        for user in ("UMANAGER", "UBOB"):
            await bot.open_home(user)
            await published(bot, user, 1)
        await bot.command("start nudged")  # escalates to UMANAGER after 1.5 h; snoozes a day
        await bot.slack.until(lambda: len(last_thread(bot)) >= 2)
        lock = last_thread(bot)[-1]
        lock_id = lock["blocks"][-1]["elements"][0]["value"]
        await bot.slack.until(
            lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [lock_id]
        )
        assert answers(bot.slack.home("UMANAGER") or {}) == []

        def due(user: str) -> str:
            return next(t for t in texts(bot.slack.home(user) or {}).splitlines() if "Due" in t)

        before = due("UBOB")
        await bot.click(lock, "lockstep_snooze", "UBOB")
        await bot.slack.until(lambda: due("UBOB") != before)
        snoozed = await bot.lockstep.engine.lock(lock_id)
        assert snoozed is not None and f"<!date^{snoozed.deadline:.0f}^" in due("UBOB")

        clock.advance(5400)
        assert await bot.lockstep.engine.fire_due() >= 1
        await bot.slack.until(
            lambda: answers(bot.slack.home("UMANAGER") or {"blocks": []}) == [lock_id]
        )


async def test_joining_or_leaving_the_channel_shows_on_the_home_at_once(bot: Bot) -> None:
    """Dan joins the run's channel: the lock he may now answer joins his Home; Bob leaves it:
    the lock he may no longer answer leaves his. Neither waits for a run to change."""
    for user in ("UDAN", "UBOB"):
        await bot.open_home(user)
        await published(bot, user, 1)
    lock_id = await start_deploy(bot)
    await bot.slack.until(lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [lock_id])
    await bot.lockstep.engine.idle()
    assert answers(bot.slack.home("UDAN") or {}) == []

    def member(kind: str, user: str) -> dict[str, Any]:
        return {"type": kind, "user": user, "channel": CHANNEL, "channel_type": "C"}

    bot.slack.join(CHANNEL, "UDAN")
    assert (await bot.event(member("member_joined_channel", "UDAN")))[0] == 200
    await bot.slack.until(lambda: answers(bot.slack.home("UDAN") or {"blocks": []}) == [lock_id])
    bot.slack.leave(CHANNEL, "UBOB")
    assert (await bot.event(member("member_left_channel", "UBOB")))[0] == 200
    await bot.slack.until(lambda: answers(bot.slack.home("UBOB") or {"blocks": []}) == [])
    assert publishes(bot, "UCAROL") == 0  # never opened it: never published


def test_the_chooser_offers_every_flow_past_a_select_s_hundred_options() -> None:
    """A select holds 100 options: past that, the chooser offers the flows in groups of 100,
    as a form's select does; none is left out (nor could be started from the Home)."""
    flows = [(f"flow{i:03d}", f"Flow {i}") for i in range(150)]
    view = home.chooser_view(flows)
    assert View(**view).to_dict() == view
    limits.check_view(view)
    select = view["blocks"][0]["element"]
    offered = [o["value"] for g in select["option_groups"] for o in g["options"]]
    assert offered == [name for name, _ in flows]
    assert home.chooser_view(flows[:3])["blocks"][0]["element"]["options"][0]["value"] == "flow000"


async def test_the_chooser_offers_a_flow_whose_name_is_past_an_options_limit(
    db_url: str, store: SQLStore
) -> None:
    """An option's value holds 150 characters: a longer flow name made Slack refuse the whole
    chooser (``invalid_arguments``), so no flow could be started from the Home at all."""
    assert len(LONG_NAME) > 150
    async with running_bot(db_url, more_flows="tests.long_flows") as bot:
        assert (await bot.shortcut(home.START_SHORTCUT, "UALICE"))[0] == 200
        [opened] = await bot.slack.wait_for("views.open")
        assert opened.ok, opened.response
        chooser = opened.response["view"]
        [value] = [
            o["value"]
            for o in chooser["blocks"][0]["element"]["options"]
            if "Quarterly" in o["text"]["text"]
        ]
        assert len(value) <= 150
        status, body = await bot.submit_view(chooser, chosen(value, CHANNEL), "UALICE")
        assert status == 200 and body == ""
        await bot.slack.until(lambda: len(bot.slack.messages(CHANNEL)) == 1)
        assert "Quarterly summary" in bot.slack.messages(CHANNEL)[0]["text"]
