"""Migration 0007 (workspaces), up and down with rows in place, on SQLite and Postgres; the
installation tables are slack_sdk's, column for column; slack_sdk's stores keep installs in
Lockstep's database on both backends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.workspaces import Workspaces, stores
from flows.engine import SINGLE, Workspace
from store import SQLStore, connect, migrate
from store import tables as t
from store.database import head
from tests.test_health import own_database

SLACK_TABLES = {"slack_installations", "slack_bots", "slack_oauth_states"}


@asynccontextmanager
async def database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    async with own_database() as (_, url):
        yield url


async def run(db: Engine | AsyncEngine, fn: Any) -> Any:
    if isinstance(db, AsyncEngine):
        async with db.begin() as conn:
            return await conn.run_sync(fn)
    with db.begin() as conn:
        return fn(conn)


def schema(conn: Any) -> dict[str, set[str]]:
    found = inspect(conn)
    return {name: {c["name"] for c in found.get_columns(name)} for name in found.get_table_names()}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_migration_0007_up_and_down_keeps_every_row(kind: str, tmp_path: Path) -> None:
    async with database(kind, tmp_path) as url:
        db = connect(url)
        try:
            assert await migrate(db, "0006") == (None, "0006")
            now = time.time()

            def older_rows(conn: Any) -> None:
                conn.execute(
                    text(
                        "INSERT INTO executions (id, flow, runner, status, created_at, "
                        "updated_at, wakeups, progress) VALUES ('r1', 'ship', 'm:f', 'awaiting', "
                        ":now, :now, 0, 0)"
                    ),
                    {"now": now},
                )
                conn.execute(
                    text(
                        "INSERT INTO api_tokens (id, name, secret_hash, created_at) "
                        "VALUES ('abc', 'ci', 'h', :now)"
                    ),
                    {"now": now},
                )

            await run(db, older_rows)
            assert await migrate(db, "0007_workspaces") == ("0006", "0007_workspaces")
            found = await run(db, schema)
            assert SLACK_TABLES <= set(found)
            assert {"team_id", "enterprise_id"} <= found["executions"] & found["api_tokens"]
            rows = await run(
                db,
                lambda c: c.execute(
                    text("SELECT team_id, enterprise_id FROM executions UNION ALL "
                         "SELECT team_id, enterprise_id FROM api_tokens")
                ).all(),
            )  # fmt: skip
            assert [tuple(r) for r in rows] == [("", ""), ("", "")]  # the single workspace

            assert await migrate(db, "0006") == ("0007_workspaces", "0006")
            found = await run(db, schema)
            assert not SLACK_TABLES & set(found)
            assert "team_id" not in found["executions"] | found["api_tokens"]
            kept = await run(db, lambda c: c.execute(text("SELECT id FROM executions")).all())
            assert [r[0] for r in kept] == ["r1"]
            assert await migrate(db) == ("0006", head())  # and on to the newest
        finally:
            if isinstance(db, AsyncEngine):
                await db.dispose()
            else:
                db.dispose()
        store = await SQLStore.open(url)
        try:
            older = await store.execution("r1")
            assert older is not None and older.workspace == SINGLE
            await installs_are_kept(store)
        finally:
            await store.close()


async def installs_are_kept(store: SQLStore) -> None:
    """slack_sdk's own stores (async on Postgres, run inline on SQLite), on Lockstep's
    database: an install is found by its workspace, and forgotten."""
    installations, states = stores(store.db, "1111.2222")
    state = await states.async_issue()
    assert await states.async_consume(state) and not await states.async_consume(state)
    await installations.async_save(
        Installation(
            app_id="A0001", team_id="TALPHA", team_name="Alpha", bot_token="xoxb-TALPHA-1",
            bot_id="BBOT", bot_user_id="UBOT", bot_scopes="chat:write", user_id="UINSTALLER",
            installed_at=time.time(),
        )
    )  # fmt: skip
    workspaces = Workspaces(lambda token: AsyncWebClient(token=token), installations=installations)
    assert await workspaces.token(Workspace(team_id="TALPHA")) == "xoxb-TALPHA-1"
    assert await workspaces.token(Workspace(team_id="TBETA")) is None
    await installations.async_delete_all(enterprise_id=None, team_id="TALPHA")
    assert await workspaces.token(Workspace(team_id="TALPHA")) is None
    # Enterprise Grid, installed to the whole organisation: every workspace of it, one token
    await installations.async_save(
        Installation(
            app_id="A0001", enterprise_id="EGRID", team_id=None, bot_token="xoxb-EGRID-1",
            bot_id="BBOT", bot_user_id="UBOT", user_id="UINSTALLER", is_enterprise_install=True,
            installed_at=time.time(),
        )
    )  # fmt: skip
    assert await workspaces.token(Workspace(enterprise_id="EGRID", team_id="TONE")) == (
        "xoxb-EGRID-1"
    )
    assert await workspaces.token(Workspace(team_id="TONE")) is None  # not without Grid


def test_the_installation_tables_are_slack_sdks_own() -> None:
    theirs = MetaData()
    for ours, built in (
        (t.slack_installations, SQLAlchemyInstallationStore.build_installations_table),
        (t.slack_bots, SQLAlchemyInstallationStore.build_bots_table),
        (t.slack_oauth_states, SQLAlchemyOAuthStateStore.build_oauth_states_table),
    ):
        table = built(theirs, ours.name)
        shape = [(c.name, repr(c.type), c.nullable, c.primary_key) for c in table.columns]
        assert [(c.name, repr(c.type), c.nullable, c.primary_key) for c in ours.columns] == shape
        assert {i.name for i in ours.indexes} == {i.name for i in table.indexes}
