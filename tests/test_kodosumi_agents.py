"""kodosumi apps whose runner is a method (``agents``): a module-level agent's bound method,
replayed after its lock as the same agent; a classmethod; a function a decorator wrapped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flows.entry import entry_point_name, resolve
from flows.errors import FlowConfigError
from store import SQLStore
from tests.kodosumi_apps import agents, timed
from tests.kodosumi_slack import box, click, started, text, texts
from tests.slackbot import Bot, running_bot


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with running_bot(db_url, flows="tests.kodosumi_apps.agents") as running:
        yield running


async def test_a_module_level_agent_s_method_runs_as_that_agent(bot: Bot) -> None:
    run = await started(bot, "research", text("topic", "llamas"))
    assert (run.status, run.error) == ("awaiting", None)
    assert texts(bot, run)[0] == "analyst (gpt-4o) starts on llamas"
    run = await click(bot, run, text("focus", "wool"))  # replayed: the method found again
    assert (run.status, run.error) == ("finished", None)
    assert run.result == {"role": "analyst", "topic": "llamas", "focus": "wool"}


async def test_a_classmethod_runs(bot: Bot) -> None:
    run = await started(bot, "quick", text("topic", "yaks"))
    assert (run.status, run.result) == ("finished", {"agent": "ResearchAgent", "topic": "yaks"})


def test_a_bound_method_is_stored_by_its_object_s_name() -> None:
    name = entry_point_name(agents.analyst.run)
    assert name == "tests.kodosumi_apps.agents:analyst.run"
    assert resolve(name) == agents.analyst.run
    with pytest.raises(FlowConfigError, match="at module level"):
        entry_point_name(agents.ResearchAgent("other", "x").run)  # made per request: no name


async def test_a_runner_a_decorator_wrapped_is_named_by_its_module_s_name(
    db_url: str, store: SQLStore
) -> None:
    """A decorator without ``functools.wraps`` (``timed``): the runner is the wrapper, whose own
    name is ``timed.<locals>.wrapper``; it was refused at the entry form. It is stored by the
    module's name for it, and replayed after the lock."""
    assert entry_point_name(timed.runner) == "tests.kodosumi_apps.timed:runner"
    async with running_bot(db_url, flows="tests.kodosumi_apps.timed") as bot:
        run = await started(bot, "timed", text("item", "pump"))
        assert run.status == "awaiting", run.error
        run = await click(bot, run, box("ok", True, "Fine"))
        assert (run.status, run.error) == ("finished", None)
        assert run.result == {"item": "pump", "ok": True, "seconds": 0}
