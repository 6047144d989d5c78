"""Contract tests: every implementation of each of the engine's ports keeps the port's
contract (``flows.engine.ports``). Stores run on SQLite and Postgres (``store`` fixture)."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import SlackDirectory
from bot.fake.slack import FakeSlack
from bot.notifier import SlackNotifier
from flows.app import Registry
from flows.engine import (
    Call,
    Execution,
    FakeClock,
    NewEvent,
    NoDirectory,
    NullNotifier,
    RecordingNotifier,
    SystemClock,
    ports,
)
from flows.engine.records import Claim
from flows.engine.runs import new_id
from flows.forms import InputText, Model, Submit
from store import SQLStore
from tests.sample_flows import app

CHANNEL = "C0PORTS"


def protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


def assert_implements(implementation: object, protocol: type) -> None:
    """Every method of the port, async where the port's is, with the port's parameters."""
    for name, wanted in protocol_methods(protocol).items():
        method = getattr(implementation, name, None)
        assert method is not None, f"{type(implementation).__name__} has no {name}"
        got = inspect.signature(method)
        assert list(got.parameters) == [p for p in wanted.parameters if p != "self"], name
        port_async = inspect.iscoroutinefunction(getattr(protocol, name))
        assert inspect.iscoroutinefunction(method) == port_async, name


# notifiers ------------------------------------------------------------------------------------


def execution(**context: Any) -> Execution:
    return Execution(
        id=new_id(), flow="review", runner="tests.sample_flows:review", inputs={},
        status="awaiting", initiator="UALICE", context=context, result=None, error=None,
        created_at=1.0, updated_at=1.0, owner=None, heartbeat_at=None, wakeups=0, progress=0,
    )  # fmt: skip


def lock(execution_id: str, **change: Any) -> Call:
    form = Model(InputText("note", "Note"), Submit("Send")).to_json()
    found = Call(
        id=new_id(), execution_id=execution_id, seq=1, kind="lock", name="content_review",
        status="open", data={}, form=form, result=None, actor=None, comment=None,
        deadline=time.time() + 3600, created_at=time.time(), decided_at=None, posted=False,
        message=None, policy=None,
    )  # fmt: skip
    return found.model_copy(update=change)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(
        members={CHANNEL: ["UALICE", "UBOB"]}, usergroups={"SOPS": ["UBOB"]}
    ) as fake:
        yield fake


@pytest.fixture
async def client(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token="xoxb-ports", base_url=slack.api_url, session=session)


NOTIFIERS: dict[str, Callable[[AsyncWebClient], ports.Notifier]] = {
    "null": lambda _: NullNotifier(),
    "recording": lambda _: RecordingNotifier(),
    "slack": lambda client: SlackNotifier(client, Registry([app]), SystemClock()),
}


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
async def test_every_notifier_takes_every_announcement(
    kind: str, client: AsyncWebClient, slack: FakeSlack
) -> None:
    notifier = NOTIFIERS[kind](client)
    assert_implements(notifier, ports.Notifier)
    parent = await client.chat_postMessage(channel=CHANNEL, text="a run")
    run = execution(channel=CHANNEL, thread_ts=parent["ts"])
    opened = lock(run.id)
    where = await notifier.lock_opened(run, opened)
    json.dumps(where)  # kept in the store as the lock's message: JSON, or None
    shown = opened.model_copy(update={"message": where})
    await notifier.status_changed(run, ["content_review"])
    await notifier.progress(run, "debug", "working")
    await notifier.voted(run, shown, ["UBOB"])
    await notifier.reminder(run, shown, ["UBOB"])
    await notifier.escalated(run, shown, ["UBOB", "SOPS"])
    await notifier.snoozed(run, shown, "UBOB")
    decided = shown.model_copy(update={"status": "resolved", "actor": "UBOB", "decided_at": 2.0})
    await notifier.lock_resolved(run, decided, [])
    ended = run.model_copy(update={"status": "finished", "result": {"ok": True}})
    await notifier.status_changed(ended, [])
    if kind == "slack":  # where the lock was shown, its decision is shown, without buttons
        assert where is not None and where["channel"] == CHANNEL
        [message] = [m for m in slack.thread(CHANNEL, parent["ts"]) if m["ts"] == where["ts"]]
        assert "Answered by <@UBOB>" in message["text"]
        assert not any(b["type"] == "actions" for b in message["blocks"])


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
async def test_a_run_with_nowhere_to_show_is_not_an_error(
    kind: str, client: AsyncWebClient
) -> None:
    notifier = NOTIFIERS[kind](client)
    run = execution()  # no channel, no thread: started from code
    where = await notifier.lock_opened(run, lock(run.id))
    json.dumps(where)
    await notifier.status_changed(run, [])
    await notifier.lock_resolved(run, lock(run.id, status="expired"), [])


async def test_the_slack_notifier_raises_what_it_could_not_deliver(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    notifier = SlackNotifier(client, Registry([app]), SystemClock())
    run = execution(channel=CHANNEL, thread_ts="1700000000.000001")
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError):
        await notifier.lock_opened(run, lock(run.id))  # not shown: the engine offers it again
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError):
        await notifier.reminder(run, lock(run.id), [])  # not sent: the timer is retried


# directories --------------------------------------------------------------------------------

DIRECTORIES: dict[str, Callable[[AsyncWebClient], ports.Directory]] = {
    "none": lambda _: NoDirectory(),
    "slack": lambda client: SlackDirectory(client),
}


@pytest.mark.parametrize("kind", sorted(DIRECTORIES))
async def test_every_directory_answers_yes_or_no(kind: str, client: AsyncWebClient) -> None:
    directory = DIRECTORIES[kind](client)
    assert_implements(directory, ports.Directory)
    context = {"channel": CHANNEL}
    for principal in ("SOPS", "channel", "SNOBODY", "UBOB"):
        for user in ("UALICE", "UBOB", "UCAROL"):
            assert isinstance(await directory.includes(principal, user, context), bool)
    assert not await directory.includes("channel", "UBOB", {})  # a run with no channel
    assert not await directory.includes("SNOBODY", "UBOB", context)
    knows = kind == "slack"
    assert await directory.includes("SOPS", "UBOB", context) is knows
    assert await directory.includes("channel", "UALICE", context) is knows
    assert not await directory.includes("channel", "UCAROL", context)


# clocks -------------------------------------------------------------------------------------


CLOCKS: dict[str, Callable[[], ports.Clock]] = {
    "system": SystemClock,
    "fake": lambda: FakeClock(time.time()),
}


@pytest.mark.parametrize("kind", sorted(CLOCKS))
def test_every_clock_reads_epoch_seconds(kind: str) -> None:
    clock = CLOCKS[kind]()
    assert_implements(clock, ports.Clock)
    assert abs(clock.now() - time.time()) < 5


def test_a_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(100.0)
    assert clock.now() == clock.now() == 100.0
    clock.advance(2.5)
    assert clock.now() == 102.5


# stores -------------------------------------------------------------------------------------


async def test_the_store_implements_the_port(store: SQLStore) -> None:
    assert_implements(store, ports.Store)


async def test_runs_are_found_by_any_prefix_of_their_id(store: SQLStore) -> None:
    now = time.time()
    for eid in ("ab12cd", "AB12ef", "ab3", "a_b%", "zz"):
        row = {
            "id": eid, "flow": "review", "runner": "tests.sample_flows:review", "inputs": {},
            "status": "starting", "initiator": "UA", "context": {}, "created_at": now,
            "updated_at": now, "wakeups": 0, "progress": 0, "owner": "me", "heartbeat_at": now,
        }  # fmt: skip
        assert await store.create_execution(row, NewEvent(kind="started"))
    assert sorted(await store.find_executions("ab12")) == ["AB12ef", "ab12cd"]  # any case
    assert len(await store.find_executions("ab")) == 3
    assert len(await store.find_executions("a", limit=2)) == 2
    assert await store.find_executions("a_") == ["a_b%"]  # LIKE's wildcards are just text
    assert await store.find_executions("a%") == []
    assert await store.find_executions("zz") == ["zz"] and await store.find_executions("y") == []


async def test_decisions_are_compare_and_set(store: SQLStore) -> None:
    """Two deciders, one open lock: exactly one gets the execution back."""
    eid, now = new_id(), time.time()
    row = {
        "id": eid, "flow": "review", "runner": "tests.sample_flows:review", "inputs": {},
        "status": "starting", "initiator": "UA", "context": {}, "created_at": now,
        "updated_at": now, "wakeups": 0, "progress": 0, "owner": "me", "heartbeat_at": now,
    }  # fmt: skip
    assert await store.create_execution(row, NewEvent(kind="started"))
    assert await store.create_execution(row, NewEvent(kind="started")) is None  # same id
    opened = lock(eid).model_dump()
    await store.add(eid, now, new_calls=[opened])
    event = NewEvent(kind="lease", actor="UB")
    claim = Claim("me", now, now - 60)
    first = await store.decide(opened["id"], now, status="resolved", event=event, claim=claim)
    second = await store.decide(opened["id"], now, status="rejected", event=event, claim=claim)
    assert first is not None and first.execution.id == eid and second is None
    decided = await store.call(opened["id"])
    assert decided is not None and decided.status == "resolved"
    assert await store.snooze(opened["id"], 60, now, NewEvent(kind="snoozed")) is None
    assert await store.vote(opened["id"], now, NewEvent(kind="approved", actor="UC")) is None
