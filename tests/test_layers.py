"""The folder tree is the layer diagram: the import rules hold, and the check can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.layers import violations

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_rules_hold() -> None:
    assert violations(ROOT) == []


def test_a_forbidden_import_is_named(tmp_path: Path) -> None:
    for package in ("flows", "store", "bot"):
        shutil.copytree(ROOT / package, tmp_path / package)
    runtime = tmp_path / "flows" / "engine" / "runtime.py"
    runtime.write_text(runtime.read_text() + "\nfrom store.sqlstore import SQLStore\n")
    handlers = tmp_path / "bot" / "handlers.py"
    handlers.write_text(handlers.read_text() + "\nfrom flows.engine.runs import Runs\n")
    assert violations(tmp_path) == [
        "bot.handlers imports flows.engine.runs: "
        "the adapter imports only the engine's front door, flows.engine",
        "flows.engine.runtime imports store.sqlstore: the engine imports only the SDK and itself",
    ]


def test_an_import_cycle_is_named(tmp_path: Path) -> None:
    for package in ("flows", "store", "bot"):
        shutil.copytree(ROOT / package, tmp_path / package)
    quorum = tmp_path / "flows" / "engine" / "quorum.py"
    quorum.write_text(
        quorum.read_text() + "\nif False:\n    from flows.engine.runtime import Engine\n"
    )
    [problem] = violations(tmp_path)
    assert problem.startswith("import cycle: ") and "flows.engine.quorum" in problem
