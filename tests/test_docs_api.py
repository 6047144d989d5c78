"""docs/api.md and the README's API section say only what runs: every ``lockstep`` command they
show is one the CLI accepts, the pipeline gates are valid YAML (and Python) whose commands the
CLI accepts, and the webhook receiver shown verifies what the bot signs."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.admin import new_secret
from bot.cli.main import parser
from bot.webhooks import signed_headers

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "api.md").read_text()
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(text: str, kind: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(text) if m.group(1) == kind]


def commands(script: str) -> list[list[str]]:
    """The ``lockstep`` command lines of a shell script (continuations joined; as the venv's
    ``.venv/bin/lockstep`` too)."""
    joined = script.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.split(" # ")[0].strip()
        if line.startswith(("lockstep ", ".venv/bin/lockstep ")):
            found.append(shlex.split(line)[1:])
    return found


def accepted(args: list[str]) -> Any:
    return parser().parse_args(args)


def test_every_lockstep_command_shown_is_accepted() -> None:
    shown = [c for text in (DOC, README) for s in blocks(text, "sh") for c in commands(s)]
    assert len(shown) >= 10
    for args in shown:
        accepted(args)
    with pytest.raises(SystemExit):
        accepted(["start", "deploy", "--wat"])  # the check can fail


def test_the_readme_gate_is_the_one_the_cli_test_runs() -> None:
    [gate] = [c for s in blocks(README, "sh") for c in commands(s) if "--wait" in c]
    assert gate == ["start", "deploy", "service=api", "version=1.4", "--wait"]
    assert (
        '"start", "deploy", "service=api", "version=1.4", "--wait"'
        in (ROOT / "tests" / "test_cli.py").read_text()
    )


def test_the_pipeline_gates_are_valid_and_their_commands_accepted() -> None:
    github, argo = (yaml.safe_load(y) for y in blocks(DOC, "yaml"))
    steps = github["jobs"]["deploy"]["steps"]
    gate = next(s for s in steps if "lockstep" in s.get("run", ""))
    [args] = commands(gate["run"])
    assert accepted(args).wait and gate["env"]["LOCKSTEP_TOKEN"].startswith("${{ secrets.")
    approval = next(t for t in argo["spec"]["templates"] if t["name"] == "approval")
    script = approval["container"]["args"][0]
    assert "/api/v1/runs" in script and "/events" in script and "Idempotency-Key" in script
    airflow = next(p for p in blocks(DOC, "python") if p.startswith("# dags/deploy.py"))
    compile(airflow, "deploy.py", "exec")
    command = re.search(r'"(lockstep start [^"]*)"\s*"([^"]*)"', airflow)
    assert command is not None
    accepted(shlex.split(command.group(1) + command.group(2))[1:])


def test_the_receiver_shown_verifies_what_the_bot_signs() -> None:
    receiver = next(p for p in blocks(DOC, "python") if p.startswith("# receiver.py"))
    space: dict[str, Any] = {}
    exec(compile(receiver, "receiver.py", "exec"), space)
    secret, body = new_secret(), '{"type": "run.finished"}'
    headers = signed_headers(secret, "hook:1:run.finished:x", time.time(), body)
    assert space["handle"](secret, body.encode(), headers) == {"type": "run.finished"}
    with pytest.raises(Exception, match="signature"):
        space["handle"](new_secret(), body.encode(), headers)
