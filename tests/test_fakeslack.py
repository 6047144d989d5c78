"""The fake Slack speaks the real protocol: the real slack_sdk client and a real Bolt app talk to
it, and requests signed by ``bot.signing`` pass slack_sdk's and Bolt's own verification."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.fake.signing import interaction_body, sign, signed_headers, slash_command_body
from bot.fake.slack import FakeSlack

SECRET = "test-signing-secret"
NOW = 1_700_000_000
BLOCKS = [{"type": "section", "block_id": "b1", "text": {"type": "mrkdwn", "text": "*Hi*"}}]
MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Review"}, "blocks": BLOCKS}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(members={"C1": ["U1", "U2"]}, usergroups={"S1": ["U1"]}) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.api_url)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# the fake's own shape


async def test_serves_each_fake_on_its_own_loopback_port() -> None:
    async with FakeSlack() as one, FakeSlack() as two:
        assert one.api_url.startswith("http://127.0.0.1:") and one.api_url.endswith("/api/")
        assert one.api_url != two.api_url


async def test_auth_test_names_the_bot(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert (resp["user_id"], resp["bot_id"], resp["team_id"]) == ("UBOT", "BBOT", "T0001")
    assert resp["team"] == "Test" and resp["url"].startswith("https://example.slack.test/")
    [call] = slack.calls
    assert (call.method, call.token, call.status, call.ok) == ("auth.test", "xoxb-test", 200, True)


async def test_post_message_echoes_with_fresh_increasing_ts(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C1", text="Hi", blocks=BLOCKS)
    second = await client.chat_postMessage(channel="C1", text="Again")
    assert first["channel"] == "C1" and first["message"]["blocks"] == BLOCKS
    assert first["message"]["text"] == "Hi" and first["message"]["bot_id"] == "BBOT"
    assert float(first["ts"]) < float(second["ts"]) and len(first["ts"].split(".")[1]) == 6
    assert slack.calls_to("chat.postMessage")[0].args == {
        "channel": "C1",
        "text": "Hi",
        "blocks": BLOCKS,
    }
    assert [m["text"] for m in slack.messages("C1")] == ["Hi", "Again"]
    await api_error(client.api_call("chat.postMessage", json={"channel": "C1"}))
    assert slack.calls[-1].response == {"ok": False, "error": "no_text"}


async def test_form_bodies_are_decoded_and_may_carry_the_token(slack: FakeSlack) -> None:
    client = AsyncWebClient(base_url=slack.api_url)
    form = {"token": "xoxb-form", "channel": "C1", "text": "Hi", "blocks": json.dumps(BLOCKS)}
    await client.api_call("chat.postMessage", data=form)
    await client.api_call(
        "views.open", data={"token": "xoxb-form", "trigger_id": "t1", "view": json.dumps(MODAL)}
    )
    post, view = slack.calls
    assert post.token == "xoxb-form" and "token" not in post.args
    assert post.args["blocks"] == BLOCKS and view.args["view"] == MODAL


async def test_update_keeps_the_latest_version(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Open", blocks=BLOCKS))["ts"]
    resp = await client.chat_update(channel="C1", ts=ts, text="Decided")
    assert (resp["channel"], resp["ts"], resp["text"]) == ("C1", ts, "Decided")
    [message] = slack.messages("C1")
    assert message["text"] == "Decided" and message["blocks"] == BLOCKS  # not given: kept
    await client.chat_update(channel="C1", ts=ts, text="Decided", blocks=[])
    assert "blocks" not in slack.messages("C1")[0]
    err = await api_error(client.chat_update(channel="C1", ts="1.000000", text="x"))
    assert err.response["error"] == "message_not_found"


async def test_threads_and_permalinks(slack: FakeSlack, client: AsyncWebClient) -> None:
    parent = (await client.chat_postMessage(channel="C1", text="Flow started"))["ts"]
    reply = (await client.chat_postMessage(channel="C1", text="Lock", thread_ts=parent))["ts"]
    await client.chat_update(channel="C1", ts=reply, text="Lock (decided)")
    assert [m["ts"] for m in slack.messages("C1")] == [parent]
    assert [m["text"] for m in slack.thread("C1", parent)] == ["Flow started", "Lock (decided)"]
    link = (await client.chat_getPermalink(channel="C1", message_ts=reply))["permalink"]
    assert link.startswith("https://example.slack.test/archives/C1/p")
    assert f"thread_ts={parent}" in link


async def test_ephemerals_are_kept_per_user(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(channel="C1", user="U1", text="Fix the date")
    await client.chat_postEphemeral(channel="C1", user="U2", text="Already decided")
    assert resp["message_ts"]
    [note] = slack.ephemerals(user="U1")
    assert (note["channel"], note["text"], note["ts"]) == ("C1", "Fix the date", resp["message_ts"])
    assert len(slack.ephemerals()) == 2 and slack.messages("C1") == []


async def test_views_open_update_push(slack: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id="t1", view={**MODAL, "external_id": "e1"}))["view"]
    assert opened["id"].startswith("V") and opened["title"] == MODAL["title"]
    assert opened["blocks"] == BLOCKS and opened["state"] == {"values": {}}
    checking = {**MODAL, "title": {"type": "plain_text", "text": "Checking"}}
    updated = await client.views_update(view_id=opened["id"], view=checking, hash=opened["hash"])
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    by_external = await client.views_update(external_id="e1", view=MODAL)
    assert by_external["view"]["id"] == opened["id"]
    stale = await api_error(client.views_update(view_id=opened["id"], view=MODAL, hash="old"))
    assert stale.response["error"] == "hash_conflict"
    pushed = (await client.views_push(trigger_id="t2", view=MODAL))["view"]
    assert pushed["id"] != opened["id"] and set(slack.views) == {opened["id"], pushed["id"]}
    assert slack.views[opened["id"]]["title"] == MODAL["title"]
    missing = await api_error(client.views_update(view_id="VNONE", view=MODAL))
    assert missing.response["error"] == "not_found"


async def test_users_info_knows_any_user_id(client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U123"))["user"]
    assert (user["id"], user["name"], user["tz"]) == ("U123", "u123", "UTC")
    assert user["real_name"] == "User U123" and user["profile"]["display_name"] == "u123"
    err = await api_error(client.users_info(user="C1"))
    assert err.response["error"] == "user_not_found"


async def test_users_info_knows_named_users() -> None:
    async with FakeSlack(users={"U0ALICE": "Alice Author"}) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        alice = (await client.users_info(user="U0ALICE"))["user"]
        assert (alice["name"], alice["real_name"]) == ("alice", "Alice Author")
        assert (await client.users_info(user="U9"))["user"]["real_name"] == "User U9"


async def test_members_and_usergroups(client: AsyncWebClient) -> None:
    assert (await client.conversations_members(channel="C1"))["members"] == ["U1", "U2"]
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1"]
    err = await api_error(client.usergroups_users_list(usergroup="S9"))
    assert err.response["error"] == "no_such_subteam"


async def test_reactions_add(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Done"))["ts"]
    await client.reactions_add(channel="C1", timestamp=ts, name="white_check_mark")
    assert slack.messages("C1")[0]["reactions"][0]["name"] == "white_check_mark"
    err = await api_error(client.reactions_add(channel="C1", timestamp=ts, name="white_check_mark"))
    assert err.response["error"] == "already_reacted"


async def test_unknown_method_and_missing_token(slack: FakeSlack, client: AsyncWebClient) -> None:
    err = await api_error(client.api_call("chat.unfurlEverything"))
    assert err.response.status_code == 200 and err.response["error"] == "unknown_method"
    for token in (None, "not-a-token"):
        anonymous = AsyncWebClient(token=token, base_url=slack.api_url)
        err = await api_error(anonymous.chat_postMessage(channel="C1", text="Hi"))
        assert err.response["error"] == "not_authed"
    assert slack.messages("C1") == []


# failure injection


async def test_fail_next_with_an_error_code(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")
    err = await api_error(client.chat_postMessage(channel="C1", text="Hi"))
    assert err.response["error"] == "channel_not_found"
    await client.chat_postMessage(channel="C1", text="Hi")
    assert [c.ok for c in slack.calls_to("chat.postMessage")] == [False, True]
    assert len(slack.messages("C1")) == 1


async def test_429_without_a_retry_handler_reaches_the_caller(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", status=429)
    err = await api_error(client.chat_postMessage(channel="C1", text="Hi"))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "1"
    assert err.response["error"] == "ratelimited"


async def test_rate_limit_retry_handler_retries_then_succeeds(slack: FakeSlack) -> None:
    handler = AsyncRateLimitErrorRetryHandler(max_retry_count=1)
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[handler])
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    resp = await client.chat_postMessage(channel="C1", text="Hi")
    assert resp["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]
    assert len(slack.messages("C1")) == 1


async def test_server_error_retry_handler_retries_then_succeeds(slack: FakeSlack) -> None:
    no_wait = FixedValueRetryIntervalCalculator(0.0)
    handler = AsyncServerErrorRetryHandler(max_retry_count=1, interval_calculator=no_wait)
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[handler])
    slack.fail_next("chat.update", status=500)
    ts = (await client.chat_postMessage(channel="C1", text="Open"))["ts"]
    await client.chat_update(channel="C1", ts=ts, text="Decided")
    calls = slack.calls_to("chat.update")
    assert [c.status for c in calls] == [500, 200] and calls[0].args == calls[1].args
    assert slack.messages("C1")[0]["text"] == "Decided"


def test_fail_next_needs_a_failure() -> None:
    with pytest.raises(ValueError):
        FakeSlack().fail_next("chat.postMessage")


# waiting and response URLs


async def test_wait_for_wakes_on_the_calls(slack: FakeSlack, client: AsyncWebClient) -> None:
    async def post_twice() -> None:
        for text in ("one", "two"):
            await client.chat_postMessage(channel="C1", text=text)

    task = asyncio.create_task(post_twice())
    calls = await slack.wait_for("chat.postMessage", count=2, timeout=5)
    assert [c.args["text"] for c in calls] == ["one", "two"]
    await task
    with pytest.raises(TimeoutError, match=r"views\.open"):
        await slack.wait_for("views.open", timeout=0.05)


async def test_the_feed_streams_each_call_as_it_is_recorded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C1", text="before")
    async with slack.feed() as feed:
        await client.chat_postMessage(channel="C1", text="during")
        slack.fail_next("chat.update", error="message_not_found")
        await api_error(client.chat_update(channel="C1", ts="1.000000", text="x"))
        first, second = feed.get_nowait(), feed.get_nowait()
        assert (first.method, first.args["text"], first.ok) == ("chat.postMessage", "during", True)
        assert (second.method, second.ok) == ("chat.update", False)
        assert feed.empty()
    await client.chat_postMessage(channel="C1", text="after")
    assert feed.empty() and len(slack.calls) == 4


def test_show_ephemeral_is_a_note_not_a_call() -> None:
    slack = FakeSlack()
    note = slack.show_ephemeral("C1", "U1", {"text": "Only you", "response_type": "ephemeral"})
    assert (note["channel"], note["user"], note["text"]) == ("C1", "U1", "Only you")
    assert slack.ephemerals("U1") == [note] and slack.ephemerals("U2") == []
    assert slack.calls == []


async def test_response_url_records_posts(slack: FakeSlack) -> None:
    url = slack.response_url()
    assert url != slack.response_url() and url.startswith(slack.base_url + "/response/")
    resp = await AsyncWebhookClient(url).send(text="Saved", replace_original=True)
    assert resp.status_code == 200
    [call] = slack.calls
    assert call.method == "response_url" and call.token is None
    assert call.args == {"text": "Saved", "replace_original": True}


# signing


class FixedClock(Clock):
    def now(self) -> float:
        return NOW


def test_signature_is_accepted_by_slack_sdk_verifier() -> None:
    body = slash_command_body("/lockstep", "start review", user_id="U1", channel_id="C1")
    verifier = SignatureVerifier(SECRET, clock=FixedClock())
    headers = signed_headers(SECRET, body, timestamp=NOW)
    assert verifier.is_valid_request(body, headers)
    assert headers["X-Slack-Signature"] == verifier.generate_signature(
        timestamp=str(NOW), body=body
    )
    assert SignatureVerifier(SECRET).is_valid_request(body, signed_headers(SECRET, body))


def test_tampered_old_or_foreign_signatures_are_rejected() -> None:
    body = interaction_body({"type": "block_actions", "actions": []})
    verifier = SignatureVerifier(SECRET, clock=FixedClock())
    headers = signed_headers(SECRET, body, timestamp=NOW)
    assert not verifier.is_valid_request(body + b"&x=1", headers)
    assert not verifier.is_valid_request(body, signed_headers(SECRET, body, timestamp=NOW - 360))
    assert not verifier.is_valid_request(body, signed_headers("other", body, timestamp=NOW))
    assert verifier.is_valid_request(body, signed_headers(SECRET, body, timestamp=NOW - 290))
    assert sign(SECRET, NOW, body) == headers["X-Slack-Signature"]


def test_bodies_are_form_encoded_like_slacks() -> None:
    body = slash_command_body("/lockstep", "a&b c", user_id="U1", channel_id="C1", trigger_id="t")
    fields = dict(parse_qsl(body.decode()))
    assert (fields["command"], fields["text"], fields["trigger_id"]) == ("/lockstep", "a&b c", "t")
    assert (fields["user_id"], fields["channel_id"], fields["team_id"]) == ("U1", "C1", "T0001")
    payload = {"type": "view_submission", "view": {"id": "V1", "state": {"values": {}}}}
    assert json.loads(dict(parse_qsl(interaction_body(payload).decode()))["payload"]) == payload


def signed_request(body: bytes, secret: str = SECRET) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = {**signed_headers(secret, body)}
    return AsyncBoltRequest(body=body.decode(), headers=headers)


async def test_bolt_accepts_signed_requests_and_talks_to_the_fake(slack: FakeSlack) -> None:
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.command("/lockstep")
    async def command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        await respond(f"Starting {command['text']}")

    @app.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(channel=body["channel"]["id"], text="Approved")

    url = slack.response_url()
    body = slash_command_body(
        "/lockstep", "review", user_id="U1", channel_id="C1", response_url=url
    )
    resp = await app.async_dispatch(signed_request(body))
    assert resp.status == 200
    [said] = await slack.wait_for("response_url")
    assert said.args["text"] == "Starting review"

    action = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T0001"},
        "channel": {"id": "C1"},
        "api_app_id": "A0001",
        "trigger_id": "t1",
        "response_url": url,
        "actions": [{"type": "button", "action_id": "approve", "block_id": "b1", "value": "y"}],
    }
    body = interaction_body(action)
    resp = await app.async_dispatch(signed_request(body))
    assert resp.status == 200 and slack.messages("C1")[0]["text"] == "Approved"

    resp = await app.async_dispatch(signed_request(body, secret="not-the-secret"))
    assert resp.status == 401
    assert [c.method for c in slack.calls] == ["auth.test", "response_url", "chat.postMessage"]


async def test_faults_drop_hang_and_hook_as_asked() -> None:
    """The fake fails the way Slack and networks do: dropped before or after acting, slow."""
    async with FakeSlack() as slack, aiohttp.ClientSession() as http:
        client = AsyncWebClient(
            token="xoxb-t", base_url=slack.api_url, session=http, retry_handlers=[]
        )
        slack.drop_next("chat.postMessage")
        with pytest.raises(aiohttp.ClientError):
            await client.chat_postMessage(channel="C1", text="lost before")
        assert slack.messages("C1") == []
        slack.drop_next("chat.postMessage", when="after")
        with pytest.raises(aiohttp.ClientError):
            await client.chat_postMessage(channel="C1", text="made, answer lost")
        assert [m["text"] for m in slack.messages("C1")] == ["made, answer lost"]
        slack.hang_next("chat.postMessage", 1.5)
        slow = AsyncWebClient(
            token="xoxb-t", base_url=slack.api_url, timeout=0.5, retry_handlers=[]
        )
        with pytest.raises(TimeoutError):
            await slow.chat_postMessage(channel="C1", text="too slow")
        seen: list[str] = []
        slack.on_call("chat.update", lambda: seen.append("hook"), when="after")
        posted = await client.chat_postMessage(channel="C1", text="x")
        await client.chat_update(channel="C1", ts=posted["ts"], text="y")
        assert seen == ["hook"]


# what Slack refuses to show


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


BUTTON = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "A"}}


async def test_refuses_what_slack_refuses_to_show(slack: FakeSlack, client: AsyncWebClient) -> None:
    refused = {
        "invalid_blocks": [
            [_section("x" * 3001)],  # a section's text
            [{"type": "divider"}] * 51,  # blocks in a message
            [_section("x") | {"colour": "red"}],  # a field it does not know
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "action_id": "a",
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": "v" * 151}
                            ],
                        }
                    ],
                }
            ],
            [
                {
                    "type": "input",
                    "label": {"type": "plain_text", "text": "L"},
                    "element": {"type": "plain_text_input", "action_id": "a", "max_length": 3001},
                }
            ],
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}],
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}],
            [_section("a") | {"block_id": "b"}, _section("b") | {"block_id": "b"}],  # twice
            [{"type": "actions", "elements": [BUTTON, BUTTON]}],  # an action_id twice
            [
                {
                    "type": "input",
                    "label": {"type": "plain_text", "text": "L"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "a",
                        "initial_value": "x" * 3001,
                    },
                }
            ],
            [
                {
                    "type": "input",
                    "label": {"type": "plain_text", "text": "L"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "a",
                        "max_length": 5,
                        "initial_value": "x" * 6,
                    },
                }
            ],
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "radio_buttons",
                            "action_id": "r",
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": f"{i}"}
                                for i in range(11)
                            ],
                        }
                    ],
                }
            ],
        ],
        "msg_blocks_too_long": [[_section("x" * 2900)] * 5],
    }
    for error, cases in refused.items():
        for blocks in cases:
            posted = client.chat_postMessage(channel="C1", text="t", blocks=blocks)
            assert (await api_error(posted)).response["error"] == error, blocks
            noted = client.chat_postEphemeral(channel="C1", user="U1", text="t", blocks=blocks)
            assert (await api_error(noted)).response["error"] == error, blocks
    sent = await client.chat_postMessage(channel="C1", text="t", blocks=BLOCKS)
    update = client.chat_update(channel="C1", ts=sent["ts"], text="t", blocks=[_section("")])
    assert (await api_error(update)).response["error"] == "invalid_blocks"
    too_long = client.chat_postMessage(channel="C1", text="x" * 40_001)
    assert (await api_error(too_long)).response["error"] == "msg_too_long"
    assert slack.messages("C1")[0]["blocks"] == BLOCKS  # nothing refused changed anything

    for view in (
        MODAL | {"blocks": [{"type": "divider"}] * 101},
        MODAL | {"title": {"type": "plain_text", "text": "x" * 25}},
        MODAL | {"private_metadata": "x" * 3001},
        MODAL | {"blocks": [_section("x" * 3001)]},
    ):
        opened = client.views_open(trigger_id="1.2.3", view=view)
        assert (await api_error(opened)).response["error"] in (
            "invalid_blocks",
            "invalid_arguments",
        )
    home = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    assert (await api_error(client.views_publish(user_id="U1", view=home))).response["error"] == (
        "invalid_blocks"
    )
    webhook = AsyncWebhookClient(slack.response_url())
    answered = await webhook.send(text="t", blocks=[_section("x" * 3001)])
    assert json.loads(answered.body)["error"] == "invalid_blocks"


async def test_unchecked_it_shows_what_it_is_sent() -> None:
    """``checked=False`` (the bench's Slack) skips the Block Kit checks, and only them."""
    too_long = [_section("x" * 3001)]
    async with FakeSlack(members={"C1": ["U1"]}, checked=False) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        await client.chat_postMessage(channel="C1", text="t", blocks=too_long)
        await client.views_open(trigger_id="1.2.3", view=MODAL | {"blocks": too_long})
        assert slack.messages("C1")[0]["blocks"] == too_long
        nobody = client.chat_postEphemeral(channel="C1", user="U9", text="t")
        assert (await api_error(nobody)).response["error"] == "user_not_in_channel"
