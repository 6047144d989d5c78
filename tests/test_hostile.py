"""Hostile and careless requests, through the real Bolt app with signed requests: whatever is not
a valid, authorised action gets a 4xx (or the answer Slack expects), one log line, and changes
nothing; whatever a person typed shows as typed; every field has a limit."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from bot import inbound
from bot.fake.signing import FORM, interaction_body, sign, signed_headers, slash_command_body
from bot.fields import MAX_BODY
from bot.inbound import GROUP_CHANGED, HOME_OPENED, MEMBER_EVENTS
from bot.render import home, messages
from store import SQLStore
from tests.slackbot import (
    CHANNEL,
    SECRET,
    Bot,
    assert_valid_surfaces,
    chosen,
    fields,
    input_value,
    start_without_form,
)
from tests.test_slack import live_texts

TYPED = [
    "<!channel>",
    "<!here>",
    "<@U0BOSS>",
    "<https://evil.example|click here>",
    "[click here](https://evil.example)",
    "\ufdd0here\ufdd1",  # the mark flows.mention makes: typed, it is nothing
]
HOSTILE = " ".join(TYPED)
# What the bot itself may write in Slack's markup: its people, dates, groups, channel, links.
OWN_MARKUP = re.compile(
    r"<(@U(ALICE|BOB|CAROL|GROUPIE)|!date\^\d+\^[^|<>]*\|[^<>]*|!subteam\^SREVIEW|#C0CHANNEL"
    r"|https://fake\.slack\.com/[^|<>]*\|Open the form)>"
)


def foreign_markup(texts: list[str]) -> list[str]:
    """Slack markup (``<…>``) in ``texts`` that the bot did not mean to write."""
    return [m for t in texts for m in re.findall(r"<[^<>]*>", t) if not OWN_MARKUP.fullmatch(m)]


def every_live_text(bot: Bot) -> list[str]:
    return [t for call in bot.slack.calls for t in live_texts(call.args)]


async def post(bot: Bot, body: bytes, headers: dict[str, str]) -> int:
    data = io.BytesIO(body) if len(body) > 1 << 20 else body  # aiohttp warns of big bytes
    async with bot.http.post(bot.url, data=data, headers=headers) as response:
        return response.status


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name.startswith("lockstep")]
    caplog.clear()
    return found


async def nothing_changed(bot: Bot) -> None:
    assert await bot.lockstep.store.executions() == []
    assert {c.method for c in bot.slack.calls} <= {"auth.test"}


# without a valid signature: 401 ----------------------------------------------------------


async def test_a_request_without_a_valid_signature_is_401(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    body = slash_command_body("/flow", "start deploy", user_id="UALICE", channel_id=CHANNEL)
    now = int(time.time())
    caplog.set_level(logging.INFO)
    for timestamp in ["abc", "1e9", "", "0x10", "12.5", " 123", "+123", "-5", "١٢٣", "9" * 30]:
        headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": timestamp}
        headers["X-Slack-Signature"] = sign(SECRET, now, body)  # right, but for another time
        assert await post(bot, body, headers) == 401, timestamp
    # anyone reaching the port can send these: one line at once, then one a minute at most
    assert warnings(caplog) == ["refused a Slack request: no valid signature"]
    good = signed_headers(SECRET, body)
    for name, value in [
        ("X-Slack-Signature", good["X-Slack-Signature"].upper()),
        ("X-Slack-Signature", good["X-Slack-Signature"][3:]),
        ("X-Slack-Signature", "v0=" + "0" * 64),
        ("X-Slack-Signature", ""),
        ("X-Slack-Request-Timestamp", str(now - 301)),  # a replay
        ("X-Slack-Request-Timestamp", str(now + 301)),
    ]:
        assert await post(bot, body, good | {name: value}) == 401, (name, value)
    assert await post(bot, body, {"Content-Type": FORM}) == 401
    assert await post(bot, b"\xff\xfe not utf-8", {"Content-Type": FORM}) == 401
    assert (await bot.post(body, secret="not the secret"))[0] == 401
    assert warnings(caplog) == []
    later = bot.lockstep.refusals.clock() + 61
    bot.lockstep.refusals.clock = lambda: later
    assert await post(bot, body, {"Content-Type": FORM}) == 401
    assert warnings(caplog) == [
        "refused a Slack request: no valid signature (and 18 more since the last such line)"
    ]
    await nothing_changed(bot)


async def test_a_body_larger_than_slack_sends_is_413(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    body = urlencode({"command": "/flow", "text": "x" * MAX_BODY}).encode()
    caplog.set_level(logging.INFO)
    assert await post(bot, body, signed_headers(SECRET, body)) == 413
    assert warnings(caplog) == ["refused a Slack request: its body is larger than Slack sends"]
    await nothing_changed(bot)


# signed, but malformed: 400, one log line, nothing changed ---------------------------------


def _command(**drop_or_set: str | None) -> bytes:
    body = slash_command_body("/flow", "start deploy", user_id="UALICE", channel_id=CHANNEL)
    form = dict(parse_qsl(body.decode())) | drop_or_set
    return urlencode({k: v for k, v in form.items() if v is not None}).encode()


def _click(**changes: Any) -> dict[str, Any]:
    payload = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
        "trigger_id": "1.2.t", "channel": {"id": CHANNEL},
        "message": {"ts": "1700000000.000100"}, "state": {"values": {}},
        "actions": [{"action_id": "lockstep_submit", "value": "0" * 32}],
    }  # fmt: skip
    return payload | changes


def _view(callback: str, metadata: str) -> bytes:
    view = {"id": "V0X", "callback_id": callback, "private_metadata": metadata, "state": {}}
    payload = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": "UALICE"}}
    return interaction_body(payload | {"view": view | {"state": {"values": {}}}})


def _event(event: dict[str, Any]) -> bytes:
    """An event callback without the ``team_id`` Slack always sends."""
    return json.dumps({"type": "event_callback", "api_app_id": "A0001", "event": event}).encode()


JSON = "application/json"
MALFORMED: list[tuple[str, bytes, str]] = [
    ("nested 2,000 deep", ("[" * 2000 + "]" * 2000).encode(), "application/json"),
    ("payload nested 2,000 deep", b"payload=" + b"%5B" * 2000 + b"%5D" * 2000, FORM),
    ("nested 100 deep", ('{"a":' * 100 + "1" + "}" * 100).encode(), "application/json"),
    ("[]", b"[]", "application/json"),
    ("null", b"null", "application/json"),
    ("invalid JSON", b"{not json", "application/json"),
    ("not UTF-8", b"\xff\xfe", FORM),
    ("two payloads", b"payload=%7B%7D&payload=%7B%7D", FORM),
    ("a repeated field", _command() + b"&user_id=UBOB", FORM),
    ("no user_id", _command(user_id=None), FORM),
    ("no trigger_id", _command(trigger_id=None), FORM),
    ("no channel_id", _command(channel_id=None), FORM),
    ("a user id with NUL", _command(user_id="U\x00A"), FORM),
    ("a form of nothing", b"a=b", FORM),
    ("plain text", b"command=/flow", "text/plain"),
    ("team a string", interaction_body(_click(team="T0001")), FORM),
    ("team a number", interaction_body(_click(team=1)), FORM),
    ("team a list", interaction_body(_click(team=[])), FORM),
    ("state a string", interaction_body(_click(state="x")), FORM),
    ("state.values a list", interaction_body(_click(state={"values": []})), FORM),
    ("state of no element", interaction_body(_click(state={"values": {"b": {"a": 1}}})), FORM),
    ("channel a string", interaction_body(_click(channel="C0CHANNEL")), FORM),
    ("no actions", interaction_body(_click(actions=[])), FORM),
    (
        "a lock id of a path",
        interaction_body(_click(actions=[{"action_id": "a", "value": "../x"}])),
        FORM,
    ),
    ("a user id object", interaction_body(_click(user={"id": {"id": "U1"}})), FORM),
    ("an event of a string", b'{"type":"event_callback","event":"x"}', "application/json"),
    ("authorizations", b'{"type":"event_callback","authorizations":"x"}', "application/json"),
    (
        "a member of a number",
        b'{"type":"event_callback","event":{"type":"member_left_channel","user":5,"channel":"C1"}}',
        "application/json",
    ),
    ("an unknown type", b'{"type":"shortcut","user":{"id":"U1"}}', "application/json"),
    (
        "a view of a list",
        interaction_body({"type": "view_submission", "user": {"id": "U1"}, "view": []}),
        FORM,
    ),
    *(
        (f"a lone surrogate in {callback}'s metadata", _view(callback, "\ud800.x"), FORM)
        for callback in ("lockstep_entry", "lockstep_lock")
    ),
    *(
        (f"{kind} naming no workspace", _event({"type": kind, "tokens": {"bot": ["U1"]}}), JSON)
        for kind in ("app_uninstalled", "tokens_revoked")
    ),
]


@pytest.mark.parametrize(("name", "body", "content_type"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_a_signed_malformed_request_is_400_logs_one_line_and_changes_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture, name: str, body: bytes, content_type: str
) -> None:
    caplog.set_level(logging.INFO)
    warnings(caplog)
    headers = signed_headers(SECRET, body, content_type=content_type)
    assert await post(bot, body, headers) == 400
    [line] = warnings(caplog)
    assert line.startswith("refused a malformed Slack request: ")
    await bot.lockstep.handlers.drain()
    await nothing_changed(bot)


async def test_slack_checking_the_url_is_answered(bot: Bot) -> None:
    body = b'{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY"}'
    async with bot.http.post(
        bot.url, data=body, headers=signed_headers(SECRET, body, content_type="application/json")
    ) as response:
        assert (response.status, await response.json()) == (
            200,
            {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"},
        )
    ssl = b"ssl_check=1&token=x"
    assert await post(bot, ssl, signed_headers(SECRET, ssl)) == 200
    other = b'{"type":"event_callback","event":{"type":"app_mention","user":"U1"}}'
    assert await post(bot, other, signed_headers(SECRET, other, content_type="application/json"))
    await nothing_changed(bot)


async def test_a_person_revoking_their_own_token_is_not_the_app_leaving(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A one-token bot warns that its token must be replaced only when Slack says the bot's
    token went: ``tokens_revoked`` naming only people's tokens (``oauth``) is not that."""
    caplog.set_level(logging.INFO)
    for bots, leaves in (([], False), (["UBOT"], True)):
        revoked = {"type": "tokens_revoked", "tokens": {"oauth": ["UALICE"], "bot": bots}}
        body = json.dumps({"type": "event_callback", "team_id": "T0001", "event": revoked}).encode()
        assert await post(bot, body, signed_headers(SECRET, body, content_type=JSON)) == 200
        left = [line for line in warnings(caplog) if "left the workspace" in line]
        assert bool(left) == leaves, bots


