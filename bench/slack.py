"""The bot as Slack meets it: ``python -m bench.slack [--clients 50] [--requests 1000]
[--flows 200] [--samples 100]``.

Runs ``python -m bot`` as a subprocess (SQLite in a temporary directory, its Web API pointed at an
in-process ``FakeSlack``) and drives it with signed requests from N concurrent clients. Prints one
JSON line: HTTP ack round trips (p50/p99 ms) for ``/flow list``, ``/flow start deploy``, entry
modal submissions and lock Submit clicks, command throughput, how long the bot takes to finish
the clicked runs, and, one run at a time, the time from a Submit click until the next message
lands in the run's thread and until its "✅ Approved" ending does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.botproc import BenchError, BotProcess, bot_process, report_log
from bot.fake.signing import interaction_body, signed_headers, slash_command_body
from bot.fake.slack import FakeSlack
from bot.fake.wire import RecordedCall
from bot.render.blocks import ACTION_SUBMIT, ACTIONS_BLOCK_ID
from bot.render.inputs import input_block_id
from bot.render.messages import STATUS_WORDS

USER, APPROVER = "UBENCH", "UAPPROVER"
COMMANDS = "CBENCH"  # where the list and start commands are typed
WAIT = 120.0  # seconds for the bot to finish the Web API calls of one phase
WARMUP = 20  # requests before measuring: Bolt's first request also calls auth.test
FINISHED = "✅ *Approved*"  # how an approved run's last thread message begins
ENDED = "✅ approved by"  # what its run message says then
DECIDED = "Approved by"  # and its lock message


@dataclass(frozen=True)
class Run:
    """A deploy run paused at its approval lock, as its approver sees it."""

    channel: str
    lock_message: dict[str, Any]


def channel(i: int) -> str:
    return f"CBENCH{i:05d}"


def text_input(name: str, value: str) -> dict[str, Any]:
    return {input_block_id(name): {name: {"type": "plain_text_input", "value": value}}}


def entry_submission(view: dict[str, Any], i: int) -> bytes:
    values = text_input("service", f"svc{i}") | text_input("version", f"1.0.{i}")
    return interaction_body(
        {
            "type": "view_submission",
            "team": {"id": "T0001"},
            "user": {"id": USER},
            "api_app_id": "A0001",
            "view": {**view, "state": {"values": values}},
        }
    )


def is_lock(message: dict[str, Any]) -> bool:
    return any(b.get("block_id") == ACTIONS_BLOCK_ID for b in message.get("blocks", []))


def submit_click(run: Run, i: int) -> bytes:
    """Submit on the lock message, with a comment typed in; shaped like ``tests/slackbot.py``."""
    message = run.lock_message
    button = next(
        e
        for b in message["blocks"]
        if b.get("block_id") == ACTIONS_BLOCK_ID
        for e in b["elements"]
        if e["action_id"] == ACTION_SUBMIT
    )
    container = {"type": "message", "message_ts": message["ts"], "channel_id": run.channel}
    return interaction_body(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": APPROVER},
            "api_app_id": "A0001",
            "trigger_id": f"bench-click-{i}",
            "container": container,
            "channel": {"id": run.channel},
            "message": message,
            "state": {"values": text_input("comment", f"ship it #{i}")},
            "actions": [{**button, "block_id": ACTIONS_BLOCK_ID}],
        }
    )


class Sender:
    """Signs and posts bodies to ``/slack/events``; each post returns its round trip in ms."""

    def __init__(self, http: aiohttp.ClientSession, url: str, secret: str) -> None:
        self.http = http
        self.url = url
        self.secret = secret
        self.failures: list[str] = []

    async def post(self, body: bytes, expect: str | None = None) -> float:
        headers = signed_headers(self.secret, body)
        begin = time.perf_counter()
        async with self.http.post(self.url, data=body, headers=headers) as response:
            text = await response.text()
        elapsed = (time.perf_counter() - begin) * 1000
        if response.status != 200 or (expect is not None and text != expect):
            self.failures.append(f"{response.status} {text[:200]}")
        return elapsed

    async def fan_out(
        self, bodies: Sequence[bytes], clients: int, expect: str | None = None
    ) -> tuple[list[float], float]:
        """Post every body from ``clients`` concurrent clients; latencies and wall seconds."""
        pending = iter(bodies)
        latencies: list[float] = []

        async def client() -> None:
            for body in pending:
                latencies.append(await self.post(body, expect))

        begin = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return latencies, time.perf_counter() - begin


async def watch(
    slack: FakeSlack,
    method: str,
    channels: Iterable[str],
    since: int,
    matches: Callable[[RecordedCall], bool],
) -> None:
    """Wait until every channel has a matching call to ``method`` after the first ``since``.

    Wakes on each new call (``FakeSlack.wait_for``), never polls; ``WAIT`` seconds in all."""
    pending, seen = set(channels), since
    try:
        async with asyncio.timeout(WAIT):
            while True:
                calls = slack.calls_to(method)
                for call in calls[seen:]:
                    if call.ok and matches(call):
                        pending.discard(str(call.args.get("channel")))
                seen = len(calls)
                if not pending:
                    return
                await slack.wait_for(method, seen + 1, timeout=WAIT)
    except TimeoutError:
        raise BenchError(f"{len(pending)} channels still wait for {method} after {WAIT}s") from None


async def parents_say(slack: FakeSlack, channels: list[str], words: str) -> None:
    """Wait until each channel's run message (posted so, or updated) shows ``words``."""

    def said() -> bool:
        return all(words in str(slack.messages(ch)[0].get("text")) for ch in channels)

    try:
        await slack.until(lambda: all(slack.messages(ch) for ch in channels) and said(), WAIT)
    except TimeoutError:
        raise BenchError(f"run messages do not all say {words!r} after {WAIT}s") from None


