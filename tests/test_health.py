"""``/healthz`` and ``/readyz`` on the running bot, with the database made unavailable for
real (a SQLite file locked by another connection; a Postgres database that stops taking
connections, or holds a lock), its schema behind, the deliverer stuck on a Slack that does not
answer, and the scheduler stalled or stopped."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.metrics import Metrics
from bot.scheduler import TimerScheduler
from flows import Request
from flows.engine import Engine, EngineConfig, FakeClock, RecordingNotifier
from store import SQLStore, connect, normalise_url
from store.database import head
from store.tables import outbox
from tests.conftest import PG_URL
from tests.opsbot import OpsBot, ops_bot
from tests.sample_flows import app
from tests.slackbot import CHANNEL

QUICK = 0.5  # seconds the store has to answer a probe here


def quick(ops: OpsBot) -> OpsBot:
    ops.lockstep.readiness.timeout = QUICK
    return ops


async def test_ready_when_everything_answers(db_url: str, store: SQLStore) -> None:
    async with ops_bot(db_url) as ops:
        assert (await ops.get("/healthz")) == (200, '{"ok": true}')
        status, body = await ops.ready()
        assert (status, body["ready"], body["reasons"]) == (200, True, [])
        assert body["outbox"] == {"backlog": 0, "oldest_seconds": None}


async def test_not_ready_while_the_sqlite_file_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with ops_bot(f"sqlite:///{path}") as ops:
        quick(ops)
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")  # another process writing, and not letting go
            status, body = await ops.ready()
            assert (status, body["ready"]) == (503, False)
            assert body["reasons"] == ["database: database is locked"]
            assert (await ops.get("/healthz"))[0] == 200  # alive all the same
            other.execute("ROLLBACK")
        assert (await ops.ready())[0] == 200


async def _admin(sql: str) -> None:
    assert PG_URL
    engine = connect(PG_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@asynccontextmanager
async def own_database() -> AsyncIterator[tuple[str, str]]:
    """A Postgres database of this test's own, to make unavailable; its name and URL."""
    if not PG_URL:
        pytest.skip("LOCKSTEP_TEST_DATABASE_URL is not set")
    name = f"lockstep_ready_{secrets.token_hex(4)}"
    await _admin(f"CREATE DATABASE {name}")
    url = make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    try:
        yield name, url
    finally:
        await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_not_ready_while_postgres_refuses_connections() -> None:
    async with own_database() as (name, url), ops_bot(url) as ops:
        quick(ops)
        assert (await ops.ready())[0] == 200
        await _admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        await _admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        status, body = await ops.ready()
        assert status == 503
        [reason] = body["reasons"]
        assert reason == f'database: database "{name}" is not currently accepting connections'
        assert (await ops.get("/healthz"))[0] == 200

        await _admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        assert (await ops.ready())[0] == 200  # back without a restart


async def test_not_ready_while_postgres_holds_a_lock_too_long() -> None:
    async with own_database() as (_, url), ops_bot(url) as ops:
        quick(ops)
        other = connect(url)
        async with other.connect() as conn:
            await conn.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            status, body = await ops.ready()
            assert status == 503
            assert body["reasons"] == [f"database: no answer within {QUICK:g} s"]
            await conn.rollback()
        await other.dispose()
        assert (await ops.ready())[0] == 200


async def test_not_ready_when_the_schema_is_behind_only(db_url: str, store: SQLStore) -> None:
    async with ops_bot(db_url) as ops:
        back = "UPDATE alembic_version SET version_num = '{}'"
        await store.run(lambda conn: conn.execute(text(back.format("0004"))))
        try:
            status, body = await ops.ready()
        finally:
            await store.run(lambda conn: conn.execute(text(back.format(head()))))
        assert status == 503
        assert body["reasons"] == [
            f"schema: at 0004, this code needs {head()} (run `python -m bot migrate`)"
        ]
        assert (await ops.ready())[0] == 200

        await store.run(lambda conn: conn.execute(text(back.format("0099"))))
        try:  # a newer release migrated it: this process serves on until it is replaced
            assert (await ops.ready())[0] == 200
        finally:
            await store.run(lambda conn: conn.execute(text(back.format(head()))))


