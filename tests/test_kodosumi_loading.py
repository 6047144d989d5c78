"""How kodosumi apps are named to load: a module, ``module:app``, ``module:app_factory`` (as
uvicorn and kodosumi's own tests name them), an app known by two names."""

from __future__ import annotations

import sys

import pytest

from bot.loading import load_flows
from bot.settings import SettingsError
from store import SQLStore
from tests.kodosumi_slack import box, click, merged, started, text, texts
from tests.slackbot import running_bot


async def test_an_app_made_by_a_factory_runs(db_url: str, store: SQLStore) -> None:
    async with running_bot(db_url, flows="tests.kodosumi_apps.factory:app_factory") as bot:
        entry = merged(text("name", "Ann"), box("active", True))
        run = await started(bot, "factory-example", entry)
        assert run.status == "awaiting"
        assert texts(bot, run)[:2] == ["this is a debug message", "```this is stdout```"]
        run = await click(bot, run, box("continue", True))
        assert (run.status, run.error) == ("finished", None)
        assert run.result == {"lock-result": {"phase": "lease-1", "inputs": {"continue": True}}}


def test_an_app_is_named_by_its_module_or_its_attribute_and_loaded_once() -> None:
    for names in (
        ["tests.kodosumi_apps.aliased"],
        ["tests.kodosumi_apps.aliased:app"],
        ["tests.kodosumi_apps.aliased:api", "tests.kodosumi_apps.aliased"],
    ):
        assert list(load_flows(names).entries) == ["aliased"], names
    with pytest.raises(SettingsError, match="aliased:done is no FlowApp"):
        load_flows(["tests.kodosumi_apps.aliased:done"])
    with pytest.raises(SettingsError, match=r"cannot import tests\.kodosumi_apps\.aliased:nope"):
        load_flows(["tests.kodosumi_apps.aliased:nope"])


async def test_an_app_with_routes_of_its_own_loads_and_runs(db_url: str, store: SQLStore) -> None:
    """``@app.get``, ``@app.post``... (FastAPI's route decorators, which kodosumi's ServeAPI
    keeps) are not served by Lockstep: each is said once at load, the function stays as it was
    and the app's entries run."""
    sys.modules.pop("tests.kodosumi_apps.extra_routes", None)  # said as it is imported
    with pytest.warns(UserWarning) as said:
        load_flows(["tests.kodosumi_apps.extra_routes"])
    routes = [str(w.message).split(" (")[0] for w in said]
    assert routes == ["GET /health", "GET /info", "POST /webhook", "PATCH /config",
                      "DELETE /config", "PUT /config"]  # fmt: skip
    assert "not served" in str(said[0].message)
    async with running_bot(db_url, flows="tests.kodosumi_apps.extra_routes") as bot:
        run = await started(bot, "extra-routes", text("name", "Ann"))
        assert (run.status, run.error) == ("finished", None)
        assert run.result == {"hello": "Ann", "health": {"status": "ok"}}
