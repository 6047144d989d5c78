"""kodosumi apps whose own threads report through the tracer (``pool``): a worker's
``*_sync`` call never waits for the event loop, which the runner may be holding while it
waits for that worker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store import SQLStore
from tests.kodosumi_slack import started, text, texts
from tests.slackbot import Bot, running_bot


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with running_bot(db_url, flows="tests.kodosumi_apps.pool") as running:
        yield running


async def test_workers_report_while_the_runner_blocks_the_loop_waiting_for_them(
    bot: Bot,
) -> None:
    run = await started(bot, "digest", text("docs", "alpha beta gamma"))
    assert (run.status, run.error) == ("finished", None)
    assert run.result == {"summaries": ["ALPHA", "BETA", "GAMMA"]}
    said = texts(bot, run)
    workers = said[:6]  # the two workers' lines interleave, each worker's in its order
    for doc in ("alpha", "beta", "gamma"):
        lines = [f"reading {doc}", f"• *{doc}*: {len(doc)} letters"]
        assert [line for line in workers if line in lines] == lines, said
    assert said[6] == "Read 3 documents." and said[7].startswith("✅ *Finished*"), said


async def test_output_awaited_on_a_sync_runner_s_own_event_loop(
    db_url: str, store: SQLStore
) -> None:
    """``asyncio.run`` in a sync runner (``pipeline``): its ``await tracer.markdown`` hung the
    run for ever; it is output in order. A lock awaited there fails the run, saying why."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.pipeline") as bot:
        run = await started(bot, "pipeline", text("topic", "tea"))
        assert (run.status, run.error) == ("finished", None)
        assert run.result == {"summary": "tea is old; tea is loved"}
        assert texts(bot, run)[:-1] == [
            "kicking off", "*Researching _tea_*", "tea is old\ntea is loved",
            '```{"notes": 2}```', "done",
        ]  # fmt: skip
        run = await started(bot, "pipeline-lock", {})
        assert run.status == "error"
        assert run.error and run.error.startswith("RuntimeError: lock, step and sleep must be")


async def test_print_in_the_loop_s_default_executor_is_the_run_s_output(
    db_url: str, store: SQLStore
) -> None:
    """``loop.run_in_executor(None, work)`` (``executor``): ``work``'s ``print()`` went to the
    bot's own stdout, lost to the run; it is the run's output, as kodosumi captures it."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.executor") as bot:
        run = await started(bot, "crunch", text("n", "4"))
        assert (run.status, run.result) == ("finished", {"squared": 16})
        assert texts(bot, run)[:2] == ["```crunching 4 items```", "*16*"]
