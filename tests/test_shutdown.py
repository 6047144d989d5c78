"""Stopping and upgrading: ``python -m bot`` told SIGTERM with a request under way stops taking
new ones, finishes it, and exits within its grace; ``python -m bot migrate`` moves the schema
up and down on its own."""

from __future__ import annotations

import asyncio
import secrets
import socket
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.fake.slack import FakeSlack
from store import connect
from store.database import head, known
from tests.opsproc import ROOT, bot_process, environment, free_port, run_command
from tests.slackbot import CHANNEL, SECRET, Bot, input_value
from tests.test_health import own_database

pytestmark = pytest.mark.slow


def bot_env(slack: FakeSlack, tmp_path: Path, port: int, grace: float) -> dict[str, str]:
    return environment(
        SLACK_BOT_TOKEN="xoxb-" + secrets.token_hex(8),
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'stop.db'}",
        PORT=str(port),
        LOCKSTEP_MODE="http",
        LOCKSTEP_FLOWS="tests.ops_flows",
        LOCKSTEP_SHUTDOWN_SECONDS=str(grace),
    )


def socket_env(slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    """Socket Mode against ``slack``, with a grace of 1 s."""
    return environment(
        SLACK_BOT_TOKEN="xoxb-socket-stop",
        SLACK_APP_TOKEN="xapp-socket-stop",
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'socket.db'}",
        LOCKSTEP_SHUTDOWN_SECONDS="1",
    )


async def slow_entry(bot: Bot, seconds: float) -> asyncio.Task[tuple[int, str]]:
    """Open the slow flow's form and submit it: the submission is under way for ``seconds``."""
    await bot.command("start slow")
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.response["view"]
    values = input_value("seconds", str(seconds))
    return asyncio.create_task(bot.submit_view(view, values, "UALICE"))


async def test_sigterm_finishes_the_request_under_way_and_takes_no_new_one(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    async with (
        FakeSlack(members={CHANNEL: ["UALICE"]}) as slack,
        bot_process(bot_env(slack, tmp_path, port, grace=10)) as proc,
        aiohttp.ClientSession() as http,
    ):
        bot = Bot(None, slack, url, http)
        under_way = await slow_entry(bot, 2)
        await proc.wait_for_line("slow entry began")

        proc.terminate()
        stopped_at = time.monotonic()
        await proc.wait_for_line("stopping: no new work; up to 10 s for the work under way")
        with pytest.raises(aiohttp.ClientConnectorError):  # not listening any more
            async with aiohttp.ClientSession() as fresh:
                await fresh.get(f"http://127.0.0.1:{port}/healthz")

        assert await under_way == (200, "")  # finished: the modal closes, the run starts
        assert await proc.wait() == 0
        assert time.monotonic() - stopped_at < 10
        started = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == CHANNEL]
        assert started, proc.log()  # the run it started was shown before the bot went
        assert "Traceback" not in proc.log()


