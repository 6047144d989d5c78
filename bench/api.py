"""The HTTP API under load: ``python -m bench.api [--answers 200] [--waiters 200]``.

Runs ``python -m bot`` as a subprocess (SQLite in a temporary directory, its Web API pointed at
an in-process ``FakeSlack``), with two API tokens made in its database first. Prints one JSON
line with:

- ``answer_to_resumed_ms``: one deploy run at a time, from sending
  ``POST /api/v1/locks/{id}/answer`` until the run's event stream (already open) shows the flow
  resumed (its first event after the lock, the ``progress`` of ``tracer.markdown``), p50/p90/p99;
  likewise until it finished (``answer_to_finished_ms``), and the answer request's own round
  trip;
- ``waiters``: N runs started, then N concurrent ``lockstep start --wait`` clients (the CLI's
  own ``remote.wait``, each its own event stream) held open by the one bot process: how long
  they took to connect, the bot's memory and CPU while it held them, and, once every run was
  answered, how long until every client had its ending and its exit status (all must be 0);
- with ``--processes N``, the same with N real ``lockstep start … --wait`` processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.botproc import ROOT, BenchError, BotProcess, bot_process, report_log
from bot.api import Scopes, new_token
from bot.cli import remote
from bot.fake.slack import FakeSlack
from store import SQLStore

CHANNEL = "CBENCHAPI"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": round(statistics.median(ordered), 2), "p90": at(0.9), "p99": at(0.99)}


async def make_tokens(database: Path) -> tuple[str, str]:
    """A token that starts deploys, and one that answers for an approver."""
    store = await SQLStore.open(f"sqlite:///{database}")
    try:
        starter, row = new_token("bench-ci", Scopes(start=("deploy",)), time.time())
        await store.create_token(row)
        approver, row = new_token("bench-approver", Scopes(read=("*",), answer=("UAPPROVER",)),
                                  time.time())  # fmt: skip
        await store.create_token(row)
    finally:
        await store.close()
    return starter, approver


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def start(http: aiohttp.ClientSession, target: remote.Remote, i: int) -> dict[str, Any]:
    inputs = {"service": f"svc{i}", "version": f"1.0.{i}"}
    return await remote.start(http, target, "deploy", inputs, CHANNEL, None)


async def answer(http: aiohttp.ClientSession, target: remote.Remote, lock: str) -> float:
    begin = time.perf_counter()
    status, body = await remote.call(
        http, target, "POST", f"/api/v1/locks/{lock}/answer", {"inputs": {"comment": "ok"}}
    )
    if status != 200:
        raise BenchError(f"answer refused: {status} {body}")
    return (time.perf_counter() - begin) * 1000


async def resumed(
    http: aiohttp.ClientSession, starter: remote.Remote, approver: remote.Remote, n: int
) -> dict[str, Any]:
    """One run at a time: answer it, and time until its open event stream says it finished."""
    to_resumed: list[float] = []
    to_finished: list[float] = []
    round_trips: list[float] = []
    for i in range(n):
        run = await start(http, starter, i)
        stream = remote.events(http, starter, run["id"], None)
        async for _, kind, _ in stream:
            if kind == "status":  # parked at its lock: every earlier event is in
                break
        begin = time.perf_counter()
        round_trips.append(await answer(http, approver, run["locks"][0]["id"]))
        async for _, kind, _ in stream:
            if kind == "progress":  # the flow's first word after the lock: it resumed
                to_resumed.append((time.perf_counter() - begin) * 1000)
            if kind == "finished":
                to_finished.append((time.perf_counter() - begin) * 1000)
                break
        await stream.aclose()
    return {
        "answer_to_resumed_ms": percentiles(to_resumed),
        "answer_to_finished_ms": percentiles(to_finished),
        "answer_round_trip_ms": percentiles(round_trips),
    }


async def waiters(
    http: aiohttp.ClientSession,
    bot: BotProcess,
    starter: remote.Remote,
    approver: remote.Remote,
    n: int,
) -> dict[str, Any]:
    runs = await asyncio.gather(*(start(http, starter, 10_000 + i) for i in range(n)))
    connected = 0
    all_connected = asyncio.Event()
    before_cpu = bot.cpu_seconds()

    def seen(kind: str, _event: dict[str, Any]) -> None:
        nonlocal connected
        if kind == "started":  # the first event of each stream: that client is connected
            connected += 1
            if connected == n:
                all_connected.set()

    begin = time.perf_counter()
    waiting = [
        asyncio.create_task(remote.wait(http, starter, run["id"], 300, seen)) for run in runs
    ]
    await asyncio.wait_for(all_connected.wait(), 120)
    connect_s = time.perf_counter() - begin
    await asyncio.sleep(2.0)  # held open, idle
    held = {"bot_rss_mb": rss_mb(bot.pid),
            "bot_cpu_s_while_idle_2s": round(bot.cpu_seconds() - before_cpu, 2)}  # fmt: skip
    answered = time.perf_counter()
    await asyncio.gather(*(answer(http, approver, run["locks"][0]["id"]) for run in runs))
    ended = await asyncio.gather(*waiting)
    done_s = time.perf_counter() - answered
    statuses = [remote.ending_status(e) if e else remote.TIMED_OUT for e in ended]
    if any(statuses):
        raise BenchError(f"exit statuses: {sorted(set(statuses))}")
    return {
        "clients": n,
        "all_connected_s": round(connect_s, 2),
        **held,
        "answer_all_until_every_client_ended_s": round(done_s, 2),
        "exit_statuses": sorted(set(statuses)),
    }


async def processes(
    http: aiohttp.ClientSession, bot: BotProcess, approver: remote.Remote, token: str, n: int
) -> dict[str, Any]:
    """N real ``lockstep start deploy … --wait`` processes, each its own run and stream."""
    base = approver.url
    env = {**os.environ, "LOCKSTEP_URL": base, "LOCKSTEP_TOKEN": token,
           "LOCKSTEP_CHANNEL": CHANNEL, "PYTHONPATH": str(ROOT)}  # fmt: skip
    begin = time.perf_counter()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "start",
            "deploy",
            f"service=p{i}",
            "version=1",
            "--wait",
            "--timeout",
            "600",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for i in range(n)
    ]
    for proc in procs:  # each prints its run's link, then follows its events
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 300)
    await asyncio.sleep(2.0)  # their streams connect
    started_s = time.perf_counter() - begin
    held = {"bot_rss_mb": rss_mb(bot.pid)}
    locks: list[str] = []
    after = ""
    while True:
        _, page = await remote.call(
            http, approver, "GET", f"/api/v1/runs?status=awaiting&flow=deploy&limit=100{after}"
        )
        locks += [r["locks"][0]["id"] for r in page["runs"] if r["locks"]]
        if not page["next"]:
            break
        after = f"&after={page['next']}"
    answered = time.perf_counter()
    await asyncio.gather(*(answer(http, approver, lock) for lock in locks))
    codes = await asyncio.gather(*(proc.wait() for proc in procs))
    return {
        "processes": n,
        "all_started_and_waiting_s": round(started_s, 1),
        **held,
        "answer_all_until_every_process_exited_s": round(time.perf_counter() - answered, 2),
        "exit_statuses": sorted(set(codes)),
    }


async def main(answers: int, clients: int, procs: int) -> dict[str, Any]:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        starter_token, approver_token = await make_tokens(Path(tmp) / "bench.db")
        async with FakeSlack(members={CHANNEL: ["UAPPROVER"]}) as slack:
            async with bot_process(slack, Path(tmp), secret) as bot:
                base = bot.url.removesuffix("/slack/events")
                starter = remote.Remote(base, starter_token)
                approver = remote.Remote(base, approver_token)
                limits = aiohttp.TCPConnector(limit=0)
                async with aiohttp.ClientSession(connector=limits) as http:
                    await resumed(http, starter, approver, 20)  # warm up
                    figures = await resumed(http, starter, approver, answers)
                    figures["waiters"] = await waiters(http, bot, starter, approver, clients)
                    if procs:
                        figures["cli_processes"] = await processes(
                            http, bot, approver, starter_token, procs
                        )
            report_log(Path(tmp) / "bot.log")
    return {"bench": "api", "store": "sqlite", "answers": answers, **figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--processes", type=int, default=0,
                        help="also this many real `lockstep start --wait` processes")  # fmt: skip
    args = parser.parse_args()
    try:
        print(json.dumps(asyncio.run(main(args.answers, args.waiters, args.processes))))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
