"""docs/api.md and the README's API section say only what runs: every ``lockstep`` command they
show is one the CLI accepts, the pipeline gates are valid YAML (and Python) whose commands the
CLI accepts, the Argo gate's script passes an approved run and fails any other against the real
bot, and the webhook receiver shown verifies what the bot signs."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.admin import new_secret
from bot.cli.main import parser
from bot.webhooks import signed_headers
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.slackbot import CHANNEL, running_bot

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


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


def argo_script(start: str, uid: str) -> str:
    """The Argo gate's shell script as the docs show it, starting ``start`` (a run's JSON) in
    the workflow ``uid``."""
    argo = yaml.safe_load(blocks(DOC, "yaml")[1])
    approval = next(t for t in argo["spec"]["templates"] if t["name"] == "approval")
    script = str(approval["container"]["args"][0]).replace("{{workflow.uid}}", uid)
    return re.sub(r"-d '[^']*'", lambda _: f"-d '{start}'", script)


async def open_lock(
    api: Api, token: str, flow: str, count: int, shell: asyncio.subprocess.Process
) -> str:
    """The id of the open lock of ``flow``'s run once it has opened ``count`` locks."""
    while shell.returncode is None:
        runs = (await api.call("GET", f"/api/v1/runs?flow={flow}", token)).body["runs"]
        if runs:
            trail = (await api.call("GET", f"/api/v1/runs/{runs[0]['id']}/audit", token)).body
            opened = [e for e in trail["events"] if e["kind"] == "lock_opened"]
            if len(opened) == count and runs[0]["locks"]:
                return str(runs[0]["locks"][0]["id"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"the gate's script ended early ({shell.returncode})")


@pytest.mark.skipif(shutil.which("curl") is None, reason="the gate's script needs curl")
async def test_the_argo_gate_passes_an_approved_run_and_fails_a_rejected_one(
    api: Api, tmp_path: Path
) -> None:
    """Its outcome is the ended run's, whatever the answers before said: a triage whose first
    answer's field ``outcome`` was typed "approved", then rejected at its sign-off, fails."""
    ci = await api.token("ci", start=("deploy", "triage"), read=("*",))
    bob = await api.token("bob", read=("*",), answer=("*",))

    async def gate(flow: str, answers: list[dict[str, Any]]) -> int:
        body = f'{{"flow": "{flow}", "inputs": {{"service": "api", "version": "1.4"}}, '
        body += f'"channel": "{CHANNEL}"}}'
        env = {"PATH": "/usr/bin:/bin", "LOCKSTEP_URL": api.base, "LOCKSTEP_TOKEN": ci}
        shell = await asyncio.create_subprocess_exec(
            "sh", "-c", argo_script(body, flow), cwd=tmp_path, env=env
        )
        for count, answer in enumerate(answers, 1):
            lock = await open_lock(api, bob, flow, count, shell)
            done = await api.call("POST", f"/api/v1/locks/{lock}/answer", bob, answer)
            assert done.status == 200, done.body
        return await asyncio.wait_for(shell.wait(), 30)

    assert await gate("deploy", [{"inputs": {"comment": "go"}}]) == 0
    rejected: list[dict[str, Any]] = [
        {"inputs": {"outcome": "approved"}},
        {"decision": "reject", "comment": "no"},
    ]
    assert await gate("triage", rejected) != 0
    [run] = (await api.call("GET", "/api/v1/runs?flow=triage", ci)).body["runs"]
    assert run["outcome"] == "rejected"