# tampered metadata, clicks on another lock -------------------------------------------------


async def test_tampered_entry_metadata_starts_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.command("start deploy")
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.response["view"]
    sealed = view["private_metadata"]
    assert '"channel": "C0CHANNEL"' in sealed  # readable, but sealed: a change breaks the seal
    values = input_value("service", "api") | input_value("version", "1.2.3")
    caplog.set_level(logging.INFO)
    for metadata in [
        sealed.replace("C0CHANNEL", "C0ELSEWHERE"),
        json.dumps({"flow": "deploy", "channel": "C0ELSEWHERE"}),
        sealed.split(".", 1)[1],
        "x",
        "",
        sealed.replace("deploy", "review"),
    ]:
        warnings(caplog)
        status, body = await bot.submit_view(
            view | {"private_metadata": metadata}, values, "UALICE"
        )
        assert status == 200 and json.loads(body)["response_action"] == "update"
        assert "not one Lockstep opened" in body
        assert len(warnings(caplog)) == 1
    assert await bot.lockstep.store.executions() == []
    assert await bot.submit_view(view, values, "UALICE") == (200, "")  # untouched: it starts
    [execution] = await bot.lockstep.store.executions()
    assert execution.context["channel"] == CHANNEL


async def test_a_click_acts_only_on_the_lock_its_message_shows(bot: Bot) -> None:
    mine = await start_echo(bot, "mine")
    other = await start_echo(bot, "other")
    other_lock = other["blocks"][-1]["elements"][0]["value"]
    forged = mine | {"blocks": other["blocks"]}  # my message, the other lock's buttons
    assert (await bot.click(forged, "lockstep_submit", "UBOB", input_value("note", "hi")))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert "does not belong to the form it was on" in note.args["text"]
    assert (await bot.lockstep.engine.lock(other_lock)).open
    await bot.click(forged, "lockstep_cancel", "UBOB")
    await bot.click(forged, "lockstep_snooze", "UBOB")
    await bot.click(other | {"ts": "1234.5678"}, "lockstep_submit", "UBOB")  # no such message
    await bot.slack.wait_for("chat.postEphemeral", count=4)
    assert (await bot.lockstep.engine.lock(other_lock)).open
    events = await bot.lockstep.store.events(
        (await bot.lockstep.engine.lock(other_lock)).execution_id
    )
    assert [e.kind for e in events if e.call_id == other_lock] == ["lock_opened"]
    await bot.click(other, "lockstep_submit", "UBOB", input_value("note", "hi"))  # its message
    await bot.lockstep.handlers.drain()
    assert not (await bot.lockstep.engine.lock(other_lock)).open


