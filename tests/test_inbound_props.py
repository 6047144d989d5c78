"""Property tests over the whole inbound surface, through the real bot on real HTTP: any request,
signed or not, well-formed or not, gets a 2xx or a 4xx, never a 5xx; nothing fails after the
ack; the process lives on; and state changes only for a valid, authorised action.

Hypothesis drives synchronous tests, so the bot runs on an event loop of its own, in a thread,
for the whole module (one bot per backend), and each example is a coroutine run there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.fake.signing import FORM, interaction_body, sign
from bot.seal import Seal
from flows import Request
from flows.engine import Call
from flows.text import clean
from store import SQLStore
from tests.conftest import BACKENDS
from tests.slackbot import CHANNEL, SECRET, Bot, input_value, running_bot

T = TypeVar("T")
MEMBERS = ("UALICE", "UBOB", "UCAROL", "UGROUPIE")  # the channel's, in tests.slackbot
JSON_TYPE = "application/json"
FUZZ = "C0FUZZ"  # the one channel where generated requests may start runs


class Errors(logging.Handler):
    """Every log record at ERROR or worse, from any logger: a failure after the ack, a listener
    that raised, aiohttp's own "Error handling request"."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@dataclass
class Live:
    """The running bot, its loop, and what it must never change: a run whose lock only
    UAPPROVER (or the SREVIEW group) may decide, and who no generated request ever is."""

    bot: Bot
    loop: asyncio.AbstractEventLoop
    errors: Errors
    guarded: Call
    guarded_message: dict[str, Any]

    def run(self, work: Awaitable[T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(_awaited(work), self.loop)
        return future.result(timeout)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def _post(live: Live, body: bytes, headers: dict[str, str]) -> int:
    async def post() -> int:
        async with live.bot.http.post(live.bot.url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    return live.run(post())


async def _settle(bot: Bot) -> None:
    assert bot.lockstep is not None
    await asyncio.wait_for(bot.lockstep.handlers.drain(), 30)
    await asyncio.wait_for(bot.lockstep.engine.idle(), 30)


async def _start(bot: Bot, flow: str, inputs: dict[str, Any]) -> tuple[Call, dict[str, Any]]:
    """A run started from code in the channel, and its first lock's message once shown."""
    assert bot.lockstep is not None
    engine = bot.lockstep.engine
    eid = await engine.start(flow, inputs, Request(flow, "UALICE", {"channel": CHANNEL}))
    await engine.settled(eid)
    trail = await engine.trail(eid)
    assert trail is not None
    [lock] = [c for c in trail[1] if c.kind == "lock" and c.open]
    message = next(
        m
        for parent in bot.slack.messages(CHANNEL)
        for m in bot.slack.thread(CHANNEL, parent["ts"])
        if any(
            e.get("value") == lock.id
            for b in m.get("blocks") or []
            if b["type"] == "actions"
            for e in b["elements"]
        )
    )
    return lock, message


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('props') / 'lockstep.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        asyncio.run(_empty(url))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    errors = Errors()
    logging.getLogger().addHandler(errors)
    bot_cm = running_bot(url)
    bot = asyncio.run_coroutine_threadsafe(bot_cm.__aenter__(), loop).result(60)
    try:
        guarded = asyncio.run_coroutine_threadsafe(_start(bot, "vetted", {}), loop).result(60)
        running = Live(bot, loop, errors, *guarded)
        yield running
        assert running.run(_healthy(bot)) == 200  # the process lives on
        assert thread.is_alive()
    finally:
        asyncio.run_coroutine_threadsafe(bot_cm.__aexit__(None, None, None), loop).result(60)
        logging.getLogger().removeHandler(errors)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        if request.param != "sqlite":
            asyncio.run(_empty(url))  # the shared database as the next module expects it


async def _empty(url: str) -> None:
    store = await SQLStore.open(url)
    await store.run(lambda c: c.execute(text("TRUNCATE outbox, events, timers, calls, executions")))
    await store.close()


async def _healthy(bot: Bot) -> int:
    async with bot.http.get(bot.url.replace("/slack/events", "/healthz")) as response:
        return response.status


# strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(["UBOB", "UCAROL", "UOUTSIDER", "U", "ubob", "U\x00B", "", "C0CHANNEL"])
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def _templates(live: Live) -> dict[str, tuple[dict[str, Any], str]]:
    """Realistic requests to mutate: a command, a click and a lock form on the guarded lock
    (only UAPPROVER may decide it), entry forms (one the bot sealed for the channel FUZZ, where
    anyone may start a run, one it did not), member events, Slack's handshakes."""
    message, lock = live.guarded_message, live.guarded
    button = next(b for b in message["blocks"] if b["type"] == "actions")["elements"][0]
    sealed = Seal(SECRET).close(lock.id)
    click = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
        "trigger_id": "1.2.abc", "channel": {"id": CHANNEL}, "message": message,
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL},
        "state": {"values": input_value("x", "hello")}, "actions": [button],
    }  # fmt: skip
    view = {
        "id": "V0001", "type": "modal", "callback_id": "lockstep_lock",
        "private_metadata": sealed, "state": {"values": input_value("x", "hi")},
    }  # fmt: skip
    unsealed = view | {"callback_id": "lockstep_entry", "private_metadata": '{"flow": "deploy"}'}
    metadata = Seal(SECRET).close(json.dumps({"flow": "deploy", "channel": FUZZ}))
    values = input_value("service", "api") | input_value("version", "1.2.3")
    entry = unsealed | {"private_metadata": metadata, "state": {"values": values}}
    submission = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": "UBOB"}}
    return {
        "command": (
            {
                "command": "/flow",
                "text": "list",
                "user_id": "UBOB",
                "channel_id": CHANNEL,
                "trigger_id": "1.2.t",
                "team_id": "T0001",
                "response_url": live.bot.slack.response_url(),
            },
            "form",
        ),
        "click": (click, "payload"),
        "lock form": (submission | {"view": view}, "payload"),
        "entry form": (submission | {"view": entry}, "payload"),
        "unsealed entry form": (submission | {"view": unsealed}, "payload"),
        "member": (
            {
                "type": "event_callback",
                "team_id": "T0001",
                "event": {"type": "member_joined_channel", "user": "UOUTSIDER", "channel": "C0X"},
            },
            "json",
        ),
        "url": ({"type": "url_verification", "challenge": "abc"}, "json"),
        "ssl": ({"ssl_check": "1", "token": "x"}, "form"),
    }


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*at, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*at, index))
    return found


