"""Crash-only durability: engines in subprocesses, killed with SIGKILL mid-flow."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from flows import Request
from flows.engine import Engine, FakeClock, RecordingNotifier
from store import SQLStore
from tests.sample_flows import app

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class Proc:
    running: list[Proc] = []

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        Proc.running.append(self)

    @classmethod
    async def spawn(cls, *args: str, offset: float = 0) -> Proc:
        env = {**os.environ, "CLOCK_OFFSET": str(offset), "PYTHONPATH": str(ROOT)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.engine_proc", *args,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def expect(self, prefix: str, timeout: float = 30) -> list[str]:
        """Read lines until one starts with ``prefix``; return its words."""
        assert self.proc.stdout
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not line:
                raise AssertionError(f"process ended before printing {prefix!r}")
            if line.decode().startswith(prefix):
                return line.decode().split()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


@pytest.fixture(autouse=True)
async def reap() -> AsyncIterator[None]:
    yield
    while Proc.running:
        await Proc.running.pop().kill()


async def test_killed_while_awaiting_and_mid_step_finishes_once(
    db_url: str, tmp_path: Path
) -> None:
    log, marker = tmp_path / "effects.log", tmp_path / "marker"
    inputs = {"log": str(log), "block_in": "second", "marker": str(marker), "nap": 0.2}

    first = await Proc.spawn(db_url, "start", "side_effects", json.dumps(inputs))
    _, eid, lock_id, name = await first.expect("lock")
    assert name == "final"
    await first.kill()  # while the flow awaits its lock

    second = await Proc.spawn(db_url, "submit", lock_id, "{}")
    assert (await second.expect("decision"))[1] == "accepted"
    await second.expect("blocked second")
    await second.kill()  # in the middle of the step "second"

    # a new process, with the clock past the durable sleep and the dead claim's heartbeat
    third = await Proc.spawn(db_url, "serve", eid, "--until-done", offset=120)
    assert await third.expect("done") == ["done", "3"]
    await third.proc.wait()
    effects = [line.split(":")[0] for line in log.read_text().splitlines()]
    assert effects == ["first", "second"]  # each side effect happened exactly once


async def test_a_step_killed_after_its_effect_runs_again_with_the_same_key(
    db_url: str, tmp_path: Path
) -> None:
    """At least once, made exactly once by the key: the step runs twice, the effect once."""
    attempts, effects = tmp_path / "attempts", tmp_path / "effects"
    effects.write_text("")
    inputs = {"attempts": str(attempts), "effects": str(effects)}
    first = await Proc.spawn(db_url, "start", "keyed_effect", json.dumps(inputs))
    _, eid = await first.expect("started")
    _, key = await first.expect("charged")
    await first.kill()  # after the effect, before the step's result is recorded
    second = await Proc.spawn(db_url, "serve", eid, "--until-done", offset=60)
    assert await second.expect("done") == ["done", json.dumps(key)]
    await second.proc.wait()
    assert attempts.read_text().split() == [key, key] and key.startswith(eid)
    assert effects.read_text().split() == [key, "42"]


async def test_a_timer_due_while_the_bot_is_down_fires_once_after_restart(
    db_url: str, store: SQLStore
) -> None:
    first = await Proc.spawn(db_url, "start", "quick", json.dumps({"timeout": 30}))
    _, eid, lock_id, _ = await first.expect("lock")
    await first.kill()  # down before the deadline
    # back up after it: the restarted process's scheduler sweep finds the overdue timer
    second = await Proc.spawn(db_url, "serve", eid, "--until-done", offset=60)
    assert await second.expect("done") == ["done", "null"]
    await second.proc.wait()
    execution = await store.execution(eid)
    assert execution and execution.status == "error" and "final expired" in (execution.error or "")
    expired = [e for e in await store.events(eid) if e.kind == "expired"]
    assert [e.call_id for e in expired] == [lock_id]


async def test_two_processes_fire_a_thousand_due_timers_exactly_once(
    db_url: str, store: SQLStore
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several bot processes share Postgres, not a SQLite file")
    engine = Engine(store, [app], RecordingNotifier())
    gate = asyncio.Semaphore(20)

    async def start() -> str:
        async with gate:
            eid = await engine.start("quick", {"timeout": 30}, Request("quick", "U1"))
            await engine.settled(eid)
            return eid

    ids = await asyncio.gather(*(start() for _ in range(1000)))
    await engine.close()
    racers = [await Proc.spawn(db_url, "fire-all", offset=60) for _ in range(2)]
    won = [int((await racer.expect("fired"))[1]) for racer in racers]
    for racer in racers:
        await racer.proc.wait()
    assert sum(won) == 1000, won
    expired = await store.run(
        lambda conn: conn.execute(
            text("SELECT count(*), count(DISTINCT call_id) FROM events WHERE kind = 'expired'")
        ).one()
    )
    assert tuple(expired) == (1000, 1000)
    # A run a racer failed to end (its connection pool starved on a busy machine) is left for
    # recovery, as a process that died leaves it: another process takes it over once the
    # racer's claim is stale (the racers' clocks ran 60 s ahead).
    later = Engine(store, [app], RecordingNotifier(), FakeClock(time.time() + 60 + 30))
    try:
        await later.recover()
        await later.idle()
    finally:
        await later.close()
    statuses = {e.status for e in await store.executions(limit=2000)}
    assert statuses == {"error"} and len(ids) == 1000
