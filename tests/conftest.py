"""SQLStore fixtures: every store-backed test runs on a real SQLite file, and on a real Postgres
database too when ``LOCKSTEP_TEST_DATABASE_URL`` names a server (CI always sets it). ``bot``:
the running Slack bot on that store."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store import SQLStore, connect, migrate, normalise_url
from tests.slackbot import Bot, running_bot

PG_URL = os.environ.get("LOCKSTEP_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


async def _admin(sql: str) -> None:
    assert PG_URL
    engine = connect(PG_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def _migrate(url: str) -> None:
    engine = connect(url)
    await migrate(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own for this test session, migrated once, dropped at the end."""
    if not PG_URL:
        pytest.skip("LOCKSTEP_TEST_DATABASE_URL is not set")
    name = f"lockstep_test_{secrets.token_hex(4)}"
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    url = make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lockstep.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SQLStore]:
    st = await SQLStore.open(db_url)
    if db_url.startswith("postgresql"):
        await st.run(
            lambda conn: conn.execute(
                text(
                    "TRUNCATE outbox, events, timers, calls, executions, api_tokens, webhooks, "
                    "slack_installations, slack_bots, slack_oauth_states, held"
                )
            )
        )
    yield st
    await st.close()


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    """The real bot over real HTTP, its Web API on a fake Slack (``tests.slackbot``). ``store``
    first: on Postgres it empties the shared test database."""
    async with running_bot(db_url) as running:
        yield running
