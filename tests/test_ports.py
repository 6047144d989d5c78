"""Contract tests: every implementation of each of the engine's ports keeps the port's
contract (``flows.engine.ports``). Stores run on SQLite and Postgres (``store`` fixture)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import directory as directory_module
from bot.directory import AckBudget, SlackDirectory
from bot.fake.slack import FakeSlack
from bot.notifier import EVENT_TYPE, RECHECK, SlackNotifier
from bot.workspaces import Workspaces
from flows.app import Registry
from flows.engine import (
    AGAIN_AT,
    Call,
    Execution,
    FakeClock,
    NewEvent,
    NoAnswer,
    NoDirectory,
    NullNotifier,
    RecordingNotifier,
    Refused,
    Show,
    SystemClock,
    Unavailable,
    ports,
)
from flows.engine.records import Claim
from flows.engine.setup import new_id
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
        deadline=time.time() + 3600, created_at=time.time(), decided_at=None, policy=None,
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


def one(client: AsyncWebClient) -> Workspaces:
    """A single-token bot's workspaces: every workspace speaks with ``client``."""
    assert client.token is not None
    return Workspaces(lambda _: client, token=client.token)


NOTIFIERS: dict[str, Callable[[AsyncWebClient], ports.Notifier]] = {
    "null": lambda _: NullNotifier(),
    "recording": lambda _: RecordingNotifier(),
    "slack": lambda client: SlackNotifier(one(client), Registry([app]), SystemClock()),
}


def shows(run: Execution, opened: Call) -> list[Show]:
    """One of each kind of message, in the order a run makes them (thread and lock filled in
    by ``show_all``)."""
    decided = opened.model_copy(update={"status": "resolved", "actor": "UBOB", "decided_at": 2.0})
    ended = run.model_copy(update={"status": "finished", "result": {"ok": True}})
    post = {"key": "", "kind": "post", "execution": run, "lock": opened}
    return [
        Show(key=f"run:{run.id}", kind="run", execution=run, summary="Review"),
        Show(key=f"lock:{opened.id}", kind="lock", execution=run, lock=opened),
        Show(
            **post | {"key": "p1", "payload": {"type": "progress", "level": "debug", "text": "hi"}}
        ),
        Show(**post | {"key": "p2", "payload": {"type": "reminder", "people": ["UBOB"]}}),
        Show(**post | {"key": "p3", "payload": {"type": "escalated", "to": ["UBOB", "SOPS"]}}),
        Show(**post | {"key": "p4", "payload": {"type": "snoozed", "actor": "UBOB"}}),
        Show(
            key="d1",
            kind="direct",
            execution=run,
            lock=opened,
            payload={"type": "escalated_dm", "to": "UBOB"},
        ),
        Show(
            key="d2",
            kind="direct",
            execution=run,
            lock=opened,
            payload={"type": "escalated_dm", "to": "SOPS"},
        ),
        Show(key=f"lock:{opened.id}", kind="lock", execution=run, lock=decided),
        Show(key="end", kind="post", execution=ended, payload={"type": "ending"}),
        Show(key=f"run:{run.id}", kind="run", execution=ended, summary="Review"),
    ]


