"""Links to messages in Slack (``chat.getPermalink``), remembered: a message's link never
changes, so each is asked for once per process."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError

from bot.workspaces import Workspaces, failure
from flows.engine import SINGLE, Workspace

log = logging.getLogger("lockstep.slack")
KEEP = 10_000  # links remembered before the oldest are forgotten


class Permalinks:
    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces
        self._known: dict[tuple[str, str], str] = {}

    async def of(self, where: Any, workspace: Workspace = SINGLE) -> str | None:
        """The link to the message at ``where`` (``{"channel", "ts"}``, as the notifier
        records it) in ``workspace``; None when it is nowhere yet or Slack will not say."""
        if not isinstance(where, dict):
            return None
        channel, ts = where.get("channel"), where.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            return None
        if (found := self._known.get((channel, ts))) is not None:
            return found
        client = await self.workspaces.client(workspace)
        if client is None:
            return None
        try:
            answer = await client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("no link to a message in %s: %s", channel, failure(exc))
            return None
        link = answer.get("permalink")
        if not isinstance(link, str):
            return None
        if len(self._known) >= KEEP:
            self._known.pop(next(iter(self._known)))
        self._known[(channel, ts)] = link
        return link