async def test_tampered_lock_form_metadata_decides_nothing(bot: Bot) -> None:
    survey = await start_without_form(bot, "survey")
    fragile = await start_without_form(bot, "fragile")
    target = fragile["blocks"][-1]["elements"][0]["value"]
    await bot.click(survey, "lockstep_open", "UBOB")
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.response["view"]
    own = view["private_metadata"]
    for metadata in [target, f"{own.split('.')[0]}.{target}", ""]:
        status, body = await bot.submit_view(
            view | {"private_metadata": metadata}, input_value("x", "mine"), "UBOB"
        )
        assert status == 200 and "not one Lockstep opened" in body
    assert (await bot.lockstep.engine.lock(target)).open


# outsiders ---------------------------------------------------------------------------------


async def member_event(bot: Bot, kind: str, user: str) -> int:
    body = json.dumps(
        {"type": "event_callback", "team_id": "T0001", "event_id": f"Ev{time.monotonic_ns()}",
         "event": {"type": kind, "user": user, "channel": CHANNEL, "channel_type": "C"}}
    ).encode()  # fmt: skip
    return await post(bot, body, signed_headers(SECRET, body, content_type="application/json"))


async def test_outsiders_cannot_answer_a_lock_that_names_no_approvers(bot: Bot) -> None:
    message = await start_without_form(bot, "nudged")  # anyone in the channel may answer
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    await bot.click(message, "lockstep_submit", "UOUTSIDER", input_value("note", "mine"))
    await bot.click(message, "lockstep_snooze", "UOUTSIDER")
    notes = await bot.slack.wait_for("chat.postEphemeral", count=2)
    assert {n.args["text"] for n in notes} == {"Only members of this channel can decide this."}
    assert (await bot.lockstep.engine.lock(lock_id)).open
    trail = await bot.lockstep.engine.trail((await bot.lockstep.engine.lock(lock_id)).execution_id)
    refused = [(e.actor, e.detail["action"]) for e in trail[2] if e.kind == "refused"]
    assert sorted(refused) == [("UOUTSIDER", "snooze"), ("UOUTSIDER", "submit")]

    # Slack says who joins and leaves: the cached members follow at once
    lookups = len(bot.slack.calls_to("conversations.members"))
    assert await member_event(bot, "member_left_channel", "UBOB") == 200
    await bot.click(message, "lockstep_submit", "UBOB", input_value("note", "gone"))
    await bot.slack.wait_for("chat.postEphemeral", count=3)
    assert (await bot.lockstep.engine.lock(lock_id)).open
    assert await member_event(bot, "member_joined_channel", "UOUTSIDER") == 200
    await bot.click(message, "lockstep_submit", "UOUTSIDER", input_value("note", "joined"))
    await bot.lockstep.handlers.drain()
    decided = await bot.lockstep.engine.lock(lock_id)
    assert decided.actor == "UOUTSIDER" and decided.result == {"note": "joined"}
    assert len(bot.slack.calls_to("conversations.members")) == lookups  # no new lookup


