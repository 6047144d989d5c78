"""The bot as Slack meets it: ``python -m bench.slack [--clients 50] [--requests 1000] [--flows 200]``.

Runs ``python -m bot`` as a subprocess (SQLite in a temporary directory, its Web API pointed at an
in-process ``FakeSlack``) and drives it with signed requests from N concurrent clients. Prints one
JSON line: HTTP ack round trips (p50/p99 ms) for ``/flow list``, ``/flow start deploy``, entry
modal submissions and lock Submit clicks, command throughput, how long the bot takes to finish
the clicked runs, and, one run at a time, the time from a Submit click until the next message
lands in the run's thread and until the "✅ Finished" message does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.engine import pct
from bot.blocks import ACTION_SUBMIT, ACTIONS_BLOCK_ID, input_block_id
from bot.fakeslack import FakeSlack, RecordedCall
from bot.settings import EXAMPLE_FLOWS
from bot.signing import interaction_body, signed_headers, slash_command_body

ROOT = Path(__file__).resolve().parent.parent
USER, APPROVER = "UBENCH", "UAPPROVER"
READY_TIMEOUT = 30.0  # seconds for the bot to answer /healthz
WAIT = 120.0  # seconds for the bot to finish the Web API calls of one phase
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
WARMUP = 20  # requests before measuring: Bolt's first request also calls auth.test


class BenchError(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    """A deploy run paused at its approval lock, as its approver sees it."""

    channel: str
    lock_message: dict[str, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@contextlib.asynccontextmanager
async def bot_process(slack: FakeSlack, tmp: Path, secret: str) -> AsyncIterator[str]:
    """``python -m bot`` on a free loopback port; yields its base URL. Its stderr goes to a file."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
    env |= {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "PORT": str(port),
        "LOCKSTEP_FLOWS": ",".join(EXAMPLE_FLOWS),
        "LOCKSTEP_SWEEP_SECONDS": "3600",
        "PYTHONPATH": str(ROOT),
    }
    with open(tmp / "bot.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(proc, f"{base}/healthz")
            yield base
        finally:
            await stop(proc)


async def wait_ready(proc: asyncio.subprocess.Process, url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise BenchError(f"the bot exited with {proc.returncode} before it was ready")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise BenchError(f"the bot did not answer {url} within {READY_TIMEOUT}s")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_GRACE)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def open_runs(
    sender: Sender, slack: FakeSlack, count: int, clients: int, first: int
) -> tuple[list[Run], list[float]]:
    """Start ``count`` deploy runs, each in its own channel, and wait until all are paused.

    Returns the runs and the ack latencies of their entry modal submissions."""
    indices = range(first, first + count)
    opened = len(slack.calls_to("views.open"))
    posts, updates = len(slack.calls_to("chat.postMessage")), len(slack.calls_to("chat.update"))
    commands = [
        slash_command_body(
            "/flow", "start deploy", user_id=USER, channel_id=channel(i), trigger_id=f"bench-{i}"
        )
        for i in indices
    ]
    await sender.fan_out(commands, clients, expect="")
    calls = await slack.wait_for("views.open", opened + count, timeout=WAIT)
    views = {c.args["trigger_id"]: c.response["view"] for c in calls[opened:] if c.ok}
    submissions = [entry_submission(views[f"bench-{i}"], i) for i in indices]
    entry_acks, _ = await sender.fan_out(submissions, clients, expect="")
    # each run posts its parent and its lock message, and updates the parent twice
    await slack.wait_for("chat.postMessage", posts + 2 * count, timeout=WAIT)
    await slack.wait_for("chat.update", updates + 2 * count, timeout=WAIT)
    runs = []
    for i in indices:
        [parent] = slack.messages(channel(i))
        thread = slack.thread(channel(i), parent["ts"])
        lock = next(m for m in thread if m["ts"] != parent["ts"] and is_lock(m))
        runs.append(Run(channel(i), lock))
    return runs, entry_acks


async def next_post(slack: FakeSlack, after: int) -> RecordedCall:
    return (await slack.wait_for("chat.postMessage", after + 1, timeout=WAIT))[after]


async def one_at_a_time(
    sender: Sender, slack: FakeSlack, runs: Sequence[Run], first: int
) -> tuple[list[float], list[float]]:
    """Per run: click Submit, then time the run's next thread message and its ending."""
    to_next, to_finished = [], []
    for i, run in enumerate(runs, first):
        body = submit_click(run, i)
        posts = len(slack.calls_to("chat.postMessage"))
        begin = time.perf_counter()
        await sender.post(body, expect="")
        progress = await next_post(slack, posts)
        to_next.append((time.perf_counter() - begin) * 1000)
        ending = await next_post(slack, posts + 1)
        to_finished.append((time.perf_counter() - begin) * 1000)
        for call in (progress, ending):
            if call.args.get("channel") != run.channel or not call.args.get("thread_ts"):
                raise BenchError(f"expected a reply in {run.channel}, got {call.args}")
        if not str(ending.args.get("text", "")).startswith("✅ Finished"):
            raise BenchError(f"run in {run.channel} did not finish: {ending.args.get('text')}")
    return to_next, to_finished


def ms(values: list[float], p: float) -> float:
    return round(pct(values, p), 2)


async def bench(clients: int, requests: int, flows: int, samples: int) -> dict[str, Any]:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="lockstep-bench-") as tmp:
        async with FakeSlack() as slack:
            try:
                async with (
                    bot_process(slack, Path(tmp), secret) as base,
                    aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=clients),
                        timeout=aiohttp.ClientTimeout(total=WAIT),
                    ) as http,
                ):
                    sender = Sender(http, f"{base}/slack/events", secret)
                    figures = await measure(sender, slack, clients, requests, flows, samples)
            finally:
                report_log(Path(tmp) / "bot.log")
    return figures


