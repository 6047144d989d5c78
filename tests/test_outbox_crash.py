"""What people see in Slack is as durable as the store. The bot is killed (SIGKILL) at every
Slack call a run makes, before the call acts and after it acted (so the bot never learns the
outcome, nor records it), by Slack failing every way it can, and at random moments under load
with two processes on Postgres; every time, after restarts, a person in Slack can finish the
run, and: every run finishes, no message is posted twice, every decided lock shows its
decision without buttons, every result is posted, no accepted entry form is lost."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.fake.faults import Fault as SlackFault
from bot.fake.slack import FakeSlack
from tests.botproc import FAST, BotProcess, Person, has_buttons, key_of, posted_keys
from tests.slackbot import CHANNEL, Bot

pytestmark = pytest.mark.slow
WRITES = ("views.open", "chat.postMessage", "chat.update")
MEMBERS = {CHANNEL: ["UALICE", "UBOB"]}  # who may answer a lock without approvers
Fault = Callable[[FakeSlack, Callable[[], None]], None]  # arms the fake; the callable kills


async def finish(
    slack: FakeSlack,
    people: list[Person],
    bots: list[BotProcess],
    restart: Callable[[int], Awaitable[BotProcess]],
    timeout: float = 90,
) -> None:
    """Drive every person's run to its end, restarting bots that died; each step goes to the
    next live bot, as Slack's requests reach any process behind the load balancer."""
    deadline = asyncio.get_running_loop().time() + timeout
    turn = 0
    while not all(p.finished() for p in people):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not finished: {report(slack, people)}")
        for i, bot in enumerate(bots):
            if not bot.alive:
                await bot.proc.wait()
                bots[i] = await restart(i)
        seen = len(slack.calls)
        for person in people:
            if not person.finished():
                await person.step(bots[turn % len(bots)].url)
                turn += 1
        try:
            await slack.until(lambda seen=seen: len(slack.calls) > seen, timeout=0.5)  # type: ignore[misc]
        except TimeoutError:
            pass


def report(slack: FakeSlack, people: list[Person]) -> str:
    """Where each run got to, and what the fake was asked: for a failure's message."""
    lines = []
    for person in people:
        parent = person._parent()
        thread = slack.thread(CHANNEL, parent["ts"]) if parent else []
        shown = [(key_of(m)[:12], has_buttons(m), m["text"][:40]) for m in thread]
        lines.append(f"{person.item}: accepted={person.accepted} clicked={person.clicked} {shown}")
    keys = posted_keys(slack)
    lines.append(f"posted twice: {sorted({k for k in keys if keys.count(k) > 1})}")
    lines.append(f"calls: {[(c.method, c.status) for c in slack.calls][-40:]}")
    return "\n".join(lines)


def assert_durable(slack: FakeSlack, people: list[Person]) -> None:
    keys = posted_keys(slack)
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    for person in people:
        assert person.accepted and person.finished(), person.item
        thread = slack.thread(CHANNEL, person._parent()["ts"])  # type: ignore[index]
        locks = [m for m in thread if key_of(m).startswith("lock:")]
        assert len(locks) == 2 and not any(has_buttons(m) for m in locks)
        assert all("<@UBOB>" in m["text"] for m in locks)  # who decided each
        [ending] = [m for m in thread if key_of(m).startswith("end:")]
        assert "approved" in ending["text"].lower()
    runs = [m for m in slack.messages(CHANNEL) if key_of(m).startswith("run:")]
    assert len(runs) == len(people)  # no accepted entry lost, none started twice


async def one_run(tmp_path: Path, fault: Fault | None) -> tuple[FakeSlack, bool]:
    """A ledger run driven to its end with ``fault`` armed; whether the fault struck."""
    struck: list[bool] = []
    async with FakeSlack(members=MEMBERS) as slack, aiohttp.ClientSession() as http:
        url = f"sqlite:///{tmp_path / f'{secrets.token_hex(3)}.db'}"
        bots = [await BotProcess.start(slack, url, FAST)]

        def kill() -> None:
            struck.append(True)
            bots[0].kill_now()

        if fault is not None:
            fault(slack, kill)
        person = Person(slack, http, f"item-{secrets.token_hex(2)}")
        try:
            await finish(slack, [person], bots, lambda _: BotProcess.start(slack, url, FAST))
            assert_durable(slack, [person])
        finally:
            for bot in bots:
                await bot.kill()
    return slack, bool(struck)


async def test_a_run_survives_a_kill_at_every_slack_call(tmp_path: Path) -> None:
    clean, _ = await one_run(tmp_path, None)
    calls = [c.method for c in clean.calls if c.method in WRITES]
    points = [(method, calls[:i].count(method)) for i, method in enumerate(calls)]
    faults: list[Fault] = []
    for method, skip in points:
        for when in ("before", "after"):
            faults.append(
                lambda slack, kill, m=method, s=skip, w=when: slack.on_call(m, kill, when=w, skip=s)
            )
    struck = 0
    for batch in range(0, len(faults), 4):  # a few bots at a time: each is its own process
        done = await asyncio.gather(*(one_run(tmp_path, f) for f in faults[batch : batch + 4]))
        struck += sum(hit for _, hit in done)
    print("kill points", len(faults), "struck", struck, points)
    assert len(points) >= 8 and struck >= len(faults) - 2, (struck, len(faults), points)


