"""Installs to many workspaces through OAuth: Bolt's OAuth flow on the bot's own HTTP server
(``GET /slack/install`` sends a person to Slack to approve the app's scopes,
``GET /slack/oauth_redirect`` is where Slack sends them back: the code becomes the
workspace's bot token, kept in the installation store), and the events that say the app left
a workspace (``app_uninstalled``, ``tokens_revoked``): its tokens go, and its live runs end,
their open locks expired with the reason.

The OAuth state is single-use, kept in the database for ten minutes, and tied to the browser
that started the install by a cookie (Bolt's own checks), so no state secret is needed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.logs import Refusals
from bot.settings import Settings
from bot.workspaces import ROTATE_MINUTES, STATE_SECONDS, Workspaces
from flows.engine import Engine, Workspace

log = logging.getLogger("lockstep.slack")
UNINSTALLED = "Lockstep was uninstalled from this workspace"
REVOKED = "Lockstep's access to this workspace was revoked"
NOT_INSTALLED = "refused a Slack request from a workspace Lockstep is not installed in"
# what Bolt's authorize logs, as an error, for each request of a workspace it has no install for
_BOLT_NO_INSTALL = "Although the app should be installed into this workspace"
# what Bolt's OAuth flow warns of a code Slack would not exchange (the code, on two lines)
_BOLT_NO_EXCHANGE = "Failed to fetch oauth.v2.access result with code"
_SLACK_ERROR = re.compile(r"'error': '([a-z_]{1,60})'")
REFUSED_REDIRECT = "refused an OAuth redirect: "


def oauth_settings(
    settings: Settings,
    installations: AsyncInstallationStore,
    states: AsyncOAuthStateStore,
    client: AsyncWebClient,
    refusals: Refusals,
) -> AsyncOAuthSettings:
    """Bolt's OAuth settings from Lockstep's: bot tokens only (no user scopes), refreshed
    ``ROTATE_MINUTES`` before they expire when the app rotates them, through ``client`` (at
    ``SLACK_API_URL``: Bolt's own default would call slack.com whatever the setting). Each
    token's ``auth.test`` answer is kept, not asked again for every request. A redirect that
    fails (a forged or used state, another browser's, no code, a code Slack will not take) is
    a refusal of ``refusals``, one line a minute of each kind, with Bolt's page."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    secret = settings.slack_client_secret.get_secret_value()
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret,
        scopes=settings.slack_scopes,
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        authorization_url=settings.authorize_url,
        installation_store=installations,
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=ROTATE_MINUTES,
        state_store=states,
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_failed(refusals)),
    )
    oauth.authorize = AsyncInstallationStoreAuthorize(
        logger=logging.getLogger("slack_bolt.oauth"),
        installation_store=installations,
        client_id=settings.slack_client_id,
        client_secret=secret,
        token_rotation_expiration_minutes=ROTATE_MINUTES,
        bot_only=True,
        cache_enabled=True,
        client=client,
    )
    return oauth


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    return await args.default.success(args)


def _failed(refusals: Refusals) -> Any:
    async def failed(args: AsyncFailureArgs) -> BoltResponse:
        if args.reason in _OURS:  # (a code Slack would not take: ``NoExchange`` said why)
            if args.reason != "invalid_code":
                refusals.warning(REFUSED_REDIRECT + args.reason)
        else:  # ``?error=`` (the person cancelled at Slack, or anyone made the URL up)
            refusals.warning(REFUSED_REDIRECT + "Slack's error %r", args.reason[:60])
        return await args.default.failure(args)

    return failed


_OURS = frozenset({"invalid_browser", "invalid_state", "missing_code", "invalid_code",
                   "storage_error"})  # fmt: skip


class NoExchange(logging.Filter):
    """On the logger of Bolt's OAuth flow: a code Slack would not exchange is a refusal, one
    line a minute, naming Slack's error (Bolt's warning names the code, on two lines)."""

    def __init__(self, refusals: Refusals) -> None:
        super().__init__()
        self.refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        said = record.getMessage()
        if not said.startswith(_BOLT_NO_EXCHANGE):
            return True
        found = _SLACK_ERROR.search(said)
        why = found[1] if found else "no answer"
        self.refusals.warning(REFUSED_REDIRECT + "Slack would not exchange its code (%s)", why)
        return False

    @classmethod
    def attach(cls, logger: logging.Logger, refusals: Refusals) -> None:
        for earlier in [f for f in logger.filters if isinstance(f, cls)]:
            logger.removeFilter(earlier)
        logger.addFilter(cls(refusals))


class NoInstall(logging.Filter):
    """On the logger of Bolt's authorize: a signed request naming a workspace the app has no
    install for (uninstalled since, or never installed) is a refusal, one line a minute
    (``refusals``), not an error logged for each (the person is told, ``NOT_INSTALLED``)."""

    def __init__(self, refusals: Refusals) -> None:
        super().__init__()
        self.refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(_BOLT_NO_INSTALL):
            self.refusals.warning(NOT_INSTALLED)
            return False
        return True

    @classmethod
    def attach(cls, logger: logging.Logger, refusals: Refusals) -> None:
        """The filter of this bot's ``refusals`` on ``logger`` (one bot's: an earlier one's
        goes)."""
        for earlier in [f for f in logger.filters if isinstance(f, cls)]:
            logger.removeFilter(earlier)
        logger.addFilter(cls(refusals))


def mount(app: web.Application, flow: AsyncOAuthFlow) -> None:
    """``GET /slack/install`` and ``GET /slack/oauth_redirect``, answered by Bolt's flow."""

    async def install(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await flow.handle_installation(_bolt(request)))

    async def redirect(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await flow.handle_callback(_bolt(request)))

    app.router.add_get(flow.install_path, install)
    app.router.add_get(flow.redirect_uri_path, redirect)


def _bolt(request: web.Request) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in request.headers.items()}
    return AsyncBoltRequest(body="", query=request.query_string, headers=headers)


def follow_uninstalls(
    bolt: AsyncApp, workspaces: Workspaces, engine: Engine, tasks: set[asyncio.Task[None]]
) -> None:
    """On ``app_uninstalled`` or a ``tokens_revoked`` naming the bot: the workspace's tokens
    are deleted at once (nothing more is sent with them), then its live runs end (in a
    tracked task, after Slack's ack). A single-token bot only says so in its log: its token
    is its operator's to replace."""

    async def left(context: AsyncBoltContext) -> None:
        event = context.get("inbound")
        if not isinstance(event, inbound.Uninstalled):
            return
        if not workspaces.many:
            if event.ends:  # not a person revoking their own token: the bot's is gone
                log.warning("Slack says the app left the workspace: replace SLACK_BOT_TOKEN")
            return
        workspace = workspaces.of(event)
        await workspaces.forget(event)
        if not event.ends:
            return
        reason = UNINSTALLED if event.kind == "app_uninstalled" else REVOKED
        log.warning("the app left workspace %s: %s", workspace.team_id, reason)
        task = asyncio.create_task(_end(engine, workspace, reason))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for kind in ("app_uninstalled", "tokens_revoked"):
        bolt.event(kind)(left)


async def _end(engine: Engine, workspace: Workspace, reason: str) -> None:
    try:
        await engine.end_workspace(workspace, reason)
    except Exception:
        log.exception("ending the runs of a workspace the app left failed; the sweep goes on")
