"""Every code block in the README runs as shown.

Python blocks are modules: each names its path on its first line (``# my_flows/review.py``),
is saved there, imported by that name, and every flow it defines runs on a real engine and
store to its end, each lock answered by someone allowed to. The quick start's command runs as
``python -m bot`` and prints the line the README shows; a flow module saved where the README says
loads with ``LOCKSTEP_FLOWS``. The install line and ``scripts/test`` are what CI itself runs
(``scripts/test`` installs with pip and runs this suite), so here they are only checked to
exist.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flows import FlowApp, Request
from flows.app import Registry
from flows.engine import Answer, Engine, Execution, FakeClock, RecordingNotifier
from flows.parse import parse
from store import SQLStore
from tests.localbot import ADDRESS, ROOT, local_process

README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCKS = [(m.group(1), m.group(2)) for m in BLOCK.finditer(README)]
PYTHON = [code for kind, code in BLOCKS if kind == "python"]
PEOPLE = ("U012LEAD", "UBOB", "UCAROL", "UDAVE")  # who answers, in turn; UALICE starts runs


def test_every_block_says_what_it_is() -> None:
    assert {kind for kind, _ in BLOCKS} == {"python", "sh", "text"}
    assert len(PYTHON) >= 5
    for code in PYTHON:
        assert re.match(r"# [\w/]+\.py\n", code), code[:80]


@pytest.fixture
def flows_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The README's modules saved where they say, importable by their names."""
    for code in PYTHON:
        path = tmp_path / code.split("\n", 1)[0].removeprefix("# ")
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m == "my_flows" or m.startswith("my_flows.")]:
        del sys.modules[name]


def readme_modules(root: Path) -> dict[str, ModuleType]:
    names = [code.split("\n", 1)[0].removeprefix("# ").removesuffix(".py") for code in PYTHON]
    return {name: importlib.import_module(name.replace("/", ".")) for name in names}


class Everyone:
    """A directory in which everyone is in every group and in the run's channel (and nobody
    stands for anyone else)."""

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        return not principal.startswith(("U", "W"))

    async def person(self, user: str, context: Mapping[str, Any]) -> str:
        return user

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        return True


def answer_for(form: list[dict[str, Any]]) -> dict[str, Any]:
    """A valid answer to any form: the smallest number, the first option, a short text."""
    kinds = {
        "number": lambda e: str(e.get("min_value") or 3),
        "select": lambda e: e["option"][0]["name"],
        "multiselect": lambda e: [e["option"][0]["name"]],
        "boolean": lambda e: True,
        "date": lambda e: "2026-12-01",
        "datetime-local": lambda e: "2026-12-01T10:00",
        "time": lambda e: "10:00",
        "user": lambda e: "UBOB",
    }
    return {
        e["name"]: kinds.get(e["type"], lambda e: "Aurora")(e)
        for e in form
        if isinstance(e.get("name"), str) and e.get("type") not in ("submit", "cancel")
    }


async def run_to_the_end(engine: Engine, store: SQLStore, flow: str) -> Execution:
    spec = engine.registry.entries[flow]
    inputs = answer_for(spec.model.to_json()) if spec.model else {}
    if spec.model:
        parse(spec.model, inputs)  # the entry answer is a valid one
    eid = await engine.start(flow, inputs, Request(flow, "UALICE", {"channel": "C1"}))
    for _ in range(30):
        await engine.settled(eid)
        waiting = [c for c in await store.calls(eid, open_only=True) if c.kind == "lock"]
        if not waiting:
            break
        lock = waiting[0]
        for person in PEOPLE:
            decided = await engine.submit(lock.id, answer_for(lock.form), person)
            assert decided.outcome in (Answer.ACCEPTED, Answer.COUNTED), decided
            if decided.outcome is Answer.ACCEPTED:
                break
    await engine.settled(eid)
    execution = await store.execution(eid)
    assert execution is not None
    return execution


async def test_every_python_block_runs_its_flows_to_the_end(
    flows_dir: Path, store: SQLStore
) -> None:
    modules = readme_modules(flows_dir)
    apps = [v for m in modules.values() for v in vars(m).values() if isinstance(v, FlowApp)]
    engine = Engine(store, Registry(apps), RecordingNotifier(), FakeClock(), directory=Everyone())
    try:
        results = {}
        for flow in engine.registry.entries:
            ended = await run_to_the_end(engine, store, flow)
            assert (ended.status, ended.error) == ("finished", None), flow
            results[flow] = ended
        assert sorted(results) == ["release", "review", "signoff", "trip"]
        review = results["review"]  # the step got its idempotency key: the run's id, then its place
        assert review.result == {"score": 1, "receipt": f"published Aurora ({review.id}-2)"}
        assert results["release"].result["shipped"] is True
        assert results["trip"].result == {"city": "Aurora", "nights": 1, "cabin": "economy"}
        audit = modules["my_flows/audit"]
        document = await audit.audit_of(engine, results["review"].id)
        assert document["format"] == "lockstep.audit/1"
    finally:
        await engine.close()


async def test_the_quick_start_prints_the_line_it_shows(tmp_path: Path) -> None:
    [command] = [code for kind, code in BLOCKS if kind == "sh" and "-m bot" in code]
    assert ".venv/bin/python -m bot" in command
    [shown] = [code for kind, code in BLOCKS if kind == "text" and "local mode" in code]
    async with local_process(tmp_path) as bot:
        printed = ADDRESS.sub("http://127.0.0.1:3000/", bot.line)
    assert printed == shown  # the same words; only the port differs (PORT=0 here)


async def test_a_flow_module_saved_where_the_readme_says_is_loaded(flows_dir: Path) -> None:
    """``my_flows/review.py`` in the directory the bot starts from, named in LOCKSTEP_FLOWS."""
    async with local_process(flows_dir, LOCKSTEP_FLOWS="my_flows.review") as bot:
        assert bot.url.startswith("http://127.0.0.1:")


def test_the_shell_commands_exist() -> None:
    commands = [code for kind, code in BLOCKS if kind == "sh"]
    assert any("pip install -e ." in c for c in commands)
    assert "pip install -q --disable-pip-version-check -e" in (ROOT / "scripts/test").read_text()
    for script in ("scripts/test", "scripts/run"):
        assert script in README and (ROOT / script).stat().st_mode & 0o111