async def test_an_entry_form_is_refused_to_someone_who_left_its_channel_since(bot: Bot) -> None:
    """Who may start a run in a channel is asked again as the form comes back: /flow start
    was typed there, the Home's chooser checked it at Next, and people leave."""
    bot.slack.hang_next("conversations.members", 3)  # Slack slow to say who is in it
    assert (await bot.command("start deploy", "UALICE"))[0] == 200
    [opened] = await bot.slack.wait_for("views.open")
    entry = opened.response["view"]
    deploy = {**input_value("service", "api"), **input_value("version", "1.2.3")}
    # asked as the form opened (or now, whichever comes first): one question, still asked
    status, body = await bot.submit_view(entry, deploy, "UALICE")
    assert status == 200 and "did not say in time" in body
    assert await bot.lockstep.store.executions() == []
    await bot.slack.wait_for("conversations.members")  # Slack answers at last: cached

    bot.slack.leave(CHANNEL, "UALICE")
    assert await member_event(bot, "member_left_channel", "UALICE") == 200
    status, body = await bot.submit_view(entry, deploy, "UALICE")
    assert status == 200 and "no longer in the channel" in json.loads(body)["view"]["blocks"][0][
        "text"]["text"]  # fmt: skip
    assert await bot.lockstep.store.executions() == []
    bot.slack.join(CHANNEL, "UALICE")
    assert await member_event(bot, "member_joined_channel", "UALICE") == 200
    status, body = await bot.submit_view(entry, deploy, "UALICE")
    assert (status, body) == (200, "")
    assert len(await bot.lockstep.store.executions()) == 1

    await bot.shortcut(home.START_SHORTCUT, "UBOB")  # the same, from the Home's chooser
    chooser = (await bot.slack.wait_for("views.open", count=2))[-1].response["view"]
    _, body = await bot.submit_view(chooser, chosen("deploy", CHANNEL), "UBOB")
    chosen_entry = json.loads(body)["view"] | {"id": chooser["id"]}
    bot.slack.leave(CHANNEL, "UBOB")
    assert await member_event(bot, "member_left_channel", "UBOB") == 200
    status, body = await bot.submit_view(chosen_entry, deploy, "UBOB")
    assert "no longer in the channel" in body and len(await bot.lockstep.store.executions()) == 1


async def test_a_flow_started_in_a_private_channel_lockstep_is_not_in_asks_to_invite_it(
    bot: Bot,
) -> None:
    """Slack tells a bot nothing of a private channel it was not invited to
    (``channel_not_found``): whoever starts a flow there, by command, entry form or the
    Home's chooser, is told to invite Lockstep, not that they are not in their own channel."""
    bot.slack.fail_next("conversations.members", error="channel_not_found")
    status, said = await bot.command("start ship", "UBOB")
    assert status == 200 and "Lockstep is not in this channel" in said
    assert "You are not" not in said
    assert (await bot.command("start deploy", "UBOB"))[0] == 200
    [opened] = await bot.slack.wait_for("views.open")
    deploy = {**input_value("service", "api"), **input_value("version", "1.2.3")}
    status, body = await bot.submit_view(opened.response["view"], deploy, "UBOB")
    assert "Lockstep is not in the channel this form was for" in body
    await bot.shortcut(home.START_SHORTCUT, "UBOB")
    chooser = (await bot.slack.wait_for("views.open", count=2))[-1].response["view"]
    _, body = await bot.submit_view(chooser, chosen("deploy", CHANNEL), "UBOB")
    assert "Lockstep is not in that channel" in body
    assert await bot.lockstep.store.executions() == []
    # invited: Slack says the bot joined, and what it knew of the channel is asked again
    assert await member_event(bot, "member_joined_channel", "UBOT") == 200
    assert (await bot.command("start ship", "UBOB"))[0] == 200
    await bot.lockstep.handlers.drain()
    [run] = await bot.lockstep.store.executions()
    assert run.initiator == "UBOB"


async def test_who_is_in_the_channel_is_asked_as_the_entry_form_opens(bot: Bot) -> None:
    """So the submission's own question costs no wait on Slack before the modal's ack."""
    assert (await bot.command("start deploy", "UALICE"))[0] == 200
    [opened] = await bot.slack.wait_for("views.open")
    await bot.slack.wait_for("conversations.members")
    deploy = {**input_value("service", "api"), **input_value("version", "1.2.3")}
    assert await bot.submit_view(opened.response["view"], deploy, "UALICE") == (200, "")
    assert len(bot.slack.calls_to("conversations.members")) == 1


