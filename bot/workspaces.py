"""Which bot token speaks for each workspace, and whose request is whose.

With one token (``SLACK_BOT_TOKEN``) the bot lives in one workspace: every request and every
run is that workspace's (``SINGLE``), whatever the payload says. Installed through OAuth
(``SLACK_CLIENT_ID``), each workspace's bot token is in slack_sdk's installation store, in
Lockstep's own database (``stores``), and looked up each time it is needed: Bolt's authorize
does so for each request, and ``Workspaces.client`` for each message the outbox shows, each
reminder, each lookup of a channel's members, however long after the run started. A token
that rotates (token rotation on in the app's settings) is refreshed first when it expires
within ``ROTATE_MINUTES``, as Bolt does. A workspace that uninstalled the app has no token:
nothing more is sent there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import (
    AsyncSQLAlchemyOAuthStateStore,
    SQLAlchemyOAuthStateStore,
)
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import inbound
from flows.engine import SINGLE, Workspace

log = logging.getLogger("lockstep.slack")
ROTATE_MINUTES = 120  # a rotating token is refreshed when it expires sooner than this
STATE_SECONDS = 600  # an install's OAuth state is good for ten minutes


# Slack's answers that trying the same again cannot change: the conversation is gone, closed to
# the bot or to posts, or the person is; or the message is one Slack will never take (a bug).
FOR_GOOD = frozenset({
    "channel_not_found", "is_archived", "not_in_channel", "restricted_action",
    "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel", "cannot_reply_to_message",
    "team_access_not_granted", "ekm_access_denied", "message_not_found",
    "cant_update_message", "edit_window_closed", "user_not_found", "user_disabled",
    "cannot_dm_bot", "messages_tab_disabled", "msg_too_long", "no_text", "invalid_blocks",
    "invalid_blocks_format", "invalid_metadata_format", "metadata_too_large",
    "msg_blocks_too_long",
})  # fmt: skip
OUR_MISTAKES = frozenset({"msg_too_long", "no_text", "invalid_blocks", "invalid_blocks_format",
                          "invalid_metadata_format", "metadata_too_large",
                          "msg_blocks_too_long"})  # fmt: skip


def error_code(exc: SlackApiError) -> str | None:
    """Slack's error code in a failed call's answer; None when the answer was not Slack's JSON
    (a proxy's or a load balancer's page on a 5xx)."""
    data = exc.response.data
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def failure(exc: Exception) -> str:
    """A failed Web API call in a few words, for a log line: Slack's error code (or the HTTP
    status of a page that was not Slack's), no answer in time, or the error's type."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {error_code(exc) or exc.response.status_code}"
    return "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__


class Workspaces:
    """``client_for(token)``: a Web API client speaking with ``token``. One ``token``: the one
    workspace's. Else ``installations`` holds each workspace's, refreshed by ``rotator``."""

    def __init__(
        self,
        client_for: Callable[[str], AsyncWebClient],
        *,
        token: str | None = None,
        installations: AsyncInstallationStore | None = None,
        rotator: AsyncTokenRotator | None = None,
    ) -> None:
        assert (token is None) != (installations is None), "one token, or installations"
        self.client_for = client_for
        self._token = token
        self.installations = installations
        self.rotator = rotator

    @property
    def many(self) -> bool:
        """Installed through OAuth, to any number of workspaces."""
        return self.installations is not None

    def of(self, event: inbound.Inbound) -> Workspace:
        """The workspace a request comes from: its team (and enterprise on Grid), or the one
        workspace of a single-token bot."""
        if not self.many:
            return SINGLE
        return Workspace(enterprise_id=event.enterprise or "", team_id=event.team or "")

    async def token(self, workspace: Workspace) -> str | None:
        """The bot token of ``workspace`` as the store has it now (refreshed if it rotates and
        is about to expire); None if the app is not installed there (any more)."""
        if self.installations is None:
            return self._token
        bot = await self._bot(workspace)
        if bot is None:
            return None
        if self.rotator is not None and bot.bot_refresh_token:
            fresh = await self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_MINUTES
            )
            if fresh is not None:
                await self.installations.async_save_bot(fresh)
                bot = fresh
        return bot.bot_token

    async def _bot(self, workspace: Workspace) -> Bot | None:
        assert self.installations is not None
        enterprise = workspace.enterprise_id or None
        found = await self.installations.async_find_bot(
            enterprise_id=enterprise, team_id=workspace.team_id or None
        )
        if found is None and enterprise is not None:  # installed to the whole organisation
            found = await self.installations.async_find_bot(
                enterprise_id=enterprise, team_id=None, is_enterprise_install=True
            )
        return found

    async def client(self, workspace: Workspace) -> AsyncWebClient | None:
        """A client speaking with ``workspace``'s bot token; None if it has none."""
        token = await self.token(workspace)
        return self.client_for(token) if token else None

    async def forget(self, event: inbound.Uninstalled) -> None:
        """Slack said the app left (or lost tokens in) a workspace: its tokens go."""
        assert self.installations is not None
        enterprise, team = event.enterprise, event.team
        if event.enterprise_install:
            team = None
        if event.ends:  # Lockstep speaks only as its bot: without it, nothing is left
            await self.installations.async_delete_all(enterprise_id=enterprise, team_id=team)
            return
        for user in event.users:
            await self.installations.async_delete_installation(
                enterprise_id=enterprise, team_id=team, user_id=user
            )


