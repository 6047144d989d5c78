"""The ``lockstep`` command against the running bot: ``start … --wait`` prints the run's Slack
link, follows its events, and exits 0 when it is approved in the (fake) Slack, 1 when it is
rejected, 2 when it times out; status, answer and cancel; tokens made and revoked on the
database."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli import remote
from bot.cli.main import parser
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.slackbot import CHANNEL, input_value, running_bot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


async def lockstep(
    api: Api, *args: str, token: str = "", database: str = "", channel: str = CHANNEL
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKSTEP_", "SLACK_"))}
    env |= {"LOCKSTEP_URL": api.base, "LOCKSTEP_TOKEN": token, "LOCKSTEP_CHANNEL": channel,
            "PYTHONPATH": str(ROOT), "DATABASE_URL": database}  # fmt: skip
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finished(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def lock_message(api: Api) -> dict[str, Any]:
    await api.bot.slack.wait_for("chat.postMessage", count=2)
    parent = api.bot.slack.messages(CHANNEL)[-1]
    thread = api.bot.slack.thread(CHANNEL, parent["ts"])
    return next(m for m in thread if m["ts"] != parent["ts"])


async def test_start_wait_exits_0_once_approved_in_slack(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    process = await lockstep(
        api, "start", "deploy", "service=api", "version=1.4", "--wait", "--timeout", "30",
        token=token,
    )  # fmt: skip
    assert process.stdout is not None
    link = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    parent = api.bot.slack.messages(CHANNEL)[-1]
    assert link.startswith("https://") and parent["ts"].replace(".", "") in link
    message = await lock_message(api)
    await api.bot.click(message, "lockstep_submit", "UBOB", input_value("comment", "go"))
    status, out, err = await finished(process)
    assert status == 0, err
    assert "approved" in out
    assert "lease deploy_approval by UBOB" in err  # it followed the events


async def test_start_wait_exits_1_when_rejected(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    process = await lockstep(
        api, "start", "deploy", "service=api", "version=1.4", "--wait", token=token
    )
    message = await lock_message(api)
    await api.bot.click(message, "lockstep_cancel", "UBOB", input_value("comment", "not today"))
    status, out, _ = await finished(process)
    assert status == 1 and "rejected" in out


async def test_start_wait_exits_2_on_timeout(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    process = await lockstep(
        api, "start", "deploy", "service=api", "version=1.4", "--wait", "--timeout", "0.5",
        token=token,
    )  # fmt: skip
    status, _, err = await finished(process)
    assert status == 2 and "timed out" in err
    [run] = await api.store.executions()
    assert run.status == "awaiting"  # the run goes on


async def test_a_channel_set_to_nothing_is_no_channel(api: Api) -> None:
    """``LOCKSTEP_CHANNEL=`` (a CI variable that was never given a value): the run starts shown
    nowhere in Slack, as without the variable, instead of a refusal of the channel ``""``."""
    token = await api.token("ci", start=("deploy",))
    start = ("start", "deploy", "service=api", "version=1.4")
    status, out, err = await finished(await lockstep(api, *start, token=token, channel=""))
    assert status == 0, err
    assert out.strip().endswith("(not shown in Slack)")
    [run] = (await api.call("GET", "/api/v1/runs", token)).body["runs"]
    assert run["channel"] is None and run["slack_url"] is None


async def test_a_token_with_a_line_break_after_it_works(api: Api) -> None:
    """A CI secret pasted from a file keeps its final line break: the token is the same."""
    token = await api.token("ci", start=("deploy",))
    start = ("start", "deploy", "service=api", "version=1.4")
    status, out, err = await finished(await lockstep(api, *start, token=token + "\n"))
    assert status == 0, err
    assert out.startswith("https://")


async def test_status_answer_and_cancel(api: Api) -> None:
    token = await api.token("ci", start=("gate",), answer=("*",))
    gate = {"flow": "gate", "inputs": {"service": "web"}}
    started = await api.call("POST", "/api/v1/runs", token, gate)
    run, lock = started.body["id"], started.body["locks"][0]["id"]
    status, out, _ = await finished(await lockstep(api, "status", run, token=token))
    assert status == 0 and f"waiting on gate_check (lock {lock})" in out
    status, _, err = await finished(await lockstep(api, "answer", lock, "replicas=70",
                                                   token=token))  # fmt: skip
    assert status == 3 and "replicas:" in err
    keyed = ("answer", lock, "replicas=2", "--idempotency-key", "gate-1")
    for _ in range(2):  # the same answer again with its key: what the first did, not a refusal
        status, out, _ = await finished(await lockstep(api, *keyed, token=token))
        assert (status, out.strip()) == (0, "accepted")
    other = await api.call("POST", "/api/v1/runs", token, {**gate, "inputs": {"service": "db"}})
    status, out, _ = await finished(await lockstep(api, "cancel", other.body["id"], token=token))
    assert status == 0 and "cancelled" in out
    status, _, err = await finished(await lockstep(api, "status", run, token="lst_bad"))
    assert status == 3 and "401" in err
    status, _, err = await finished(await lockstep(api, "start", "gate", "oops", token=token))
    assert status == 3 and "key=value" in err


async def test_tokens_are_made_listed_and_revoked_on_the_database(api: Api, db_url: str) -> None:
    keep = await api.token("keeper", read=("*",))
    made = await lockstep(api, "token", "create", "deployer", "--start", "deploy,gate",
                          "--answer", "UBOB", database=db_url)  # fmt: skip
    status, out, _ = await finished(made)
    token = out.strip()
    assert status == 0 and token.startswith("lst_")
    [row] = [t for t in await api.store.tokens() if t.name == "deployer"]
    secret = token.split("_", 2)[2]  # lst_<id>_<secret>: the secret may hold "_" itself
    assert len(secret) > 30 and secret not in row.secret_hash  # only a hash is stored
    assert (await api.call("GET", "/api/v1/flows", token)).status == 200
    status, out, _ = await finished(await lockstep(api, "token", "list", database=db_url))
    assert "deployer" in out and token not in out and row.secret_hash not in out
    twice = await lockstep(api, "token", "create", "deployer", database=db_url)
    assert (await finished(twice))[0] == 3
    revoked = await lockstep(api, "token", "revoke", "deployer", database=db_url)
    assert (await finished(revoked))[0] == 0
    assert (await api.call("GET", "/api/v1/flows", token)).status == 401
    assert (await api.call("GET", "/api/v1/flows", keep)).status == 200
    bad = await lockstep(api, "token", "create", "x", "--answer", "bob", database=db_url)
    assert (await finished(bad))[0] == 3


async def test_webhooks_are_added_listed_and_removed(api: Api, db_url: str) -> None:
    added = await lockstep(api, "webhook", "add", "https://hooks.example.com/x",
                           "--events", "run.finished", database=db_url)  # fmt: skip
    status, out, _ = await finished(added)
    assert status == 0 and out.splitlines()[1].startswith("whsec_")
    status, out, _ = await finished(await lockstep(api, "webhook", "list", database=db_url))
    assert "https://hooks.example.com/x\trun.finished" in out
    [hook] = await api.store.webhooks()
    removed = await lockstep(api, "webhook", "remove", str(hook.id), database=db_url)
    assert (await finished(removed))[0] == 0
    assert await api.store.webhooks() == []
    wrong = await lockstep(api, "webhook", "add", "ftp://x", database=db_url)
    assert (await finished(wrong))[0] == 3


def test_a_timeout_that_is_no_number_of_seconds_is_a_usage_mistake(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for odd in ("nan", "inf", "-1", "soon"):
        with pytest.raises(SystemExit) as exited:
            parser().parse_args(["start", "deploy", "--wait", "--timeout", odd])
        assert exited.value.code == 3, odd
        assert "not a number of seconds" in capsys.readouterr().err, odd
    assert parser().parse_args(["start", "deploy", "--timeout", "0.5"]).timeout == 0.5


def test_the_console_script_is_lockstep() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"lockstep": "bot.cli:main"}


async def test_without_settings_a_token_is_made_where_local_mode_will_read_it(
    tmp_path: Path,
) -> None:
    """No Slack credentials and no DATABASE_URL: the bot runs in local mode on its own file,
    and the CLI writes there too, so the token it prints works on that bot."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKSTEP_", "SLACK_"))}
    env.pop("DATABASE_URL", None)
    made = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "token", "create", "local-ci", "--start", "deploy",
        cwd=tmp_path, env=env | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(made.communicate(), 60)
    assert made.returncode == 0, err.decode()
    assert not (tmp_path / "lockstep.db").exists()
    store = await SQLStore.open(f"sqlite:///{tmp_path / 'lockstep-local.db'}")
    try:
        found = await store.token_named("local-ci")
        assert found is not None and out.decode().startswith(f"lst_{found.id}_")
    finally:
        await store.close()