async def settled(slack: FakeSlack, runs: Sequence[Run]) -> None:
    """Wait until each approved run's messages are all edited too (its run message says how it
    ended, its lock who decided it): the ending is posted first, the edits after it."""

    def edited(run: Run) -> bool:
        messages = slack.messages(run.channel)
        if not messages or ENDED not in str(messages[0].get("text")):
            return False
        ts = run.lock_message["ts"]
        lock = [m for m in slack.thread(run.channel, messages[0]["ts"]) if m["ts"] == ts]
        return bool(lock) and DECIDED in str(lock[0].get("text"))

    try:
        await slack.until(lambda: all(edited(run) for run in runs), WAIT)
    except TimeoutError:
        raise BenchError(f"approved runs' messages are not all edited after {WAIT}s") from None


def locked(call: RecordedCall) -> bool:
    return is_lock(call.args)


def in_thread(call: RecordedCall) -> bool:
    return bool(call.args.get("thread_ts"))


def finished(call: RecordedCall) -> bool:
    return in_thread(call) and str(call.args.get("text")).startswith(FINISHED)


async def open_runs(
    sender: Sender, slack: FakeSlack, count: int, clients: int
) -> tuple[list[Run], list[float], float]:
    """Start ``count`` deploy runs, each in its own channel, and wait until all are paused.

    Returns the runs, and the ack latencies and wall seconds of their entry submissions."""
    channels = [channel(i) for i in range(count)]
    opened = len(slack.calls_to("views.open"))
    posts = len(slack.calls_to("chat.postMessage"))
    commands = [
        slash_command_body(
            "/flow", "start deploy", user_id=USER, channel_id=ch, trigger_id=f"bench-{ch}"
        )
        for ch in channels
    ]
    await sender.fan_out(commands, clients, expect="")
    calls = await slack.wait_for("views.open", opened + count, timeout=WAIT)
    views = {c.args["trigger_id"]: c.response["view"] for c in calls[opened:] if c.ok}
    submissions = [entry_submission(views[f"bench-{ch}"], i) for i, ch in enumerate(channels)]
    entry_acks, wall = await sender.fan_out(submissions, clients, expect="")
    await watch(slack, "chat.postMessage", channels, posts, locked)
    await parents_say(slack, channels, STATUS_WORDS["awaiting"])
    runs = []
    for ch in channels:
        [parent] = slack.messages(ch)
        lock = next(m for m in slack.thread(ch, parent["ts"]) if is_lock(m))
        runs.append(Run(ch, lock))
    return runs, entry_acks, wall


async def one_at_a_time(
    sender: Sender, slack: FakeSlack, runs: Sequence[Run], first: int
) -> tuple[list[float], list[float]]:
    """Per run: click Submit, then time the run's next thread message and its ending.

    The clock stops when FakeSlack records the message, whether or not the ack is back yet."""
    to_next, to_finished = [], []
    for i, run in enumerate(runs, first):
        body = submit_click(run, i)
        posts = len(slack.calls_to("chat.postMessage"))
        begin = time.perf_counter()
        ack = asyncio.create_task(sender.post(body, expect=""))  # the thread may move first
        await watch(slack, "chat.postMessage", [run.channel], posts, in_thread)
        to_next.append((time.perf_counter() - begin) * 1000)
        await watch(slack, "chat.postMessage", [run.channel], posts, finished)
        to_finished.append((time.perf_counter() - begin) * 1000)
        await ack
        await settled(slack, [run])
    return to_next, to_finished