async def measure(
    sender: Sender, slack: FakeSlack, clients: int, requests: int, flows: int, samples: int
) -> dict[str, Any]:
    def body(text: str, i: int) -> bytes:
        return slash_command_body(
            "/flow", text, user_id=USER, channel_id="CBENCH", trigger_id=f"bench-cmd-{i}"
        )

    await sender.fan_out([body("list", i) for i in range(WARMUP)], 1)
    lists, list_wall = await sender.fan_out([body("list", i) for i in range(requests)], clients)
    opened = len(slack.calls_to("views.open"))
    starts = [body("start deploy", i) for i in range(requests)]
    start_acks, start_wall = await sender.fan_out(starts, clients, expect="")
    await slack.wait_for("views.open", opened + requests, timeout=WAIT)

    runs, entry_acks = await open_runs(sender, slack, flows + samples, clients, first=0)
    concurrent, sequential = runs[:flows], runs[flows:]
    posts = len(slack.calls_to("chat.postMessage"))
    clicks = [submit_click(run, i) for i, run in enumerate(concurrent)]
    submit_acks, submit_wall = await sender.fan_out(clicks, clients, expect="")
    begin = time.perf_counter() - submit_wall
    await slack.wait_for("chat.postMessage", posts + 2 * flows, timeout=WAIT)  # progress, ending
    drained = time.perf_counter() - begin
    to_next, to_finished = await one_at_a_time(sender, slack, sequential, first=flows)

    return {
        "clients": clients,
        "command_ack_p50_ms": ms(lists, 50),
        "command_ack_p99_ms": ms(lists, 99),
        "command_rps": round(requests / list_wall),
        "start_ack_p50_ms": ms(start_acks, 50),
        "start_ack_p99_ms": ms(start_acks, 99),
        "start_rps": round(requests / start_wall),
        "entry_ack_p50_ms": ms(entry_acks, 50),
        "entry_ack_p99_ms": ms(entry_acks, 99),
        "submit_ack_p50_ms": ms(submit_acks, 50),
        "submit_ack_p99_ms": ms(submit_acks, 99),
        "submit_rps": round(flows / submit_wall),
        "submitted_runs_finished_per_s": round(flows / drained),
        "samples": samples,
        "submit_to_next_message_p50_ms": ms(to_next, 50),
        "submit_to_next_message_p99_ms": ms(to_next, 99),
        "submit_to_finished_p50_ms": ms(to_finished, 50),
        "submit_to_finished_p99_ms": ms(to_finished, 99),
        "failed_requests": len(sender.failures),
    }


def report_log(path: Path) -> None:
    """Warnings, errors and tracebacks the bot logged, on our stderr (the JSON stays on stdout)."""
    if not path.exists():
        return
    lines = path.read_text(errors="replace").splitlines()
    marks = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback", "Error:")
    bad = [line for line in lines if any(m in line for m in marks)]
    print(f"bot log: {len(lines)} lines, {len(bad)} warnings or errors", file=sys.stderr)
    for line in bad[:20]:
        print(f"  {line}", file=sys.stderr)


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
