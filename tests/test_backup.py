"""Backing up the store as the README says, while the bot runs: SQLite's online backup
(``sqlite3 lockstep.db ".backup ..."``) and Postgres's ``pg_dump``/``pg_restore``; the copy
opens at the newest schema with the runs in it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from flows import Request
from store import SQLStore
from tests.opsbot import OpsBot, ops_bot
from tests.slackbot import CHANNEL
from tests.test_health import own_database

pytestmark = pytest.mark.slow


async def two_runs(ops: OpsBot) -> set[str]:
    engine = ops.lockstep.engine
    ids = set()
    for _ in range(2):
        ids.add(await engine.start("ship", request=Request("ship", "UALICE", {"channel": CHANNEL})))
    await engine.idle()
    return ids


async def run(*command: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (command, out, err)


async def restored_runs(url: str) -> set[str]:
    copy = await SQLStore.open(url)
    try:
        assert await copy.health(2.0) is None  # answers, at the newest schema
        return {e.id for e in await copy.executions(limit=100)}
    finally:
        await copy.close()


async def test_a_sqlite_store_is_backed_up_while_the_bot_runs(tmp_path: Path) -> None:
    if shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 command-line tool is not installed")
    live, backup = tmp_path / "lockstep.db", tmp_path / "lockstep-backup.db"
    async with ops_bot(f"sqlite:///{live}") as ops:
        ids = await two_runs(ops)
        await run("sqlite3", str(live), f".backup '{backup}'")
    assert await restored_runs(f"sqlite:///{backup}") == ids


async def test_a_postgres_store_is_dumped_and_restored(tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")
    async with own_database() as (_, url), own_database() as (_, target):
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        into = make_url(target).set(drivername="postgresql").render_as_string(hide_password=False)
        dump = tmp_path / "lockstep.dump"
        async with ops_bot(url) as ops:
            ids = await two_runs(ops)
            await run("pg_dump", "--format=custom", f"--file={dump}", plain)
        await run("pg_restore", "--no-owner", f"--dbname={into}", str(dump))
        assert await restored_runs(target) == ids