def _mutate(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _mutate(value[head], rest, new, delete)
        return copy
    copy_list = list(value)
    copy_list[head] = _mutate(value[head], rest, new, delete)
    return copy_list


COMMAND_TEXTS = ["list", "help", "status", "status a", "audit", "start deploy", "start nope",
                 "cancel", "cancel zz", "frobnicate", 'start review document="x y', ""]  # fmt: skip


@st.composite
def requests(draw: st.DrawFn, live: Live) -> tuple[bytes, dict[str, str], str]:
    """A body, its headers, and what it was (for the report)."""
    kind = draw(st.sampled_from(["template"] * 8 + ["bytes", "json", "form", "payload"]))
    content_type = FORM
    if kind == "bytes":
        body = draw(st.binary(max_size=300))
        content_type = draw(st.sampled_from([FORM, JSON_TYPE, "text/plain", ""]))
    elif kind == "json":
        body, content_type = json.dumps(draw(json_values)).encode(), JSON_TYPE
    elif kind == "form":
        pairs = st.tuples(st.sampled_from(["command", "text", "user_id", "payload", "x"]),
                          st.text(max_size=30))  # fmt: skip
        body = urlencode(draw(st.lists(pairs, max_size=6))).encode()
    elif kind == "payload":
        body = urlencode({"payload": json.dumps(draw(json_values))}).encode()
    else:
        name = draw(st.sampled_from(sorted(_templates(live))))
        value, encoding = _templates(live)[name]
        kind = f"template {name}"
        if name == "command":
            value = value | {"text": draw(st.sampled_from(COMMAND_TEXTS) | st.text(max_size=40))}
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
            path = draw(st.sampled_from(_paths(value)))
            new = draw(json_values | ids)
            value = _mutate(value, path, new, draw(st.booleans()))
        if encoding == "json":
            body, content_type = json.dumps(value).encode(), JSON_TYPE
        elif encoding == "payload":
            body = interaction_body(value) if isinstance(value, dict) else b"payload=[]"
        else:
            fields = value if isinstance(value, dict) else {"x": value}
            body = urlencode({str(k): json.dumps(v) if not isinstance(v, str) else v
                              for k, v in fields.items()}).encode()  # fmt: skip
    content_type = draw(st.sampled_from([content_type] * 6 + [FORM, JSON_TYPE, "text/plain",
                                         f"{content_type}; charset=utf-8"]))  # fmt: skip
    now = int(time.time())
    signing = draw(st.sampled_from(["valid"] * 6 + ["secret", "none", "stamp", "stale", "text"]))
    stamp = {"stamp": draw(header_text), "stale": str(now - 600)}.get(signing, str(now))
    secret = "not the secret" if signing == "secret" else SECRET
    signature = sign(secret, int(stamp), body) if stamp.isdigit() else "v0=00"
    headers = {"Content-Type": content_type}
    if signing == "text":
        headers |= {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": draw(header_text)}
    elif signing != "none":
        headers |= {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    return body, headers, f"{kind}, {signing}"


def _guarded_state(live: Live) -> tuple[Any, ...]:
    async def read() -> tuple[Any, ...]:
        assert live.bot.lockstep is not None
        engine = live.bot.lockstep.engine
        lock = await engine.lock(live.guarded.id)
        execution = await engine.execution(live.guarded.execution_id)
        runs = await engine.runs(limit=1000)
        assert lock is not None and execution is not None
        elsewhere = [r for r in runs if r.context.get("channel") != FUZZ]
        return (lock.status, lock.deadline, lock.result, execution.status, len(elsewhere))

    return live.run(read())


def _started(live: Live) -> int:
    async def count() -> int:
        assert live.bot.lockstep is not None
        runs = await live.bot.lockstep.engine.runs(limit=1000)
        return sum(r.context.get("channel") == FUZZ for r in runs)

    return live.run(count())


def _shown(live: Live) -> int:
    """Messages posted or changed anywhere but FUZZ."""
    calls = live.bot.slack.calls_to("chat.postMessage") + live.bot.slack.calls_to("chat.update")
    return sum(c.args.get("channel") != FUZZ for c in calls)


PROPERTY = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip


@PROPERTY
@given(data=st.data())
def test_any_request_gets_a_2xx_or_4xx_and_changes_nothing(live: Live, data: st.DataObject) -> None:
    before, shown, started = _guarded_state(live), _shown(live), _started(live)
    body, headers, what = data.draw(requests(live))
    status = _post(live, body, headers)
    live.run(_settle(live.bot))
    event(f"{status} for {what.split(',')[0]}")  # --hypothesis-show-statistics: what was sent
    assert 200 <= status < 300 or 400 <= status < 500, (status, what)
    assert live.errors.records == [], what
    assert _guarded_state(live) == before, what  # runs start in FUZZ only, by entry forms
    if _started(live) > started:
        event("a run started in FUZZ")
    assert _shown(live) == shown, what  # no message posted or changed elsewhere


# valid and invalid actions, and exactly the valid ones change something ----------------------


@dataclass(frozen=True)
class Click:
    user: str
    action: str
    target: str  # whose lock the button names: "own", "decoy" (another run's), "random"
    message: str  # which message it was clicked on: "own" or "decoy"
    channel: str  # "own", "other" or "missing"
    signed: bool
    note: str
    comment: str

    @property
    def valid(self) -> bool:
        """A member, signed, on the lock's own message in its own channel."""
        right_place = self.target == self.message == "own" and self.channel == "own"
        return self.signed and self.user in MEMBERS and right_place


clicks = st.builds(
    Click,
    user=st.sampled_from(["UBOB", "UCAROL", "UOUTSIDER", "UAPPROVER", "ubob"]),
    action=st.sampled_from(["lockstep_submit", "lockstep_cancel", "lockstep_snooze"]),
    target=st.sampled_from(["own", "decoy", "random"]),
    message=st.sampled_from(["own", "decoy"]),
    channel=st.sampled_from(["own", "own", "other", "missing"]),
    signed=st.sampled_from([True, True, True, False]),
    note=st.text(max_size=40),
    comment=st.text(max_size=40),
)


Shown = tuple[Call, dict[str, Any]]  # a lock and its message


def _payload(click: Click, own: Shown, decoy: Shown) -> dict[str, Any]:
    message = own[1] if click.message == "own" else decoy[1]
    value = {"own": own[0].id, "decoy": decoy[0].id, "random": "f" * 32}[click.target]
    channel = {"own": CHANNEL, "other": "C0OTHER", "missing": None}[click.channel]
    typed = input_value("note", click.note) | input_value("comment", click.comment)
    button = {"type": "button", "action_id": click.action, "block_id": "lock_actions"}
    payload: dict[str, Any] = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": click.user},
        "trigger_id": f"1.{time.monotonic_ns()}.t", "message": message,
        "state": {"values": typed}, "actions": [button | {"value": value}],
    }  # fmt: skip
    if channel:
        payload["channel"] = {"id": channel}
        payload["container"] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
        }
    return payload


@settings(PROPERTY, max_examples=60)
@given(click=clicks)
def test_only_a_valid_authorised_click_changes_anything(live: Live, click: Click) -> None:
    assume(not click.target == click.message == "decoy")  # a valid click on the decoy
    decoy = live.run(_start(live.bot, "echo", {"words": "decoy"}))
    own = live.run(_start(live.bot, "echo", {"words": "own"}))
    body = interaction_body(_payload(click, own, decoy))
    now = int(time.time())
    headers = {
        "Content-Type": FORM, "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": sign(SECRET if click.signed else "forged", now, body),
    }  # fmt: skip
    status = _post(live, body, headers)
    live.run(_settle(live.bot))
    assert status == (401 if not click.signed else 400 if click.user == "ubob" else 200)
    assert live.errors.records == []
    after = live.run(_locks(live.bot, own[0].id, decoy[0].id))
    mine, theirs = after
    assert theirs.open and theirs.deadline == decoy[0].deadline  # never the other run's
    if not click.valid:
        assert mine.open and mine.deadline == own[0].deadline, click
        return
    match click.action:
        case "lockstep_submit":
            note = clean(click.note)
            expected = note if note.strip() else None
            assert mine.status == "resolved" and mine.result["note"] == expected
            assert mine.actor == click.user
        case "lockstep_cancel":
            comment = clean(click.comment).strip() or None
            assert (mine.status, mine.comment, mine.actor) == ("rejected", comment, click.user)
        case "lockstep_snooze":
            assert mine.open and mine.deadline == own[0].deadline + 60


async def _locks(bot: Bot, *lock_ids: str) -> list[Call]:
    assert bot.lockstep is not None
    found = [await bot.lockstep.engine.lock(lock_id) for lock_id in lock_ids]
    assert all(lock is not None for lock in found)
    return found  # type: ignore[return-value]


def test_uploaded_files_and_radio_choices_are_read_and_odd_ones_refused() -> None:
    """A modal's file and radio states pass through typed (only their plain fields); a file
    without a Slack id is a request Slack never sends."""
    from bot.fields import Malformed
    from bot.inbound import view_submit

    def submitted(cell: dict[str, Any]) -> dict[str, Any]:
        view = {
            "id": "V1",
            "callback_id": "lockstep_entry",
            "state": {"values": {"b": {"a": cell}}},
        }
        return dict(view_submit({"user": {"id": "U1"}, "view": view}).state["b"]["a"])

    upload = {"id": "F0A1", "name": "a\x00.txt", "size": 3, "nested": {"x": 1}}
    files = submitted({"type": "file_input", "files": [upload]})
    assert files == {"type": "file_input", "files": [{"id": "F0A1", "name": "a.txt", "size": 3}]}
    radio = submitted({"type": "radio_buttons", "selected_option": {"value": "ship"}})
    assert radio["selected_option"] == {"value": "ship"}
    for bad in ({"name": "a.txt"}, {"id": "../etc"}, "F0A1"):
        with pytest.raises(Malformed):
            submitted({"type": "file_input", "files": [bad]})