async def test_a_token_is_made_on_the_env_file_s_database_whatever_else_it_says(
    tmp_path: Path,
) -> None:
    """``DATABASE_URL`` in ``.env`` beside a setting the bot would refuse (an unedited
    placeholder): the token is made on that database, not on ``./lockstep.db``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKSTEP_", "SLACK_"))}
    env.pop("DATABASE_URL", None)
    path = tmp_path / "ours.db"
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN=xoxb-...\nDATABASE_URL=sqlite:///{path}\n")
    made = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "token", "create", "ci", "--start", "deploy",
        cwd=tmp_path, env=env | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(made.communicate(), 60)
    assert made.returncode == 0, err.decode()
    assert not (tmp_path / "lockstep.db").exists()
    store = await SQLStore.open(f"sqlite:///{path}")
    try:
        found = await store.token_named("ci")
        assert found is not None and out.decode().startswith(f"lst_{found.id}_")
    finally:
        await store.close()


async def test_a_bot_that_answers_garbage_or_nothing_is_exit_3_never_1() -> None:
    """Exit 1 says the run was rejected: a bot (or a proxy before it) answering JSON that does
    not parse, or not answering in time, is "anything else" (3), one line, no traceback."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5\r\nConnection: close\r\n\r\n{oops")  # fmt: skip
        await writer.drain()
        writer.close()

    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()  # never answers; let go when the test is done
        writer.close()

    bad = await asyncio.start_server(garbage, "127.0.0.1", 0)
    hung = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{bad.sockets[0].getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKSTEP_", "SLACK_"))}
        env |= {"LOCKSTEP_URL": url, "LOCKSTEP_TOKEN": "lst_x", "PYTHONPATH": str(ROOT)}
        for args in (("status", "r1"), ("start", "gate", "--wait"), ("answer", "l1")):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *args, cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            status, _, err = await finished(process)
            assert status == 3 and "Traceback" not in err and err.startswith("lockstep: "), err
        target = remote.Remote(f"http://127.0.0.1:{hung.sockets[0].getsockname()[1]}", "lst_x")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as http:
            with pytest.raises(remote.CliError, match="did not answer"):
                await remote.call(http, target, "GET", "/api/v1/runs/r1")
    finally:
        done.set()
        await asyncio.sleep(0.1)  # the silent handler closes its connection
        bad.close()
        hung.close()
        await bad.wait_closed()
        await hung.wait_closed()