@pytest.mark.parametrize(
    "fault",
    [
        lambda slack, _: slack.fail_next("chat.postMessage", status=429, retry_after=1, times=3),
        lambda slack, _: slack.fail_next("chat.postMessage", status=503, times=3),
        lambda slack, _: slack.fail_next("chat.update", status=500, times=4),
        lambda slack, _: slack.drop_next("chat.postMessage", when="before", times=2),
        lambda slack, _: slack.drop_next("chat.postMessage", when="after", times=3),
        lambda slack, _: slack.drop_next("chat.update", when="after", times=3),
        lambda slack, _: slack.hang_next("chat.postMessage", 3, when="after", times=2),
        lambda slack, _: (
            slack.fail_next("conversations.replies", status=503, times=2)
            or slack.drop_next("chat.postMessage", when="after", skip=1)
        ),
    ],
    ids=["429", "503", "update-500", "drop-before", "drop-after", "update-drop", "hang", "lookup"],
)
async def test_a_run_survives_slack_failing(tmp_path: Path, fault: Fault) -> None:
    await one_run(tmp_path, fault)


async def test_a_post_slack_makes_after_the_bot_gave_up_on_it_is_deleted(tmp_path: Path) -> None:
    """Slack makes the run's post 6 s late: after the bot stopped waiting (2 s) and after its
    retry looked for the post, found nothing and posted again. The late copy is deleted when
    the run's message is next updated, and the run goes on in the kept one's thread."""
    async with FakeSlack(members=MEMBERS) as slack, aiohttp.ClientSession() as http:
        url = f"sqlite:///{tmp_path / 'late.db'}"
        bots = [await BotProcess.start(slack, url, FAST)]

        def parents() -> list[dict[str, object]]:
            return [m for m in slack.messages(CHANNEL) if key_of(m).startswith("run:")]

        slack.hang_next("chat.postMessage", 6)  # then makes the post, answering no one
        person = Person(slack, http, "item-late")
        try:
            while not person.accepted:
                await person.step(bots[0].url)
            await slack.until(lambda: len(parents()) == 2, timeout=15)
            await finish(slack, [person], bots, lambda _: BotProcess.start(slack, url, FAST))
            [parent] = parents()
            assert parent == person._parent()  # the one the run's thread is under
            [deleted] = slack.calls_to("chat.delete")
            assert deleted.ok and deleted.args["ts"] != parent["ts"]
            keys = [key_of(m) for m in slack.thread(CHANNEL, str(parent["ts"]))]
            assert len(keys) == len(set(keys)) and len(keys) == 4  # parent, 2 locks, ending
        finally:
            for bot in bots:
                await bot.kill()


def thread_is_whole(slack: FakeSlack, person: Person) -> bool:
    """Each message once, every lock decided without buttons, the run's message approved."""
    thread = person._thread()
    keys = [key_of(m) for m in thread]
    locks = [m for m in thread if key_of(m).startswith("lock:")]
    parents = [m for m in slack.messages(CHANNEL) if key_of(m).startswith("run:")]
    return (
        len(keys) == len(set(keys)) and len(locks) == 2 and not any(map(has_buttons, locks))
        and len(parents) == 1 and "approved" in parents[0].get("text", "")
    )  # fmt: skip


@pytest.mark.parametrize(
    ("method", "skip", "seconds"),
    [("chat.postMessage", 3, 5), ("chat.postMessage", 2, 5), ("chat.update", 0, 6)],
    ids=["ending-copy", "lock-copy-after-its-decision", "old-update-over-a-newer"],
)
async def test_a_request_slack_acts_on_after_the_bot_gave_up_is_undone(
    tmp_path: Path, method: str, skip: int, seconds: float
) -> None:
    """Slack acts on a request seconds after the bot stopped waiting (2 s), after the retry
    went and after the message's last change: a copy of the ending or of a decided lock's form,
    or the run's message put back to an older state. What a retry shows is shown once more
    later (3 x the timeout), and puts the newest state back and the copies away."""
    async with FakeSlack(members=MEMBERS) as slack, aiohttp.ClientSession() as http:
        url = f"sqlite:///{tmp_path / 'late.db'}"
        bots = [await BotProcess.start(slack, url, FAST)]
        slack.faults.add(method, SlackFault("hang", "before", seconds), skip=skip)
        person = Person(slack, http, f"item-{method}-{skip}")
        try:
            await finish(slack, [person], bots, lambda _: BotProcess.start(slack, url, FAST))
            await slack.until(lambda: thread_is_whole(slack, person), timeout=30)
        finally:
            for bot in bots:
                await bot.kill()