def pct(values: list[float], p: float) -> float:
    """Nearest rank, as ``bench.engine`` reports it (not imported: that drags in the store)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def acks(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    return {
        f"{name}_ack_p50_ms": round(pct(latencies, 50), 2),
        f"{name}_ack_p99_ms": round(pct(latencies, 99), 2),
        f"{name}_rps": round(len(latencies) / wall),
    }


def latency(name: str, values: list[float]) -> dict[str, float]:
    return {f"{name}_{p}_ms": round(pct(values, int(p[1:])), 2) for p in ("p50", "p99")}


async def bench(clients: int, requests: int, flows: int, samples: int) -> dict[str, Any]:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="lockstep-bench-") as tmp:
        members = {channel(i): [USER, APPROVER] for i in range(flows + samples)}
        members[COMMANDS] = [USER]  # commands are typed where their user is a member
        async with FakeSlack(members=members, checked=False) as slack:  # members only may answer
            try:
                async with (
                    bot_process(slack, Path(tmp), secret) as bot,
                    aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=clients),
                        timeout=aiohttp.ClientTimeout(total=WAIT),
                    ) as http,
                ):
                    sender = Sender(http, bot.url, secret)
                    figures = await measure(sender, slack, bot, clients, requests, flows, samples)
                    for failure in sender.failures[:5]:
                        print(f"failed request: {failure}", file=sys.stderr)
            finally:
                report_log(Path(tmp) / "bot.log")
    return figures


async def measure(
    sender: Sender,
    slack: FakeSlack,
    bot: BotProcess,
    clients: int,
    requests: int,
    flows: int,
    samples: int,
) -> dict[str, Any]:
    """The phases in order; each one's Web API calls are drained before the next begins, so
    ``bot_cpu_ms_per_*`` is the bot's whole cost of one request (or one run) of that kind."""

    def command(text: str, i: int) -> bytes:
        return slash_command_body(
            "/flow", text, user_id=USER, channel_id=COMMANDS, trigger_id=f"bench-cmd-{i}"
        )

    def cpu_ms_per(since: float, count: int) -> float:
        return round((bot.cpu_seconds() - since) * 1000 / count, 2)

    figures: dict[str, Any] = {"clients": clients}
    await sender.fan_out([command("list", i) for i in range(WARMUP)], 1)

    cpu = bot.cpu_seconds()
    lists, wall = await sender.fan_out([command("list", i) for i in range(requests)], clients)
    figures |= acks("command", lists, wall) | {"bot_cpu_ms_per_list": cpu_ms_per(cpu, requests)}

    cpu, opened = bot.cpu_seconds(), len(slack.calls_to("views.open"))
    starts = [command("start deploy", i) for i in range(requests)]
    start_acks, wall = await sender.fan_out(starts, clients, expect="")
    await slack.wait_for("views.open", opened + requests, timeout=WAIT)
    figures |= acks("start", start_acks, wall)
    figures["bot_cpu_ms_per_start"] = cpu_ms_per(cpu, requests)

    cpu = bot.cpu_seconds()
    runs, entry_acks, wall = await open_runs(sender, slack, flows + samples, clients)
    figures |= acks("entry", entry_acks, wall)
    figures["bot_cpu_ms_per_run_to_lock"] = cpu_ms_per(cpu, flows + samples)

    concurrent, sequential = runs[:flows], runs[flows:]
    cpu, posts = bot.cpu_seconds(), len(slack.calls_to("chat.postMessage"))
    clicks = [submit_click(run, i) for i, run in enumerate(concurrent)]
    begin = time.perf_counter()
    submit_acks, wall = await sender.fan_out(clicks, clients, expect="")
    await watch(slack, "chat.postMessage", (r.channel for r in concurrent), posts, finished)
    await settled(slack, concurrent)
    figures |= acks("submit", submit_acks, wall)
    figures["submitted_runs_finished_per_s"] = round(flows / (time.perf_counter() - begin))
    figures["bot_cpu_ms_per_submit_to_finished"] = cpu_ms_per(cpu, flows)

    to_next, to_finished = await one_at_a_time(sender, slack, sequential, first=flows)
    figures |= {"samples": samples} | latency("submit_to_next_message", to_next)
    figures |= latency("submit_to_finished", to_finished)
    return figures | {"failed_requests": len(sender.failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000, help="per command kind")
    parser.add_argument("--flows", type=int, default=200, help="runs submitted concurrently")
    parser.add_argument("--samples", type=int, default=100, help="runs submitted one at a time")
    args = parser.parse_args()
    if min(args.clients, args.requests, args.flows, args.samples) < 1:
        parser.error("every count must be at least 1")
    figures = asyncio.run(bench(args.clients, args.requests, args.flows, args.samples))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
