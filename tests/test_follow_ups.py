"""Work after an ack (``Handlers.after``) runs a few at a time, first come first served, so a
burst of clicks never starves the event loop the next ack needs."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.handlers import Handlers
from bot.listening import FOLLOW_UPS
from bot.seal import Seal
from flows.engine import Engine


async def test_follow_ups_run_a_few_at_a_time_first_come_first_served() -> None:
    handlers = Handlers(cast(Engine, None), Seal("secret"))
    release = asyncio.Event()
    started: list[int] = []
    running = 0
    most = 0

    async def work(n: int) -> None:
        nonlocal running, most
        started.append(n)
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    who = cast(inbound.ButtonClick, None)
    client = cast(AsyncWebClient, None)
    for n in range(FOLLOW_UPS * 2 + 3):
        handlers.after(work(n), client, who)
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == list(range(FOLLOW_UPS))  # the rest wait their turn
    release.set()
    await handlers.drain()
    assert started == list(range(FOLLOW_UPS * 2 + 3)) and most == FOLLOW_UPS


async def test_a_follow_up_cancelled_before_its_turn_never_starts() -> None:
    handlers = Handlers(cast(Engine, None), Seal("secret"))
    gate = asyncio.Event()
    ran: list[int] = []

    async def work(n: int) -> None:
        ran.append(n)
        await gate.wait()

    any_: Any = None
    for n in range(FOLLOW_UPS + 1):
        handlers.after(work(n), any_, any_)
    await asyncio.sleep(0)
    for task in handlers.tasks:
        task.cancel()
    await asyncio.gather(*handlers.tasks, return_exceptions=True)
    assert ran == list(range(FOLLOW_UPS))  # the last never started (and warns of nothing)
