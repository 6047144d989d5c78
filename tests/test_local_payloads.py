"""The local page's payloads are Slack's: signed so Bolt verifies them, shaped so Bolt routes them
and ``bot.inbound`` reads them, and their ``state.values`` read back by ``bot.state`` into what
the person entered, for every element ``bot.blocks`` renders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.fake.signing import signed_headers
from bot.fake.slack import FakeSlack
from bot.local import payloads
from bot.local.workspace import Workspace
from bot.render import blocks
from bot.render.state import read_state
from flows.forms import (
    Cancel,
    Checkbox,
    InputArea,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputText,
    InputTime,
    Markdown,
    Model,
    MultiSelect,
    Select,
    Submit,
    UserSelect,
)

SECRET = "local-test-secret"
WS = Workspace()
BOB = WS.person("U0BOB")
OPTIONS = [InputOption("a", "A"), InputOption("b", "B"), InputOption("c", "C")]
FORM = Model(
    Markdown("# Everything"),
    InputText("text", "Text"),
    InputArea("area", "Area"),
    InputNumber("number", "Number", min_value=1, max_value=5, step=1),
    InputDate("day", "Day"),
    InputTime("at", "At"),
    InputDateTime("when", "When"),
    Checkbox("agree", "Agree", "I agree"),
    Select("one", OPTIONS, "One"),
    MultiSelect("many", OPTIONS, "Many"),
    UserSelect("owner", "Owner"),
    UserSelect("owners", "Owners", multiple=True),
    Submit("Send"),
    Cancel("Reject"),
).to_json()
TYPED = {
    "f_text": {"text": "hello"},
    "f_area": {"area": "two\nlines"},
    "f_number": {"number": "3"},
    "f_day": {"day": "2026-01-02"},
    "f_at": {"at": "09:30"},
    "f_when": {"when": 1767225600},
    "f_agree": {"agree": ["on"]},
    "f_one": {"one": "b"},
    "f_many": {"many": ["c", "a", "not-offered"]},
    "f_owner": {"owner": "U0CAROL"},
    "f_owners": {"owners": ["U0ALICE", "U0CAROL"]},
}
READ = {
    "text": "hello",
    "area": "two\nlines",
    "number": "3",
    "day": "2026-01-02",
    "at": "09:30",
    "when": 1767225600,
    "agree": True,
    "one": "b",
    "many": ["a", "c"],
    "owner": "U0CAROL",
    "owners": ["U0ALICE", "U0CAROL"],
}


def form_fields(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode()))


def payload_of(body: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(form_fields(body)["payload"])
    return found


def lock_message() -> dict[str, Any]:
    rendered = blocks.message_blocks(FORM, lock_id="L1", title="Everything")
    message = {"type": "message", "ts": "1700000000.000200", "thread_ts": "1700000000.000100"}
    return message | {"user": "UBOT", "bot_id": "BBOT", "text": "Everything", "blocks": rendered}


def click(message: dict[str, Any], raw: payloads.Raw, action: str = "lockstep_submit") -> bytes:
    return payloads.block_actions(
        WS,
        BOB,
        channel=WS.channel_id,
        message=message,
        block_id=blocks.ACTIONS_BLOCK_ID,
        action_id=action,
        raw=raw,
        trigger_id="1.2.abc",
        response_url="http://127.0.0.1:9/response/R1",
        action_ts="1700000001.000001",
    )


def test_a_message_form_reads_back_as_typed() -> None:
    payload = payload_of(click(lock_message(), TYPED))
    assert read_state(FORM, payload["state"]["values"]) == READ
    event = inbound.button_click(payload)
    assert (event.user, event.action, event.lock_id) == ("U0BOB", "lockstep_submit", "L1")
    assert (event.channel, event.message_ts, event.thread_ts) == (
        "C0LOCKSTEP",
        "1700000000.000200",
        "1700000000.000100",
    )
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000200",
        "channel_id": "C0LOCKSTEP",
        "is_ephemeral": False,
        "thread_ts": "1700000000.000100",
    }
    [action] = payload["actions"]
    assert action["style"] == "primary" and action["block_id"] == blocks.ACTIONS_BLOCK_ID
    assert payload["user"] == {"id": "U0BOB", "username": "bob", "name": "bob", "team_id": "T0001"}
    assert payload["response_url"].endswith("/R1") and payload["trigger_id"] == "1.2.abc"


def test_a_modal_form_reads_back_as_typed() -> None:
    view = blocks.modal_view(
        FORM, title="Everything", callback_id=blocks.LOCK_CALLBACK, private_metadata="L1"
    )
    number = next(b for b in view["blocks"] if b.get("block_id") == "f_number")
    assert number["element"]["type"] == "number_input"  # modal-only, unlike in a message
    shown = view | {"id": "V1", "hash": "1.1", "state": {"values": {}}}
    payload = payload_of(payloads.view_submission(WS, BOB, view=shown, raw=TYPED, trigger_id="t"))
    assert read_state(FORM, payload["view"]["state"]["values"]) == READ
    event = inbound.view_submit(payload)
    assert (event.callback_id, event.private_metadata, event.view_id) == (
        "lockstep_lock",
        "L1",
        "V1",
    )
    assert payload["view"]["hash"] == "1.1" and payload["response_urls"] == []


def test_untouched_inputs_hold_their_initial_values() -> None:
    values = {"text": "kept", "one": "c", "many": ["b"], "agree": True, "owner": "U0ALICE"}
    rendered = blocks.message_blocks(FORM, lock_id="L1", title="T", values=values)
    state = payloads.state_values(rendered, {"f_text": {"text": ""}})
    assert read_state(FORM, state) == {
        "text": None,  # emptied by the person: Slack sends null
        "area": None,
        "number": None,
        "day": None,
        "at": None,
        "when": None,
        "agree": True,
        "one": "c",
        "many": ["b"],
        "owner": "U0ALICE",
        "owners": [],
    }


@pytest.mark.parametrize(
    "raw",
    [
        {"f_text": {"text": 3}},
        {"f_agree": {"agree": "on"}},
        {"f_when": {"when": "soon"}},
        {"f_text": "hello"},
    ],
)
def test_values_the_page_could_not_send_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        click(lock_message(), raw)


def test_only_a_posted_button_can_be_clicked() -> None:
    with pytest.raises(ValueError, match="no button"):
        click(lock_message(), {}, action="lockstep_deploy_everything")


def test_slash_command_carries_names_and_a_fresh_trigger() -> None:
    body = payloads.slash_command(
        WS, BOB, "start review", trigger_id="1.2.abc", response_url="http://r/1"
    )
    fields = form_fields(body)
    assert (fields["command"], fields["text"], fields["trigger_id"]) == (
        "/flow",
        "start review",
        "1.2.abc",
    )
    assert (fields["user_id"], fields["user_name"]) == ("U0BOB", "bob")
    assert (fields["channel_id"], fields["channel_name"]) == ("C0LOCKSTEP", "lockstep")
    event = inbound.slash_command(fields)
    assert (event.user, event.channel, event.response_url) == ("U0BOB", "C0LOCKSTEP", "http://r/1")
    assert SignatureVerifier(SECRET).is_valid_request(body, signed_headers(SECRET, body))


def signed(body: bytes, secret: str = SECRET) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = {**signed_headers(secret, body)}
    return AsyncBoltRequest(body=body.decode(), headers=headers)


async def test_bolt_verifies_and_routes_every_payload() -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    async with FakeSlack() as slack:
        app = AsyncApp(
            client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url),
            signing_secret=SECRET,
            process_before_response=True,
        )

        async def heard(ack: AsyncAck, context: AsyncBoltContext, body: dict[str, Any]) -> None:
            await ack()
            kind = body.get("type") or body.get("command") or ""
            seen.append((kind, context.user_id, context.channel_id))

        app.command("/flow")(heard)
        app.action(blocks.ACTION_SUBMIT)(heard)
        app.view(blocks.ENTRY_CALLBACK)(heard)

        command = payloads.slash_command(WS, BOB, "list", trigger_id="t", response_url="http://r")
        view = blocks.modal_view(
            FORM, title="E", callback_id=blocks.ENTRY_CALLBACK, private_metadata="{}"
        ) | {"id": "V1"}
        submit = payloads.view_submission(WS, BOB, view=view, raw={}, trigger_id="t")
        for body in (command, click(lock_message(), TYPED), submit):
            assert (await app.async_dispatch(signed(body))).status == 200
        assert (await app.async_dispatch(signed(command, "another secret"))).status == 401
    assert seen == [
        ("/flow", "U0BOB", "C0LOCKSTEP"),
        ("block_actions", "U0BOB", "C0LOCKSTEP"),
        ("view_submission", "U0BOB", None),
    ]
