"""Slack's word on the tokens, asked once at start-up: a token Slack refuses (mistyped,
revoked, from another app) stops the bot with one line naming the setting, instead of a bot
that starts and then fails every request. Slack unreachable is no reason not to start: the
bot goes on and tells the log."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings, SettingsError
from bot.workspaces import error_code

log = logging.getLogger("lockstep")

# Slack's answers to a token that will never work as it is
REFUSED = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "not_allowed_token_type", "invalid_token",
})  # fmt: skip


async def check(settings: Settings) -> None:
    """Ask Slack about the bot token (``auth.test``) and, in Socket Mode, the app token
    (``apps.connections.open``); ``SettingsError`` for one it refuses."""
    asks = []
    if settings.slack_bot_token is not None and not settings.oauth:
        asks.append(("SLACK_BOT_TOKEN", settings.slack_bot_token.get_secret_value(), "auth.test"))
    if settings.mode == "socket" and settings.slack_app_token is not None:
        token = settings.slack_app_token.get_secret_value()
        asks.append(("SLACK_APP_TOKEN", token, "apps.connections.open"))
    if not asks:
        return
    timeout = aiohttp.ClientTimeout(total=settings.slack_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for name, token, method in asks:
            client = AsyncWebClient(  # one try: no retries, nor their log lines
                session=session, token=token, base_url=settings.slack_api_url, retry_handlers=[]
            )
            try:
                await client.api_call(method)
            except SlackApiError as exc:
                code = error_code(exc)
                if code in REFUSED:
                    raise SettingsError(f"{name}: Slack refuses it ({code})") from None
                said = code or f"HTTP {exc.response.status_code}"
                log.warning("could not check %s with Slack (%s); starting anyway", name, said)
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                why = type(exc).__name__
                log.warning("could not reach Slack to check %s (%s); starting anyway", name, why)
