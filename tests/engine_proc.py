"""An engine in its own process, for the crash tests: ``python -m tests.engine_proc URL CMD ...``.

It prints one line per fact (``lock <execution> <lock id> <name>``, ``status <execution>
<status>``) and serves (APScheduler sweeps for due timers and orphaned runs) until killed, or
until the execution it watches ends when ``--until-done`` is given. ``fire-all`` races for every
due timer and prints how many it fired. ``CLOCK_OFFSET`` moves its clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from bot.scheduler import TimerScheduler
from flows import Request
from flows.engine import Engine, EngineConfig, Show
from store import SQLStore
from tests.sample_flows import app


class OffsetClock:
    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset


class Printer:
    def __init__(self) -> None:
        self.ended: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def show(self, show: Show) -> Any:
        """Prints each moment a person would see; a lock the first time it is shown."""
        execution, lock = show.run, show.lock
        if show.kind == "run":
            print("status", execution.id, execution.status, flush=True)
            if execution.done:
                self.ended[execution.id] = execution.status
                self.changed.set()
        elif show.kind == "lock" and lock is not None:
            if lock.open and show.location is None:
                print("lock", execution.id, lock.id, lock.name, flush=True)
            elif not lock.open:
                print("resolved", execution.id, lock.id, lock.status, flush=True)
        elif show.payload.get("type") == "progress":
            print("progress", execution.id, show.payload.get("text"), flush=True)
        return {"printed": show.key}


async def main(url: str, cmd: str, *args: str) -> None:
    store = await SQLStore.open(url)
    printer = Printer()
    clock = OffsetClock(float(os.environ.get("CLOCK_OFFSET", "0")))
    engine = Engine(store, [app], printer, clock, EngineConfig(takeover=0.8))
    watch = None
    if cmd == "start":
        watch = await engine.start(args[0], json.loads(args[1]), Request(args[0], "UALICE"))
        print("started", watch, flush=True)
    elif cmd == "submit":
        decision = await engine.submit(args[0], json.loads(args[1]), "UBOB")
        print("decision", decision.outcome, flush=True)
        watch = decision.lock.execution_id
    elif cmd == "serve":
        watch = args[0]
    elif cmd == "fire-all":  # race other processes for every due timer; report how many won
        fired = 0
        while await store.due_timers(clock.now(), 1):
            fired += await engine.fire_due(limit=100)
        await engine.idle()
        print("fired", fired, flush=True)
        await engine.close()
        await store.close()
        return
    until_done = "--until-done" in args
    scheduler = TimerScheduler(engine, every=0.05)  # APScheduler, as the bot runs
    scheduler.start()
    while not (until_done and watch in printer.ended):
        printer.changed.clear()
        await printer.changed.wait()
    scheduler.shutdown()
    execution = await store.execution(watch) if watch else None
    print("done", json.dumps(execution.result if execution else None), flush=True)
    await engine.close()
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