async def group_event(bot: Bot, group: str, added: list[str], removed: list[str]) -> int:
    body = json.dumps(
        {"type": "event_callback", "team_id": "T0001", "event_id": f"Ev{time.monotonic_ns()}",
         "event": {"type": "subteam_members_changed", "subteam_id": group, "team_id": "T0001",
                   "added_users": added, "removed_users": removed}}
    ).encode()  # fmt: skip
    return await post(bot, body, signed_headers(SECRET, body, content_type="application/json"))


async def test_someone_taken_out_of_an_approvers_group_cannot_answer_from_then_on(
    bot: Bot,
) -> None:
    """Slack says who joins and leaves a user group: the cached members follow at once."""
    message = await start_without_form(bot, "vetted")  # UAPPROVER or the group SREVIEW
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    await bot.click(message, "lockstep_submit", "UCAROL", input_value("x", "not yet"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert "can decide this" in note.args["text"]  # the group is asked, and cached
    lookups = len(bot.slack.calls_to("usergroups.users.list"))
    assert await group_event(bot, "SREVIEW", ["UCAROL"], ["UGROUPIE"]) == 200
    await bot.click(message, "lockstep_submit", "UGROUPIE", input_value("x", "gone"))
    await bot.slack.wait_for("chat.postEphemeral", count=2)
    assert (await bot.lockstep.engine.lock(lock_id)).open
    await bot.click(message, "lockstep_submit", "UCAROL", input_value("x", "added"))
    await bot.lockstep.handlers.drain()
    decided = await bot.lockstep.engine.lock(lock_id)
    assert decided.actor == "UCAROL" and decided.result == {"x": "added"}
    assert len(bot.slack.calls_to("usergroups.users.list")) == lookups  # no new lookup
    for malformed in ([5], ["not an id"], "UCAROL"):
        assert await group_event(bot, "SREVIEW", malformed, []) == 400  # type: ignore[arg-type]


async def test_a_group_in_a_workspace_without_user_groups_holds_nobody(bot: Bot) -> None:
    """Slack's free plan has no user groups (``plan_upgrade_required``): a group a lock names
    holds nobody there, and whoever else clicks is told who may answer, not to try again."""
    bot.slack.fail_next("usergroups.users.list", error="plan_upgrade_required", times=3)
    message = await start_without_form(bot, "vetted")  # UAPPROVER or the group SREVIEW
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    await bot.click(message, "lockstep_submit", "UGROUPIE", input_value("x", "mine"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"] == "Only <@UAPPROVER> or <!subteam^SREVIEW> can decide this."
    assert (await bot.lockstep.engine.lock(lock_id)).open


def test_the_app_manifest_subscribes_to_the_member_events_the_bot_follows() -> None:
    manifest = (Path(__file__).resolve().parent.parent / "slack-app-manifest.yml").read_text()
    events = re.search(r"\n( +)bot_events:\n((?:\1 +- .*\n)+)", manifest)
    assert events is not None
    assert re.findall(r"- (\w+)", events[2]) == [
        *MEMBER_EVENTS,
        GROUP_CHANGED,
        "app_uninstalled",
        "tokens_revoked",
        HOME_OPENED,
    ]
    scopes = re.findall(r"^ +- ([\w:.]+)", manifest.split("scopes:", 1)[1], re.MULTILINE)
    assert {"channels:read", "groups:read", "usergroups:read"} <= set(
        scopes
    )  # what the events need


async def test_an_outsider_slack_will_not_whisper_to_in_the_channel_is_told_in_a_modal(
    bot: Bot,
) -> None:
    """Someone looking into a public channel they are not in may click; Slack takes no
    ephemeral for them there (``user_not_in_channel``), so the refusal opens as a modal."""
    message = await start_without_form(bot, "nudged")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    await bot.click(message, "lockstep_submit", "UOUTSIDER", input_value("note", "mine"))
    await bot.click(message, "lockstep_snooze", "UOUTSIDER")
    opened = await bot.slack.wait_for("views.open", count=2)
    texts = [o.args["view"]["blocks"][0]["text"]["text"] for o in opened]
    assert texts == ["Only members of this channel can decide this."] * 2
    assert bot.slack.ephemerals("UOUTSIDER") == []  # Slack refused them
    assert (await bot.lockstep.engine.lock(lock_id)).open


async def test_outsiders_cannot_answer_in_a_modal_either(bot: Bot) -> None:
    survey = await start_without_form(bot, "survey")
    await bot.click(survey, "lockstep_open", "UBOB")  # the modal an outsider sends is Bob's
    [opened] = await bot.slack.wait_for("views.open")  # (or theirs from before they left)
    status, body = await bot.submit_view(
        opened.response["view"], input_value("q0", "mine"), "UOUTSIDER"
    )
    assert status == 200 and "Only members of this channel can decide this." in body
    assert (await bot.lockstep.engine.lock(survey["blocks"][-1]["elements"][0]["value"])).open


# bounds ------------------------------------------------------------------------------------


async def test_a_comment_too_long_is_refused_with_a_note(bot: Bot) -> None:
    message = await start_echo(bot, "hello")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    values = input_value("comment", "x" * 200_000)
    assert (await bot.click(message, "lockstep_cancel", "UBOB", values))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert "*Comment*: Use at most 3000 characters (you used 200000)." in note.args["text"]
    assert (await bot.lockstep.engine.lock(lock_id)).open
    values = input_value("note", "y" * 200_000)
    await bot.click(message, "lockstep_submit", "UBOB", values)
    [_, note] = await bot.slack.wait_for("chat.postEphemeral", count=2)
    assert "*Note*: Use at most 3000 characters (you used 200000)." in note.args["text"]
    assert (await bot.lockstep.engine.lock(lock_id)).open
    await bot.lockstep.engine.idle()
    for call in bot.slack.calls:
        assert len(call.args.get("text") or "") <= 4000, call.method
        assert len(json.dumps(call.args.get("blocks") or [])) <= 13_000, call.method
    assert "too long for a command (5000 characters" in (await bot.command("x" * 5000))[1]
    assert_valid_surfaces(bot.slack)


async def test_control_characters_are_taken_out_on_every_backend(bot: Bot, store: SQLStore) -> None:
    message = await start_echo(bot, "nul\x00 in\x07 here")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    values = input_value("comment", "bad\x00 \ud800comment\x1b[31m")  # NUL, lone surrogate, ESC
    assert (await bot.click(message, "lockstep_cancel", "UBOB", values))[0] == 200
    await bot.lockstep.handlers.drain()
    lock = await bot.lockstep.engine.lock(lock_id)
    assert (lock.status, lock.comment) == ("rejected", "bad comment[31m")
    execution = await store.execution(lock.execution_id)
    assert execution.inputs == {"words": "nul in here"}
    await bot.lockstep.engine.settled(lock.execution_id)
    decided = next(
        m for m in bot.slack.thread(CHANNEL, message["thread_ts"]) if m["ts"] == message["ts"]
    )
    assert fields(decided)["Comment"] == "bad comment[31m"


# what people type shows as typed ------------------------------------------------------------


async def start_echo(bot: Bot, words: str) -> dict[str, Any]:
    before = len(bot.slack.calls_to("chat.postMessage"))
    views = len(bot.slack.calls_to("views.open"))
    await bot.command("start echo")
    [*_, opened] = await bot.slack.wait_for("views.open", count=views + 1)
    await bot.submit_view(opened.response["view"], input_value("words", words), "UALICE")
    await bot.slack.wait_for("chat.postMessage", count=before + 4)  # parent, 2 progress, lock
    await bot.lockstep.engine.idle()
    parent = bot.slack.messages(CHANNEL)[-1]
    return bot.slack.thread(CHANNEL, parent["ts"])[-1]


async def test_what_people_type_never_pings_or_links_anywhere(bot: Bot) -> None:
    message = await start_echo(bot, HOSTILE)
    thread = bot.slack.thread(CHANNEL, message["thread_ts"])
    debug, markdown = thread[1]["text"], thread[2]["text"]
    assert debug == "typed:\n&lt;!channel&gt; &lt;!here&gt; &lt;@U0BOSS&gt; " + (
        "&lt;https://evil.example|click here&gt; [click here](https://evil.example) here"
    )
    assert markdown.startswith("<@UALICE>: *")  # the author asked for that mention, and got it
    assert "[click here](https://evil.example)" in markdown  # quoted: shown as typed
    values = input_value("note", HOSTILE) | input_value("comment", HOSTILE)
    await bot.click(message, "lockstep_snooze", "UBOB")
    await bot.click(message, "lockstep_cancel", "UBOB", values)
    await bot.lockstep.handlers.drain()
    [execution] = await bot.lockstep.store.executions()
    await bot.lockstep.engine.settled(execution.id)
    decided = next(
        m for m in bot.slack.thread(CHANNEL, message["thread_ts"]) if m["ts"] == message["ts"]
    )
    assert fields(decided)["Comment"] == HOSTILE.replace("\ufdd0", "").replace("\ufdd1", "")
    status = (await bot.command(f"status {execution.id[:8]}"))[1]
    assert "rejected by <@UBOB>" in status and "&lt;!channel&gt;" in status
    await bot.command(f"audit {execution.id}")
    [upload] = await bot.slack.wait_for("files.completeUploadExternal")
    [named] = bot.slack.calls_to("files.getUploadURLExternal")
    assert named.args["filename"] == f"lockstep-{execution.id}.json"
    answers = [(await bot.command(text))[1] for text in (HOSTILE, f"start {HOSTILE}",
               f"status {HOSTILE}", f'start echo "{HOSTILE}"=1', f"cancel {TYPED[0]}")]  # fmt: skip
    for answer in answers:
        assert "&lt;" in answer, answer  # each says what was typed, escaped
    texts = [*every_live_text(bot), status, json.dumps(upload.args), *answers]
    assert foreign_markup(texts) == []
    parent = bot.slack.messages(CHANNEL)[-1]
    assert parent["text"].startswith("*Echo &lt;!channel&gt;* · started by <@UALICE>")
    assert assert_valid_surfaces(bot.slack) >= 7


async def test_an_author_mentions_only_where_asked(bot: Bot) -> None:
    """``mention()`` is live in the author's Markdown; the same words typed are not."""
    message = await start_echo(bot, "plain")
    thread = bot.slack.thread(CHANNEL, message["thread_ts"])
    assert thread[2]["text"] == "<@UALICE>: *plain*"
    assert foreign_markup(every_live_text(bot)) == []


def test_what_a_file_upload_says_is_kept_only_as_storable_text() -> None:
    """A file's fields come back cleaned, its keys too (a lone surrogate is no key a store
    could keep)."""
    upload = {"type": "file_input", "files": [{"id": "F1", "na\ud800me": "a\ud800.txt", "size": 3}]}
    view = {"id": "V1", "callback_id": "lockstep_lock", "state": {"values": {"b": {"f": upload}}}}
    body = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "view": view}
    [file] = inbound.view_submit(body).state["b"]["f"]["files"]
    assert file == {"id": "F1", "name": "a.txt", "size": 3}
    json.dumps(file).encode()  # storable as it is


async def test_a_made_up_reject_on_a_form_without_cancel_rejects_nothing(bot: Bot) -> None:
    """The form offers Submit only: a Cancel click someone made up (or an API rejection) is
    refused with a note, the lock stays open and the run goes on."""
    message = await start_without_form(bot, "nudged")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    reject = {"type": "button", "action_id": "lockstep_cancel", "value": lock_id,
              "text": {"type": "plain_text", "text": "Reject"}}  # fmt: skip
    made_up = {"type": "actions", "block_id": "lock_actions", "elements": [reject]}
    forged = message | {"blocks": [*message["blocks"][:-1], made_up]}
    assert (await bot.click(forged, "lockstep_cancel", "UBOB"))[0] == 200
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert "no Cancel" in note.args["text"]
    lock = await bot.lockstep.engine.lock(lock_id)
    assert lock.open
    assert (await bot.lockstep.store.execution(lock.execution_id)).status == "awaiting"


async def test_a_view_id_someone_else_sent_does_not_take_their_form_s_run(bot: Bot) -> None:
    """A run started by a form is keyed by who sent it and the form: a submission carrying
    another person's view id (made up, or replayed with the user changed) starts its sender's
    own run, and the form's owner still starts theirs; the same person again is the same run."""
    await bot.command("start deploy", "UALICE")
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.response["view"]
    deploy = {**input_value("service", "api"), **input_value("version", "1.2.3")}
    assert await bot.submit_view(view, deploy, "UBOB") == (200, "")  # Alice's view id, by Bob
    assert await bot.submit_view(view, deploy, "UALICE") == (200, "")
    assert await bot.submit_view(view, deploy, "UALICE") == (200, "")  # sent again: one run
    runs = await bot.lockstep.store.executions()
    assert sorted(e.initiator for e in runs) == ["UALICE", "UBOB"]

    await bot.shortcut(home.START_SHORTCUT, "UBOB")  # the same for a flow without a form
    chooser = (await bot.slack.wait_for("views.open", count=2))[-1].response["view"]
    for user in ("UCAROL", "UBOB", "UBOB"):
        assert await bot.submit_view(chooser, chosen("ship", CHANNEL), user) == (200, "")
    ships = [e.initiator for e in await bot.lockstep.store.executions() if e.flow == "ship"]
    assert sorted(ships) == ["UBOB", "UCAROL"]


async def test_a_request_no_listener_takes_is_404_and_one_line_a_minute(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed, well-formed action, modal or shortcut Lockstep never made (an old message's
    button, a made-up callback id): 404, and one short line, then one a minute at most, instead
    of Bolt's warning of several lines with a listener to paste, for every such request."""
    who = {"team": {"id": "T0001"}, "user": {"id": "UBOB"}, "trigger_id": "1.2.t"}
    kinds = [
        {"type": "block_actions", "actions": [{"action_id": "old_button", "value": "x"}]},
        {"type": "view_submission", "view": {"id": "V1", "callback_id": "old_modal"}},
        {"type": "shortcut", "callback_id": "old_shortcut"},
    ]
    caplog.set_level(logging.INFO)
    for _ in range(3):
        for kind in kinds:
            assert (await bot.post(interaction_body(who | kind)))[0] == 404
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == ["refused a Slack request no listener takes: block_actions"]
    later = bot.lockstep.refusals.clock() + 61
    bot.lockstep.refusals.clock = lambda: later
    caplog.clear()
    assert (await bot.post(interaction_body(who | kinds[2])))[0] == 404
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "refused a Slack request no listener takes: shortcut (and 8 more since the last such line)"
    ]
    await nothing_changed(bot)


async def test_a_lock_button_clicked_outside_its_message_tells_the_clicker(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy of a lock's buttons in a view (a Home, a modal) has no channel for a private
    note: the clicker is told in a modal that nothing changed, and nothing does."""
    message = await start_without_form(bot, "nudged")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    view = {"id": "V0HOME", "type": "home", "blocks": message["blocks"]}
    caplog.set_level(logging.INFO)
    for action in ("lockstep_submit", "lockstep_cancel", "lockstep_snooze", "lockstep_open"):
        button = {"type": "button", "action_id": action, "value": lock_id}
        payload = {
            "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
            "trigger_id": f"trigger-{action}", "container": {"type": "view", "view_id": "V0HOME"},
            "view": view, "actions": [{**button, "block_id": "lock_actions"}],
        }  # fmt: skip
        assert (await bot.post(interaction_body(payload)))[0] == 200
    await bot.lockstep.handlers.drain()
    opened = bot.slack.calls_to("views.open")
    assert [c.args["trigger_id"] for c in opened] == [
        "trigger-lockstep_submit", "trigger-lockstep_cancel", "trigger-lockstep_snooze",
        "trigger-lockstep_open",
    ]  # fmt: skip
    for call in opened:
        assert messages.NOT_THIS_MESSAGE in json.dumps(call.args["view"])
    lock = await bot.lockstep.engine.lock(lock_id)
    assert lock is not None and lock.open
    events = await bot.lockstep.store.events(lock.execution_id)
    assert [e.kind for e in events if e.call_id == lock_id] == ["lock_opened"]
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 4  # one each


async def test_a_user_id_that_is_a_group_s_id_is_no_one(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's people are ``U…`` or ``W…``: a signed click, modal or command whose user is
    shaped like a user group (``S…``), a channel or a team, which an approvers list may name,
    is malformed (400), and decides nothing."""
    message = await start_without_form(bot, "vetted")  # UAPPROVER or the group SREVIEW
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    caplog.set_level(logging.INFO)
    for user in ("SREVIEW", "C0CHANNEL", "T0001"):
        status, _ = await bot.click(message, "lockstep_submit", user, input_value("x", "me"))
        assert status == 400, user
        assert (await bot.command("status", user))[0] == 400
    await bot.lockstep.handlers.drain()
    lock = await bot.lockstep.engine.lock(lock_id)
    assert lock is not None and lock.open
    events = await bot.lockstep.store.events(lock.execution_id)
    assert [e.kind for e in events if e.call_id == lock_id] == ["lock_opened"]


async def test_a_click_on_a_cancelled_run_s_form_says_who_cancelled_it(bot: Bot) -> None:
    """Cancelling is a decision too: the form's message and whoever answers it late (in the
    thread, or in a modal opened before) are told who cancelled the run, and the lock records
    it."""
    survey = await start_without_form(bot, "survey")
    lock_id = survey["blocks"][-1]["elements"][0]["value"]
    await bot.click(survey, "lockstep_open", "UBOB")
    [opened] = await bot.slack.wait_for("views.open")
    lock = await bot.lockstep.engine.lock(lock_id)
    assert lock is not None
    assert "is cancelled" in (await bot.command(f"cancel {lock.execution_id[:8]}", "UALICE"))[1]
    status, body = await bot.submit_view(opened.response["view"], input_value("q0", "x"), "UBOB")
    assert status == 200 and "This run was cancelled by <@UALICE>" in body
    await bot.click(survey, "lockstep_open", "UCAROL")
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"].startswith("This run was cancelled by <@UALICE>")
    cancelled = await bot.lockstep.engine.lock(lock_id)
    assert cancelled is not None and (cancelled.status, cancelled.actor) == ("cancelled", "UALICE")
    await bot.lockstep.engine.settled(lock.execution_id)
    shown = next(
        m for m in bot.slack.thread(CHANNEL, survey["thread_ts"]) if m["ts"] == survey["ts"]
    )
    assert "Cancelled with its run by <@UALICE>" in shown["text"]


async def test_flow_start_without_a_form_starts_nothing_for_someone_not_in_the_channel(
    bot: Bot,
) -> None:
    """As the entry form and the Home's chooser ask, ``/flow start`` of a flow without a form
    asks whether whoever typed it is in the channel it names, before the run goes there."""
    status, said = await bot.command("start ship", "UOUTSIDER")  # the answer: theirs alone
    assert status == 200 and "not in this channel" in said
    assert await bot.lockstep.store.executions() == []
    assert (await bot.command("start ship", "UBOB"))[0] == 200  # a member: it starts
    await bot.lockstep.handlers.drain()
    [run] = await bot.lockstep.store.executions()
    assert run.initiator == "UBOB"


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_a_note_slack_cannot_deliver_where_it_was_asked_is_one_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    """A click naming a channel the bot is not in (or one archived) is refused with a private
    note there, which Slack will not deliver: one warning line, no traceback, and no second
    note in the same place saying something went wrong. (A channel the clicker is not in: the
    note is a modal, as an outsider's refusal is, above.)"""
    message = await start_without_form(bot, "nudged")
    lock_id = message["blocks"][-1]["elements"][0]["value"]
    button = {"type": "button", "action_id": "lockstep_submit", "value": lock_id}
    payload = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
        "trigger_id": "1.2.t", "channel": {"id": "C0ELSEWHERE"},
        "message": message, "actions": [{**button, "block_id": "lock_actions"}],
    }  # fmt: skip
    bot.slack.fail_next("chat.postEphemeral", error=code, times=2)
    caplog.set_level(logging.INFO)
    assert (await bot.post(interaction_body(payload)))[0] == 200
    await bot.lockstep.handlers.drain()
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [m for m in caplog.messages if code in m] == [
        f"could not tell UBOB where they asked: {code}"
    ]
    lock = await bot.lockstep.engine.lock(lock_id)
    assert lock is not None and lock.open


async def test_an_audit_slack_cannot_send_the_person_is_one_line(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """``/flow audit`` from someone Slack does not know (a made-up user id): the direct message
    with the file cannot be opened; one warning line, no traceback."""
    await start_without_form(bot, "nudged")
    [execution] = await bot.lockstep.store.executions()
    bot.slack.fail_next("conversations.open", error="user_not_found")
    caplog.set_level(logging.INFO)
    assert (await bot.command(f"audit {execution.id}"))[0] == 200
    await bot.lockstep.handlers.drain()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [m for m in caplog.messages if "user_not_found" in m] == [
        "could not tell UALICE where they asked: user_not_found"
    ]
