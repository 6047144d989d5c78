"""The outbox after an outage: ``python -m bench.outbox [--backlog 10000] [--rate 200]``.

``--backlog`` runs paused at a lock, whose messages (the run's and the lock's) were never shown
(Slack was down, say), are in the store when the bot starts; Slack allows ``--rate`` posts and
updates a second (more are answered 429 with ``Retry-After``). While the bot drains the backlog,
people keep using it: a new run every 0.25 s, started and answered. Prints one JSON line: the
drain's duration and rate against the limit, how many calls Slack refused, and for the people
meanwhile the ack latencies and the time from their click to its decision shown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from bench.botproc import bot_process, report_log
from bench.hitl import app
from bot.fake.signing import interaction_body, signed_headers, slash_command_body
from bot.fake.slack import FakeSlack
from bot.render.blocks import ACTION_SUBMIT, ACTIONS_BLOCK_ID
from flows import Request
from flows.engine import Engine, NullNotifier
from store import SQLStore

CHANNELS = 100


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1) if values else 0.0


async def backlog(url: str, n: int) -> None:
    """``n`` runs paused at their first lock, none of their messages shown."""
    store = await SQLStore.open(url)
    engine = Engine(store, [app], NullNotifier())
    gate = asyncio.Semaphore(50)

    async def start(i: int) -> None:
        async with gate:
            request = Request("hitl", "UALICE", {"channel": f"CB{i % CHANNELS:03d}"})
            await engine.settled(await engine.start("hitl", {"n": i}, request))

    await asyncio.gather(*(start(i) for i in range(n)))
    await engine.idle()
    await engine.close()
    unshown = (
        "UPDATE outbox SET shown = 0, pending = 1, location = NULL, attempts = 0, "
        "due_at = 0, lease_owner = NULL, lease_until = NULL"
    )
    await store.run(lambda conn: conn.execute(text(unshown)))
    await store.close()


def lock_button(message: dict[str, Any]) -> dict[str, Any] | None:
    for block in message.get("blocks") or ():
        if block.get("block_id") == ACTIONS_BLOCK_ID:
            return next((e for e in block["elements"] if e["action_id"] == ACTION_SUBMIT), None)
    return None


async def person(
    slack: FakeSlack, http: aiohttp.ClientSession, url: str, secret: str, i: int
) -> tuple[float, float, float]:
    """Start a run in a channel of its own, answer its lock: (start ack, click ack, click to
    its decision shown) in ms."""
    channel = f"CNEW{i:04d}"

    async def post(body: bytes) -> float:
        began = time.perf_counter()
        async with http.post(url, data=body, headers=signed_headers(secret, body)) as response:
            await response.read()
            assert response.status == 200, response.status
        return (time.perf_counter() - began) * 1000

    start_ack = await post(slash_command_body("/flow", f"start hitl n={i}", user_id="UALICE",
                                              channel_id=channel))  # fmt: skip

    def lock() -> dict[str, Any] | None:
        for parent in slack.messages(channel):
            for message in slack.thread(channel, parent["ts"]):
                if lock_button(message):
                    return message
        return None

    await slack.until(lambda: lock() is not None, timeout=120)
    message = lock()
    assert message is not None
    button = lock_button(message)
    payload = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "UBOB"},
        "api_app_id": "A0001", "trigger_id": f"t-{i}", "channel": {"id": channel},
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
        "message": message, "state": {"values": {}},
        "actions": [{**(button or {}), "block_id": ACTIONS_BLOCK_ID}],
    }  # fmt: skip
    clicked = time.perf_counter()
    click_ack = await post(interaction_body(payload))

    def decided() -> bool:
        for parent in slack.messages(channel):
            for shown in slack.thread(channel, parent["ts"]):
                if shown["ts"] == message["ts"]:
                    return lock_button(shown) is None
        return False

    await slack.until(decided, timeout=120)
    return start_ack, click_ack, (time.perf_counter() - clicked) * 1000


async def bench(n: int, rate: float, people: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        made = time.perf_counter()
        await backlog(url, n)
        made_s = time.perf_counter() - made
        secret = secrets.token_hex(16)
        members = {f"CNEW{i:04d}": ["UALICE", "UBOB"] for i in range(people)}
        async with FakeSlack(members=members) as slack, aiohttp.ClientSession() as http:
            limit = slack.rate_limit(["chat.postMessage", "chat.update"], rate, int(rate) or 1)
            env = {"DATABASE_URL": url, "LOCKSTEP_FLOWS": "bench.hitl",
                   "LOCKSTEP_SWEEP_SECONDS": "1"}  # fmt: skip
            async with bot_process(slack, Path(tmp), secret, env) as bot:
                began = time.perf_counter()
                crowd = []
                for i in range(people):
                    crowd.append(asyncio.create_task(person(slack, http, bot.url, secret, i)))
                    await asyncio.sleep(0.25)
                seen = await asyncio.gather(*crowd)

                def drained() -> bool:
                    posts = [c for c in slack.calls_to("chat.postMessage") if c.ok]
                    return len(posts) >= 2 * (n + people)

                await slack.until(drained, timeout=max(600, 4 * n / rate))
                drain_s = time.perf_counter() - began
            report_log(Path(tmp) / "bot.log")
        starts, clicks, shown = (list(x) for x in zip(*seen, strict=True))
        return {
            "backlog_runs": n, "backlog_messages": 2 * n, "made_s": round(made_s, 1),
            "slack_limit_per_s": rate, "drain_s": round(drain_s, 1),
            "drained_per_s": round((2 * n + 3 * people) / drain_s, 1),
            "refused_429": limit.refused, "people": people,
            "start_ack_p50_ms": pct(starts, 50), "start_ack_max_ms": round(max(starts), 1),
            "click_ack_p50_ms": pct(clicks, 50), "click_ack_max_ms": round(max(clicks), 1),
            "click_to_shown_p50_ms": pct(shown, 50), "click_to_shown_max_ms": round(max(shown), 1),
            "click_to_shown_mean_ms": round(statistics.mean(shown), 1),
        }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--people", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.backlog, args.rate, args.people))), flush=True)


if __name__ == "__main__":
    main()