async def test_random_kills_under_load_with_slack_failing(tmp_path: Path) -> None:
    await under_load(tmp_path, f"sqlite:///{tmp_path / 'load.db'}", processes=1)


async def test_two_processes_on_postgres_killed_at_random(pg_url: str, tmp_path: Path) -> None:
    await under_load(tmp_path, pg_url, processes=2)


async def under_load(tmp_path: Path, url: str, processes: int) -> None:
    rng = random.Random(20261130)
    async with FakeSlack(members=MEMBERS) as slack, aiohttp.ClientSession() as http:
        bots = [await BotProcess.start(slack, url, FAST) for _ in range(processes)]
        for method in ("chat.postMessage", "chat.update"):
            slack.fail_next(method, status=429, retry_after=1, times=2)
            slack.drop_next(method, when="after", skip=rng.randrange(1, 6))
            slack.fail_next(method, status=503)
        people = [Person(slack, http, f"load-{i}") for i in range(5)]

        async def havoc() -> None:
            for _ in range(4):
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                rng.choice(bots).kill_now()

        chaos = asyncio.create_task(havoc())
        try:
            await finish(slack, people, bots, lambda _: BotProcess.start(slack, url, FAST), 150)
            await chaos
            assert_durable(slack, people)
        finally:
            chaos.cancel()
            for bot in bots:
                await bot.kill()


async def test_a_home_slack_publishes_after_the_bot_gave_up_on_it_is_put_right(
    tmp_path: Path,
) -> None:
    """Slack publishes Bob's Home 6 s late (the bot stopped waiting at 2 s), after the lock it
    lists was answered and the retry published the Home without it: the late view (with the
    lock) lands last. A Home a retry published is published once more later, so it ends
    showing the store's state, not the lock that is gone."""
    async with FakeSlack(members=MEMBERS) as slack, aiohttp.ClientSession() as http:
        url = f"sqlite:///{tmp_path / 'home.db'}"
        process = await BotProcess.start(slack, url, FAST)
        bot = Bot(None, slack, process.url, http)

        def waiting() -> bool:
            return "lockstep_home_answer" in json.dumps(slack.home("UBOB") or {})

        try:
            await bot.open_home("UBOB")
            await slack.until(lambda: slack.home("UBOB") is not None, timeout=10)
            slack.hang_next("views.publish", 6)  # then publishes, answering no one
            assert (await bot.command("start ship", user="UALICE"))[0] == 200
            await slack.until(lambda: any(has_buttons(m) for m in threads(slack)), timeout=10)
            [lock] = [m for m in threads(slack) if has_buttons(m)]
            await asyncio.sleep(1.5)  # Bob's Home, listing it, is being published (and hangs)
            assert (await bot.click(lock, "lockstep_submit", "UBOB"))[0] == 200
            await slack.until(lambda: not any(has_buttons(m) for m in threads(slack)), timeout=10)
            await slack.until(lambda: waiting(), timeout=15)  # the late view landed
            await slack.until(lambda: not waiting(), timeout=20)
        finally:
            await process.kill()


def threads(slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for p in slack.messages(CHANNEL) for m in slack.thread(CHANNEL, p["ts"])]


async def test_a_start_without_a_form_that_slack_was_answered_is_not_lost(tmp_path: Path) -> None:
    """``/flow start ship`` (no entry form) and the bot killed as it asks Slack who is in the
    channel: a command that was answered 200 is one Slack will not send again, so its run is
    stored by then; one that was not is typed again. Either way, exactly one run."""
    async with FakeSlack(members=MEMBERS) as slack, aiohttp.ClientSession() as http:
        url = f"sqlite:///{tmp_path / 'start.db'}"
        bots = [await BotProcess.start(slack, url, FAST)]
        slack.on_call("conversations.members", bots[0].kill_now)
        bot = Bot(None, slack, bots[0].url, http)

        def runs() -> list[dict[str, Any]]:
            return [m for m in slack.messages(CHANNEL) if key_of(m).startswith("run:")]

        try:
            for _ in range(3):
                try:
                    status, _ = await bot.command("start ship")
                except aiohttp.ClientError:
                    status = 0  # not answered: the person types it again
                if status == 200:
                    break
                await bots[0].proc.wait()
                bots[0] = await BotProcess.start(slack, url, FAST)
                bot.url = bots[0].url
            assert status == 200
            await slack.wait_for("conversations.members", timeout=10)  # where the kill strikes
            if not bots[0].alive:  # after its answer: restarted, as a platform would
                await bots[0].proc.wait()
                bots[0] = await BotProcess.start(slack, url, FAST)
            await slack.until(lambda: len(runs()) == 1, timeout=15)
        finally:
            for process in bots:
                await process.kill()