async def show_all(notifier: ports.Notifier, run: Execution, opened: Call) -> dict[str, Any]:
    """Show each message the way the deliverer does; returns where each key is."""
    where: dict[str, Any] = {}
    for show in shows(run, opened):
        thread = where.get(f"run:{run.id}")
        placed = show.model_copy(
            update={
                "location": where.get(show.key),
                "thread": thread,
                "lock_at": where.get(f"lock:{opened.id}"),
            }
        )
        if show.kind in ("lock", "post") and thread is None:
            continue  # nowhere to show the run: nowhere to show its thread
        found = await notifier.show(placed)
        json.dumps(found)  # kept in the store as the message's location: JSON, or None
        where[show.key] = found
    return where


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
async def test_every_notifier_shows_every_kind_of_message(
    kind: str, client: AsyncWebClient, slack: FakeSlack
) -> None:
    notifier = NOTIFIERS[kind](client)
    assert_implements(notifier, ports.Notifier)
    run = execution(channel=CHANNEL)
    where = await show_all(notifier, run, lock(run.id))
    if kind != "slack":
        return
    parent = where[f"run:{run.id}"]
    [message] = [m for m in slack.messages(CHANNEL) if m["ts"] == parent["ts"]]
    assert "finished" in message["text"]
    thread = slack.thread(CHANNEL, parent["ts"])
    decided = [m for m in thread if "Answered by <@UBOB>" in m.get("text", "")]
    assert decided and not any(b["type"] == "actions" for b in decided[0].get("blocks", []))
    assert where["d2"] is None  # a user group has no direct messages
    assert slack.calls_to("chat.postMessage")[0].args["metadata"]["event_payload"] == {
        "key": f"run:{run.id}"
    }  # every post names its row, so a lost outcome is found again


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
async def test_a_run_with_nowhere_to_show_is_not_an_error(
    kind: str, client: AsyncWebClient
) -> None:
    notifier = NOTIFIERS[kind](client)
    run = execution()  # no channel: started from code
    where = await show_all(notifier, run, lock(run.id))
    if kind in ("null", "slack"):
        assert set(where.values()) == {None}  # and its escalations send no direct messages