def stores(
    db: Engine | AsyncEngine, client_id: str
) -> tuple[AsyncInstallationStore, AsyncOAuthStateStore]:
    """slack_sdk's SQLAlchemy installation and OAuth state stores on Lockstep's own database
    (their tables are made by Lockstep's migrations). Postgres: its async stores, on the
    store's asyncpg engine. SQLite: its sync stores, run inline as Lockstep runs SQLite (a
    local transaction takes microseconds; a thread hop would cost more)."""
    if isinstance(db, AsyncEngine):
        return (
            AsyncSQLAlchemyInstallationStore(client_id, db),
            _Pruned(AsyncSQLAlchemyOAuthStateStore(STATE_SECONDS, db)),
        )
    return (
        _InlineInstallations(SQLAlchemyInstallationStore(client_id, db)),
        _Pruned(_InlineStates(SQLAlchemyOAuthStateStore(STATE_SECONDS, db))),
    )


class _InlineInstallations(AsyncInstallationStore):
    """slack_sdk's sync SQLAlchemy installation store, run inline (SQLite)."""

    def __init__(self, sync: SQLAlchemyInstallationStore) -> None:
        self.sync = sync

    @property
    def logger(self) -> logging.Logger:
        return self.sync.logger

    async def async_save(self, installation: Installation) -> None:
        self.sync.save(installation)

    async def async_save_bot(self, bot: Bot) -> None:
        self.sync.save_bot(bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return self.sync.find_bot(
            enterprise_id=enterprise_id, team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )  # fmt: skip

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return self.sync.find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )  # fmt: skip

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.sync.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self.sync.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.sync.delete_all(enterprise_id=enterprise_id, team_id=team_id)


class _InlineStates(AsyncOAuthStateStore):
    """slack_sdk's sync SQLAlchemy OAuth state store, run inline (SQLite)."""

    def __init__(self, sync: SQLAlchemyOAuthStateStore) -> None:
        self.sync = sync

    @property
    def logger(self) -> logging.Logger:
        return self.sync.logger

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        return self.sync.issue()

    async def async_consume(self, state: str) -> bool:
        return self.sync.consume(state)


class _Pruned(AsyncOAuthStateStore):
    """An OAuth state store that drops the states that expired unused as it issues a new
    one. Anyone reaching the port can open the install page, and each visit keeps a state:
    slack_sdk's store deletes a state only when an install uses it, so visits nobody finishes
    would grow the table for good."""

    def __init__(self, states: AsyncSQLAlchemyOAuthStateStore | _InlineStates) -> None:
        self.states = states

    @property
    def logger(self) -> logging.Logger:
        return self.states.logger

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        inner = self.states.sync if isinstance(self.states, _InlineStates) else self.states
        table = inner.oauth_states
        expired = table.delete().where(table.c.expire_at <= _utc_now())
        if isinstance(inner, SQLAlchemyOAuthStateStore):
            with inner.engine.begin() as conn:
                conn.execute(expired)
        else:
            async with inner.engine.begin() as conn:
                await conn.execute(expired)
        return await self.states.async_issue(*args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        return await self.states.async_consume(state)


def _utc_now() -> datetime:
    """Now as slack_sdk writes a state's ``expire_at``: UTC, without a time zone."""
    return datetime.now(UTC).replace(tzinfo=None)