async def test_sigterm_exits_within_the_grace_whatever_is_under_way(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    async with (
        FakeSlack(members={CHANNEL: ["UALICE"]}) as slack,
        bot_process(bot_env(slack, tmp_path, port, grace=1)) as proc,
        aiohttp.ClientSession() as http,
    ):
        under_way = await slow_entry(Bot(None, slack, url, http), 600)
        await proc.wait_for_line("slow entry began")
        proc.terminate()
        stopped_at = time.monotonic()
        assert await proc.wait(timeout=15) == 0
        assert time.monotonic() - stopped_at < 5  # 1 s for requests, 1 s for the rest
        with pytest.raises(aiohttp.ClientError):
            await under_way  # dropped: Slack retries it, or the person submits again


def revision(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


async def test_migrate_moves_the_schema_up_and_down_and_does_nothing_else(
    tmp_path: Path,
) -> None:
    assert "release: python -m bot migrate\n" in (ROOT / "Procfile").read_text()
    path = tmp_path / "release.db"
    env = environment(DATABASE_URL=f"sqlite:///{path}")  # no Slack settings needed
    code, out, err = await run_command("migrate", env=env)
    assert (code, out) == (0, f"lockstep: the store went from nothing to {head()}\n")
    assert "Running upgrade  -> 0001" in err  # Alembic says each step
    assert revision(path) == head()
    code, out, err = await run_command("migrate", "0004", env=env)
    assert (code, out) == (0, f"lockstep: the store went from {head()} to 0004\n")
    assert "Running downgrade 0005 -> 0004" in err  # step by step, from the head
    assert revision(path) == "0004"
    assert (await run_command("migrate", env=env))[1].endswith(f"from 0004 to {head()}\n")
    assert (await run_command("migrate", env=env))[1] == (
        f"lockstep: the store is at {head()}; nothing to do\n"
    )

    code, out, err = await run_command("migrate", "0099", env=env)
    assert (code, out) == (2, "")
    assert err == (
        "lockstep: migrate 0099: there is no such migration (this version has "
        f"{', '.join(sorted(known()))})\n"
    )
    assert (await run_command("migrate", "a", "b", env=env))[::2] == (
        2, "usage: python -m bot [migrate [REVISION]]\n",
    )  # fmt: skip


async def test_migrate_needs_only_the_database_whatever_else_is_set(tmp_path: Path) -> None:
    """A release phase run with an environment the bot itself would refuse (a placeholder
    token, a bad port): ``migrate`` reads only ``DATABASE_URL``."""
    path = tmp_path / "release.db"
    env = environment(DATABASE_URL=f"sqlite:///{path}", SLACK_BOT_TOKEN="xoxb-...", PORT="nope")
    code, out, err = await run_command("migrate", env=env)
    assert (code, out) == (0, f"lockstep: the store went from nothing to {head()}\n"), err
    assert revision(path) == head()


async def test_migrate_on_postgres() -> None:
    async with own_database() as (_, url):
        env = environment(DATABASE_URL=url)
        assert (await run_command("migrate", env=env))[:2] == (
            0, f"lockstep: the store went from nothing to {head()}\n",
        )  # fmt: skip
        assert (await run_command("migrate", "0004", env=env))[0] == 0
        db = connect(url)
        async with db.connect() as conn:
            found = await conn.execute(text("SELECT version_num FROM alembic_version"))
            assert found.scalar() == "0004"
            tables = await conn.execute(text("SELECT to_regclass('outbox')"))
            assert tables.scalar() is None  # 0005's table is gone
        await db.dispose()
        assert (await run_command("migrate", env=env))[1].endswith(f"from 0004 to {head()}\n")


async def test_sigterm_stops_socket_mode_within_the_grace(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = socket_env(slack, tmp_path)
        async with bot_process(env, started="connected to Slack over Socket Mode") as proc:
            proc.terminate()
            stopped_at = time.monotonic()
            assert await proc.wait(timeout=15) == 0
            assert time.monotonic() - stopped_at < 5
            await proc.wait_for_line("stopping: no new work; up to 1 s for the work under way")
            assert "Traceback" not in proc.log()


async def test_sigterm_stops_socket_mode_while_slack_refuses_the_connection(
    tmp_path: Path,
) -> None:
    """Slack answers every ``apps.connections.open`` with a 500: the bot keeps trying, and a
    SIGTERM still stops it at once."""
    async with FakeSlack() as slack:
        slack.fail_next("apps.connections.open", status=500, times=10_000)
        env = socket_env(slack, tmp_path)
        async with bot_process(env, started="could not check SLACK_APP_TOKEN") as proc:
            await slack.wait_for("apps.connections.open", count=2)  # the handler's own try
            proc.terminate()
            assert await proc.wait(timeout=15) == 0


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_a_token_slack_refuses_stops_start_up_with_one_line(
    tmp_path: Path, mode: str
) -> None:
    async with FakeSlack() as slack:
        env = bot_env(slack, tmp_path, free_port(), grace=1) | {"LOCKSTEP_MODE": mode}
        if mode == "socket":
            env["SLACK_APP_TOKEN"] = "xapp-" + secrets.token_hex(8)
            slack.fail_next("apps.connections.open", error="invalid_auth")
            name = "SLACK_APP_TOKEN"
        else:
            slack.fail_next("auth.test", error="token_revoked")
            name = "SLACK_BOT_TOKEN"
        code, _, err = await run_command(env=env)
    assert code == 2
    said = "invalid_auth" if mode == "socket" else "token_revoked"
    assert err.endswith(f"\nlockstep: {name}: Slack refuses it ({said})\n")  # after the logs
    assert "Traceback" not in err and "Unclosed" not in err


async def test_a_port_taken_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeSlack() as slack:
            code, _, err = await run_command(env=bot_env(slack, tmp_path, port, grace=1))
    assert code == 2
    said = f"lockstep: PORT: cannot listen on 127.0.0.1, port {port}: Address already in use\n"
    assert err.endswith("\n" + said)
    assert "Traceback" not in err


@pytest.mark.parametrize("host", ["no-such-host.invalid", "192.0.2.1"])
async def test_a_host_it_cannot_listen_on_stops_start_up_with_one_line(
    tmp_path: Path, host: str
) -> None:
    async with FakeSlack() as slack:
        env = bot_env(slack, tmp_path, 0, grace=1) | {"LOCKSTEP_HOST": host}
        code, _, err = await run_command(env=env)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"lockstep: LOCKSTEP_HOST: cannot listen on {host}")


async def test_slack_unreachable_at_start_up_is_a_warning_not_a_stop(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = bot_env(slack, tmp_path, free_port(), grace=1)
    env["SLACK_API_URL"] = slack.api_url  # that fake Slack is gone: nothing listens there
    async with bot_process(env) as proc:
        assert any("could not reach Slack to check SLACK_BOT_TOKEN" in line for line in proc.lines)
        proc.terminate()
        assert await proc.wait(timeout=15) == 0


async def test_a_version_older_than_its_store_stops_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    env = environment(DATABASE_URL=f"sqlite:///{path}")
    assert (await run_command("migrate", env=env))[0] == 0
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")  # a newer release's
    code, out, err = await run_command("migrate", env=env)
    assert (code, out) == (2, "")
    assert err == (
        "lockstep: migrate head: the database is at migration 0099, which this version does "
        "not know (a newer release migrated it): run that release, or its `python -m bot "
        "migrate <revision>`\n"
    )
    async with FakeSlack() as slack:
        started = env | bot_env(slack, tmp_path, free_port(), grace=1)
        started["DATABASE_URL"] = env["DATABASE_URL"]
        code, out, err = await run_command(env=started)
    assert code == 2
    assert err.startswith("lockstep: DATABASE_URL: the database is at migration 0099, ")
    assert err.count("\n") == 1
