"""``flows.engine.every.Every``: a job every so many seconds while work goes on (heartbeats,
lease renewals): on time, on after a failing turn, and never again once stopped."""

from __future__ import annotations

import asyncio

import pytest

from flows.engine.every import Every


async def test_turns_come_every_interval_until_stopped() -> None:
    turns: list[float] = []
    loop = asyncio.get_running_loop()

    async def job() -> None:
        turns.append(loop.time())

    start = loop.time()
    every = Every(0.05, job)
    await asyncio.sleep(0.18)
    every.stop()
    count = len(turns)
    await asyncio.sleep(0.12)
    assert count == len(turns) == 3  # at about 0.05, 0.10 and 0.15 s
    assert turns[0] - start >= 0.05


async def test_a_failing_turn_is_logged_and_the_next_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    turns = 0

    async def job() -> None:
        nonlocal turns
        turns += 1
        if turns == 1:
            raise ConnectionError("the database went away")

    every = Every(0.03, job)
    await asyncio.sleep(0.1)
    every.stop()
    assert turns >= 2
    assert "a periodic job failed" in caplog.text


async def test_stopping_cancels_a_turn_under_way() -> None:
    began, ended = asyncio.Event(), []

    async def job() -> None:
        began.set()
        await asyncio.sleep(1)
        ended.append(True)

    every = Every(0.01, job)
    await asyncio.wait_for(began.wait(), 1)
    every.stop()
    await asyncio.sleep(0.05)
    assert ended == []
