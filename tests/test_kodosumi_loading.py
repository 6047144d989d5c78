"""How kodosumi apps are named to load: a module, ``module:app``, ``module:app_factory`` (as
uvicorn and kodosumi's own tests name them), an app known by two names."""

from __future__ import annotations

import sys

import pytest

from bot.loading import load_flows
from bot.settings import SettingsError
from flows.errors import FlowConfigError
from flows.forms import InputText, Model, Submit
from store import SQLStore
from tests.kodosumi_slack import box, click, merged, open_entry, started, submit, text, texts
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


async def test_an_app_that_sets_its_form_s_children_loads_and_runs(
    db_url: str, store: SQLStore
) -> None:
    """kodosumi's ``Model.children`` is a plain attribute: code written for several kodosumi
    builds assigns it (``audit``); it was a read-only property, and the app did not load."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.audit") as bot:
        view = await open_entry(bot, "audit-review")
        refused = await submit(bot, view, text("report", "not json"))
        assert refused == {
            "response_action": "errors",
            "errors": {"f_report": "The report is not a scan report: paste its JSON."},
        }
        run = await started(bot, "audit-review", text("report", '{"total": 3}'))
        assert (run.status, run.error, run.result) == ("finished", None, {"findings": 3})
        assert texts(bot, run)[0] == "*Running the review*"


def test_a_form_s_children_assigned_are_checked_as_its_elements_are() -> None:
    form = Model(InputText("a"), Submit("Go"))
    form.children = [InputText("a"), InputText("b")]
    assert [e.to_json()["name"] for e in form.children] == ["a", "b"]
    with pytest.raises(FlowConfigError, match="unique: a"):
        form.children = (InputText("a"), InputText("a"))


async def test_an_app_set_up_as_a_fastapi_app_loads_and_runs(db_url: str, store: SQLStore) -> None:
    """``ServeAPI`` is a FastAPI app: middleware, exception handlers, start-up hooks, routers,
    mounts and ``app.state`` (``webapp``) stopped the app from loading. Each is said once at
    load and not served; ``app.state`` keeps what the app puts there."""
    sys.modules.pop("tests.kodosumi_apps.webapp", None)  # said as it is imported
    with pytest.warns(UserWarning) as said:
        load_flows(["tests.kodosumi_apps.webapp"])
    assert [str(w.message).split(": Lockstep")[0] for w in said] == [
        "add_middleware(CORSMiddleware)", "include_router(Router)", "mount('/static')",
        "add_exception_handler(ValueError)", "add_event_handler('shutdown')",
        "middleware('http') (timing)", "exception_handler(KeyError) (missing)",
        "on_event('startup') (startup)", "GET,HEAD /ping (ping)", "WEBSOCKET /ws (socket)",
    ]  # fmt: skip
    assert {w.filename for w in said} == {sys.modules["tests.kodosumi_apps.webapp"].__file__}
    async with running_bot(db_url, flows="tests.kodosumi_apps.webapp") as bot:
        run = await started(bot, "greet", text("name", "Ann"))
        assert (run.status, run.error) == ("finished", None)
        assert run.result == {"said": "Hello, Ann", "ping": {"pong": True}}