@asynccontextmanager
async def silent_slack() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A Web API that takes every call and never answers, until the block ends; its URL and
    an event set when the first call arrives."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.json_response({"ok": False, "error": "fatal_error"}, status=503)

    app = web.Application()
    app.router.add_route("*", "/api/{method}", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/api/", arrived
    finally:
        release.set()
        await runner.cleanup()


async def test_not_ready_while_the_deliverer_is_stalled(tmp_path: Path) -> None:
    clock = FakeClock()
    database = f"sqlite:///{tmp_path / 'stalled.db'}"
    async with silent_slack() as (api, arrived), ops_bot(database, clock, api_url=api) as ops:
        engine = ops.lockstep.engine
        await engine.start("ship", request=Request("ship", "UALICE", {"channel": CHANNEL}))
        await asyncio.wait_for(arrived.wait(), 5)  # posting the run's message: no answer
        assert (await ops.ready())[0] == 200  # stuck, but not for long yet

        clock.advance(61)
        status, body = await ops.ready()
        assert status == 503
        assert body["reasons"] == [
            "outbox: 2 messages waiting, the oldest for 61 s (more than 60 s)",
            "deliverer: a batch has been under way for 61 s (more than 60 s)",
        ]
        assert body["outbox"] == {"backlog": 2, "oldest_seconds": 61.0}


async def test_not_ready_when_the_scheduler_stalls_or_stops(tmp_path: Path) -> None:
    clock = FakeClock()
    async with ops_bot(f"sqlite:///{tmp_path / 'sweeps.db'}", clock) as ops:
        assert (await ops.ready())[0] == 200
        await first_sweep_done(ops.lockstep.scheduler)  # else it ends after the clock moves
        clock.advance(3 * 3600 + 1)  # sweeps every hour here: three missed
        status, body = await ops.ready()
        assert (status, body["reasons"]) == (
            503, ["scheduler: no sweep for 10801 s (one is due every 3600 s)"],
        )  # fmt: skip

        ops.lockstep.stop()  # what SIGTERM does first
        status, body = await ops.ready()
        assert (status, body["reasons"]) == (503, ["shutting down", "scheduler: not running"])
        assert (await ops.get("/healthz"))[0] == 200


async def first_sweep_done(scheduler: TimerScheduler) -> None:
    """The sweep the scheduler runs when it starts has run and finished."""
    job = scheduler.scheduler.get_job("sweep")
    for _ in range(500):
        due = job.next_run_time if job is not None else None
        if due is not None and due > datetime.now(UTC) and not scheduler.under_way():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first sweep did not finish")


async def test_a_connection_that_died_while_idle_is_replaced_before_use() -> None:
    """A restarted server or a proxy's timeout kills pooled connections while the bot is quiet;
    the next transaction gets a live one instead of failing."""
    async with own_database() as (name, url):
        store = await SQLStore.open(url, ping_after=0.05)
        try:
            before = await store.run(lambda conn: conn.execute(text("SELECT 1")).scalar())
            await _admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            await asyncio.sleep(0.1)
            after = await store.run(lambda conn: conn.execute(text("SELECT 2")).scalar())
            assert (before, after) == (1, 2)
        finally:
            await store.close()


async def test_a_connection_that_died_while_busy_fails_one_transaction_then_all_are_new() -> None:
    """The server restarts while the bot is busy (no idle ping): the transaction that meets a
    dead connection fails as one under way would; the pool then replaces every connection."""
    async with own_database() as (name, url):
        store = await SQLStore.open(url, ping_after=60)
        try:

            def slow(conn: Any) -> int:  # holds its connection while the other opens
                return int(conn.execute(text("SELECT 1 FROM pg_sleep(0.2)")).scalar())

            assert await asyncio.gather(store.run(slow), store.run(slow)) == [1, 1]  # two pooled
            await _admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            with pytest.raises(DBAPIError) as failed:
                await store.run(lambda conn: conn.execute(text("SELECT 1")).scalar())
            assert failed.value.connection_invalidated
            after = await asyncio.gather(store.run(slow), store.run(slow))
            assert after == [1, 1]  # the other dead connection was replaced too
        finally:
            await store.close()


async def test_a_webhook_receiver_that_is_down_does_not_make_the_bot_not_ready(
    tmp_path: Path,
) -> None:
    """Readiness routes Slack's traffic: a receiver of webhooks that is down (its events wait
    and are retried) is no reason to stop serving Slack; Slack's own messages still count."""
    clock = FakeClock()
    database = f"sqlite:///{tmp_path / 'hooks.db'}"
    async with ops_bot(database, clock) as ops:
        store = ops.lockstep.store
        assert isinstance(store, SQLStore)
        await store.add_webhook("http://127.0.0.1:9/down", "whsec_c2VjcmV0", ["lock.opened"], 1.0)
        engine = ops.lockstep.engine
        run = await engine.start("ship", request=Request("ship", "UALICE", {"channel": CHANNEL}))
        await engine.settled(run)
        await engine.idle()
        waiting = select(outbox.c.shown, outbox.c.version).where(outbox.c.kind == "webhook")
        [(shown, version)] = await store.run(lambda conn: conn.execute(waiting).all())
        assert shown < version  # its event waits for its receiver
        clock.advance(61)
        status, body = await ops.ready()
        assert (status, body["reasons"]) == (200, [])


class Probed(SQLStore):
    """The store, counting its health probes and its reads of the open locks."""

    def __init__(self, store: SQLStore) -> None:
        super().__init__(store.db)
        self.probes = self.counted = 0

    async def health(self, timeout: float) -> str | None:
        self.probes += 1
        return await super().health(timeout)

    async def open_locks(self) -> dict[str, int]:
        self.counted += 1
        return await super().open_locks()


async def test_probes_at_one_moment_ask_the_store_once(db_url: str, store: SQLStore) -> None:
    """``/readyz`` answers anyone (and ``/metrics`` anyone its token lets in), and each probe
    holds a connection of the store (SQLite: a worker thread, and the file's write lock) for
    as long as it takes: a flood of probes held every one. Probes at the same moment share
    one, and so do scrapes; one after them asks again."""
    probed = Probed(store)
    engine = Engine(probed, [app], RecordingNotifier(), FakeClock(), EngineConfig())
    metrics = Metrics()
    try:
        answers = await asyncio.gather(*(engine.health() for _ in range(20)))
        assert probed.probes == 1 and all(a == answers[0] for a in answers)
        assert answers[0].store is None
        await asyncio.gather(*(metrics.refresh(engine) for _ in range(20)))
        assert (probed.probes, probed.counted) == (2, 1)
        await engine.health()
        assert probed.probes == 3
    finally:
        await engine.close()