async def test_a_retried_post_is_found_not_posted_twice(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    clock = FakeClock(time.time())
    notifier = SlackNotifier(one(client), Registry([app]), clock)
    run = execution(channel=CHANNEL)
    parent = await notifier.show(Show(key=f"run:{run.id}", kind="run", execution=run))
    opened = lock(run.id)
    first = Show(key=f"lock:{opened.id}", kind="lock", execution=run, lock=opened, thread=parent)
    posted = await notifier.show(first)  # its outcome "lost": the deliverer tries again
    again = await notifier.show(first.model_copy(update={"retry": True}))
    later = clock.now() + RECHECK  # adopted, and looked at once more then: a copy may land
    assert again == {**posted, AGAIN_AT: later}
    assert len(slack.thread(CHANNEL, parent["ts"])) == 2  # the parent and one lock message
    lost = await notifier.show(Show(key=f"run:{run.id}", kind="run", execution=run, retry=True))
    assert lost == {**parent, AGAIN_AT: later} and len(slack.messages(CHANNEL)) == 1
    for i in range(2500):  # a busy channel: the post is far down its history by the retry
        slack.say(CHANNEL, f"chatter {i}")
    lost = await notifier.show(Show(key=f"run:{run.id}", kind="run", execution=run, retry=True))
    assert lost == {**parent, AGAIN_AT: later} and len(slack.messages(CHANNEL)) == 2501


def run_row(client: AsyncWebClient) -> tuple[SlackNotifier, FakeClock, Show]:
    """A Slack notifier on a clock at the wall's time (Slack's ts are), and a run's row."""
    clock = FakeClock(time.time())
    run = execution(channel=CHANNEL)
    notifier = SlackNotifier(one(client), Registry([app]), clock)
    return notifier, clock, Show(key=f"run:{run.id}", kind="run", execution=run)


async def test_a_copy_slack_posted_late_is_deleted_when_its_message_is_shown_again(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    notifier, clock, row = run_row(client)
    placed = await notifier.show(row.model_copy(update={"retry": True}))  # looked, posted
    assert placed[AGAIN_AT] == clock.now() + RECHECK and len(slack.messages(CHANNEL)) == 1
    metadata = {"event_type": EVENT_TYPE, "event_payload": {"key": row.key}}
    late = await client.chat_postMessage(channel=CHANNEL, text="late", metadata=metadata)
    other = await client.chat_postMessage(channel=CHANNEL, text="another row", metadata={
        "event_type": EVENT_TYPE, "event_payload": {"key": "run:other"}})  # fmt: skip
    slack.say(CHANNEL, "a person's message")
    assert len(slack.messages(CHANNEL)) == 4  # the earlier attempt's post, made at last

    updated = await notifier.show(row.model_copy(update={"location": placed}))
    assert updated == placed  # updated before its time to look again: looks now, and then
    [deleted] = slack.calls_to("chat.delete")
    assert deleted.args == {"channel": CHANNEL, "ts": late["ts"]}
    remaining = {m["ts"] for m in slack.messages(CHANNEL)}
    assert late["ts"] not in remaining and {placed["ts"], other["ts"]} <= remaining
    assert len(remaining) == 3  # another row's message and a person's stay

    clock.advance(RECHECK)
    looked = len(slack.calls_to("conversations.history"))
    settled = await notifier.show(row.model_copy(update={"location": updated}))
    assert settled == {"channel": CHANNEL, "ts": placed["ts"]}  # looked once more: done
    never = await notifier.show(row.model_copy(update={"location": settled}))
    assert never == settled  # a settled message is updated without looking for copies
    assert len(slack.calls_to("conversations.history")) == looked + 1


async def test_a_retried_update_is_put_again_later_without_looking_for_copies_now(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    """The lost update may yet take effect, over a newer one: it is shown once more later."""
    notifier, clock, row = run_row(client)
    placed = await notifier.show(row)
    assert AGAIN_AT not in placed
    again = await notifier.show(row.model_copy(update={"location": placed, "retry": True}))
    assert again == {**placed, AGAIN_AT: clock.now() + RECHECK}
    assert not slack.calls_to("conversations.history")  # an update makes no copy


@pytest.mark.parametrize("refusal", ["missing_scope", "not_in_channel"])
async def test_a_conversation_the_bot_may_not_read_is_posted_to_without_looking(
    client: AsyncWebClient, slack: FakeSlack, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No ``*:history`` scope, or not a member: the retry cannot look for an earlier post, so
    it posts (and warns); a marked message is still updated."""
    notifier, _, row = run_row(client)
    row = row.model_copy(update={"retry": True})
    slack.fail_next("conversations.history", error=refusal, times=2)
    placed = await notifier.show(row)
    assert placed[AGAIN_AT] and len(slack.messages(CHANNEL)) == 1
    assert f"cannot look for {row.key} in Slack ({refusal})" in caplog.text
    updated = await notifier.show(row.model_copy(update={"location": placed, "retry": False}))
    assert updated == placed and len(slack.calls_to("chat.update")) == 1
    assert "*:history" in caplog.text and "xox" not in caplog.text


async def test_a_copy_the_bot_may_not_delete_does_not_hold_its_message_back(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    notifier, _, row = run_row(client)
    placed = await notifier.show(row.model_copy(update={"retry": True}))
    metadata = {"event_type": EVENT_TYPE, "event_payload": {"key": row.key}}
    await client.chat_postMessage(channel=CHANNEL, text="late", metadata=metadata)
    slack.fail_next("chat.delete", error="cant_delete_message")
    assert await notifier.show(row.model_copy(update={"location": placed})) == placed
    assert len(slack.calls_to("chat.delete")) == 1


async def test_the_slack_notifier_raises_what_it_could_not_show(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    clock = FakeClock()
    notifier = SlackNotifier(one(client), Registry([app]), clock)
    run = execution(channel=CHANNEL)
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(Unavailable) as limited:
        await notifier.show(Show(key="r", kind="run", execution=run))
    assert limited.value.retry_after == 7.0
    clock.advance(5)  # Slack said 7 s: every row waits, refused here without a call
    calls = len(slack.calls)
    with pytest.raises(Unavailable) as waiting:
        await notifier.show(Show(key="r2", kind="run", execution=run))
    assert waiting.value.retry_after == 2.0 and len(slack.calls) == calls
    clock.advance(2)
    slack.fail_next("chat.postMessage", error="fatal_error")  # Slack's own trouble: again later
    with pytest.raises(SlackApiError):
        await notifier.show(Show(key="r", kind="run", execution=run))
    closed = ("is_archived", "channel_not_found", "not_in_channel", "invalid_blocks")
    for code in (*closed, "msg_blocks_too_long"):  # a message Slack will never take as it is
        slack.fail_next("chat.postMessage", error=code)  # until something outside changes:
        with pytest.raises(Refused) as refused:  # again with the usual backoff, no outage
            await notifier.show(Show(key="r", kind="run", execution=run))
        assert refused.value.retry_after is None and code in str(refused.value)
        placed = {"channel": CHANNEL, "ts": "1.000001"}
        slack.fail_next("chat.update", error=code)
        with pytest.raises(Refused):
            await notifier.show(Show(key="r", kind="run", execution=run, location=placed))
    slack.fail_next("chat.postMessage", status=429, retry_after=86_400)
    with pytest.raises(Unavailable) as paused:  # a pause asked for is never longer than 5 min
        await notifier.show(Show(key="r5", kind="run", execution=run))
    assert paused.value.retry_after == 300.0
    clock.advance(300)

    slack.fail_next("conversations.history", status=429, retry_after=60)
    with pytest.raises(Unavailable) as looking:  # a retry looking for its lost post
        await notifier.show(Show(key="r3", kind="run", execution=run, retry=True))
    assert looking.value.retry_after == 60.0
    posted = await notifier.show(Show(key="r4", kind="run", execution=run))
    assert posted["channel"] == CHANNEL  # reading's own limit holds back no other row


# directories --------------------------------------------------------------------------------

DIRECTORIES: dict[str, Callable[[AsyncWebClient], ports.Directory]] = {
    "none": lambda _: NoDirectory(),
    "slack": lambda client: SlackDirectory(one(client)),
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
    # who sees the run, and so may answer a lock that names no approvers
    # a run shown in no channel: without Slack anyone's; in Slack no one sees it (its
    # approvers answer it, or a token over the API)
    assert await directory.sees("UCAROL", {}) is not knows
    assert await directory.sees("UALICE", context)
    assert await directory.sees("UCAROL", context) is not knows  # not a member
    assert await directory.sees("SOPS", context)  # a group: one of its members is one
    assert await directory.sees("SNOBODY", context) is not knows


async def test_the_slack_directory_follows_members_who_join_and_leave(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    directory = SlackDirectory(one(client))
    context = {"channel": CHANNEL}
    directory.member_changed(CHANNEL, "UCAROL", joined=True)  # nothing cached yet: no effect
    assert not await directory.sees("UCAROL", context)
    directory.member_changed(CHANNEL, "UCAROL", joined=True)
    directory.member_changed(CHANNEL, "UBOB", joined=False)
    assert await directory.sees("UCAROL", context) and not await directory.sees("UBOB", context)
    assert await directory.includes("channel", "UCAROL", context)
    assert len(slack.calls_to("conversations.members")) == 1  # one lookup, then events


async def test_the_slack_directory_asks_once_and_says_when_slack_does_not_answer_in_time(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Many requests at once about one channel ask Slack once. Slack failing, or slower than
    ``wait``, is ``NoAnswer`` for those waiting; a slow answer still fills the cache for the
    next request (a very large channel), and a failure is asked again next time."""
    directory = SlackDirectory(one(client), wait=0.2)
    context = {"channel": CHANNEL}
    seen = await asyncio.gather(*(directory.sees(u, context) for u in ("UALICE", "UCAROL") * 5))
    assert seen == [True, False] * 5
    assert len(slack.calls_to("conversations.members")) == 1

    slack.fail_next("usergroups.users.list", status=500)
    with pytest.raises(NoAnswer):
        await directory.includes("SOPS", "UBOB", context)
    assert await directory.includes("SOPS", "UBOB", context)  # asked again, answered
    slack.hang_next("conversations.members", 0.4)
    other = {"channel": "COTHER"}
    with pytest.raises(NoAnswer):
        await asyncio.gather(*(directory.sees("UBOB", other) for _ in range(3)))
    await asyncio.sleep(1.5)  # Slack answers meanwhile, at 0.4 s
    assert not await directory.sees("UBOB", other)  # the slow answer, kept: no new question
    assert len(slack.calls_to("conversations.members")) == 2
    slack.hang_next("conversations.members", 0.4)
    with pytest.raises(NoAnswer):
        await directory.sees("UBOB", {"channel": "CTHIRD"})
    directory.member_changed("CTHIRD", "UBOB", joined=True)  # while Slack was being asked
    await asyncio.sleep(1.5)
    await directory.sees("UBOB", {"channel": "CTHIRD"})  # that answer may predate the join:
    assert len(slack.calls_to("conversations.members")) == 4  # not kept, asked again


async def test_someone_who_leaves_while_slack_is_asked_is_not_in_its_answer(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Slack's answer, taken before someone left (or joined) and still on its way, is not
    what a request waiting on it is told: the change is applied to it."""
    directory = SlackDirectory(one(client))
    context = {"channel": CHANNEL}
    slack.hang_next("conversations.members", 0.4, when="after")  # answered as it was asked
    first = asyncio.create_task(directory.sees("UBOB", context))
    await slack.wait_for("conversations.members")
    slack.leave(CHANNEL, "UBOB")
    directory.member_changed(CHANNEL, "UBOB", joined=False)
    slack.join(CHANNEL, "UCAROL")
    directory.member_changed(CHANNEL, "UCAROL", joined=True)
    bob, carol = await asyncio.gather(  # waiting on the same question
        directory.sees("UBOB", context), directory.includes("channel", "UCAROL", context)
    )
    assert (bob, carol, await first) == (False, True, False)
    slack.hang_next("usergroups.users.list", 0.4, when="after")
    asking = asyncio.create_task(directory.includes("SOPS", "UBOB", context))
    await slack.wait_for("usergroups.users.list")
    directory.group_changed("SOPS", (), ("UBOB",))
    assert not await directory.includes("SOPS", "UBOB", context)
    assert not await asking


async def test_lookups_before_an_ack_share_one_budget_and_later_ones_wait_as_usual(
    slack: FakeSlack, client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request may ask about a group and then a channel before it acks, each slow: together
    they take at most ``BUDGET``. Work the request leaves for after its ack is not held to it."""
    monkeypatch.setattr(directory_module, "BUDGET", 1.0)
    directory = SlackDirectory(one(client), wait=1.5)
    slack.hang_next("usergroups.users.list", 0.7)
    slack.hang_next("conversations.members", 0.7)
    slack.hang_next("conversations.members", 0.7)
    released = asyncio.Event()

    async def after_the_ack() -> bool:
        await released.wait()
        return await directory.sees("UBOB", {"channel": "CLATER"})  # 0.7 s: within ``wait``

    later: list[asyncio.Task[bool]] = []

    async def decide() -> BoltResponse:
        later.append(asyncio.create_task(after_the_ack()))
        await directory.includes("SOPS", "UBOB", {"channel": CHANNEL})  # 0.7 s of 1.0
        await directory.sees("UBOB", {"channel": CHANNEL})  # 0.3 s left of 0.7: no answer
        return BoltResponse(status=200)

    begin = time.monotonic()
    request = AsyncBoltRequest(body="")
    with pytest.raises(NoAnswer):
        await AckBudget().async_process(req=request, resp=BoltResponse(status=200), next=decide)
    assert time.monotonic() - begin < 1.2
    await request.context.ack()  # (Bolt acks a request whose listener failed)
    released.set()
    assert await later[0] is False  # asked after the budget ran out, and answered
    await directory.sees("UBOB", {"channel": CHANNEL})  # the late answer was kept
    assert len(slack.calls_to("conversations.members")) == 2  # one question per channel


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


def new_run(eid: str, now: float) -> dict[str, Any]:
    """A new run of ``review``, started by UA, claimed by "me"."""
    return {
        "id": eid, "flow": "review", "runner": "tests.sample_flows:review", "inputs": {},
        "status": "starting", "initiator": "UA", "context": {}, "created_at": now,
        "updated_at": now, "wakeups": 0, "progress": 0, "owner": "me", "heartbeat_at": now,
    }  # fmt: skip


async def test_the_store_implements_the_port(store: SQLStore) -> None:
    assert_implements(store, ports.Store)


async def test_runs_are_found_by_any_prefix_of_their_id(store: SQLStore) -> None:
    now = time.time()
    for eid in ("ab12cd", "AB12ef", "ab3", "a_b%", "zz"):
        assert await store.create_execution(new_run(eid, now), NewEvent(kind="started"))
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
        "id": eid,
        "flow": "review",
        "runner": "tests.sample_flows:review",
        "inputs": {},
        "status": "starting",
        "initiator": "UA",
        "context": {},
        "created_at": now,
        "updated_at": now,
        "wakeups": 0,
        "progress": 0,
        "owner": "me",
        "heartbeat_at": now,
    }
    assert await store.create_execution(row, NewEvent(kind="started"))
    assert await store.create_execution(row, NewEvent(kind="started")) is None  # same id
    opened = lock(eid).model_dump()
    await store.add(eid, now, new_calls=[opened])
    event = NewEvent(kind="lease", actor="UB")
    claim = Claim("me", now, now - 60)
    first = await store.decide(opened["id"], now, status="resolved", event=event, claim=claim)
    second = await store.decide(opened["id"], now, status="rejected", event=event, claim=claim)
    assert first is not None and second is None
    woken, replayed = first  # claimed with the decision: the run comes with its calls
    assert woken.id == eid and woken.owner == "me"
    assert replayed is not None and [(c.id, c.status) for c in replayed] == [
        (opened["id"], "resolved")
    ]
    decided = await store.call(opened["id"])
    assert decided is not None and decided.status == "resolved"
    assert await store.snooze(opened["id"], 60, now, NewEvent(kind="snoozed")) is None
    assert await store.vote(opened["id"], now, NewEvent(kind="approved", actor="UC")) is None


async def test_a_lock_is_shown_where_its_message_was_recorded(store: SQLStore) -> None:
    eid, now = new_id(), time.time()
    assert await store.create_execution(new_run(eid, now), NewEvent(kind="started"))
    opened = lock(eid).model_dump()
    await store.add(eid, now, new_calls=[opened])
    assert await store.lock_shown_at(opened["id"]) is None  # not shown yet
    assert await store.lock_shown_at("no such lock") is None
    claimed, states = await store.claim_deliveries("me", now, 30)
    [row_] = [d for d in claimed if d.call_id == opened["id"]]
    shows = states[row_.id].call
    assert shows is not None and shows.id == opened["id"]
    where = {"channel": "C1", "ts": "1.2"}
    await store.delivered("me", [(row_.id, row_.version, where)], now, placed=False)
    assert await store.lock_shown_at(opened["id"]) == where


async def test_claims_cut_short_by_dying_processes_do_not_lengthen_the_backoff(
    store: SQLStore,
) -> None:
    """A process killed while it shows a row (its lease lapses) made an attempt: the row is
    looked for in Slack from then on (``attempts > 1``). But deaths one after another are no
    failures of Slack's: a failure after them backs off as after one cut-short attempt."""
    eid, now = new_id(), time.time()
    assert await store.create_execution(new_run(eid, now), NewEvent(kind="started"))
    seen = []
    for death in range(5):  # each claimant dies mid-way: its lease of 1 s lapses
        claimed, _ = await store.claim_deliveries(f"dead-{death}", now, 1.0)
        [run] = [d for d in claimed if d.kind == "run"]
        seen.append(run.attempts)
        now += 2
    assert seen == [1, 2, 2, 2, 2]
    await store.retry_delivery(run.id, "dead-4", now, "Slack answered 500", True, now)
    claimed, _ = await store.claim_deliveries("alive", now, 30)
    [run] = [d for d in claimed if d.kind == "run"]
    assert run.attempts == 3  # one failure of Slack's: the backoff's next step, not its sixth


async def test_the_slack_directory_keeps_a_bounded_number_of_answers(
    slack: FakeSlack, client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Channel ids that come and go (or that someone made up) never grow the cache for good:
    past ``KEPT`` answers the oldest go, and the newest are still answered from it."""
    monkeypatch.setattr(directory_module, "KEPT", 3)
    directory = SlackDirectory(one(client))
    for i in range(10):
        slack.join(f"C{i:04d}", "UALICE")
        directory.member_changed(f"C{i:04d}", "UBOB", joined=True)  # events for each, too
        assert await directory.sees("UALICE", {"channel": f"C{i:04d}"})
    assert len(directory._cache) <= 3 and len(directory._changes) <= 3
    asked = len(slack.calls_to("conversations.members"))
    assert await directory.sees("UALICE", {"channel": "C0009"})  # the newest: from the cache
    assert len(slack.calls_to("conversations.members")) == asked
    assert await directory.sees("UALICE", {"channel": "C0000"})  # the oldest: asked again
    assert len(slack.calls_to("conversations.members")) == asked + 1
