"""Who is in a user group or a channel, from Slack, cached briefly (``flows.access.Directory``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

TTL = 60.0  # seconds a membership answer is trusted


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, ttl: float = TTL) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def _cached(
        self, key: str, load: Callable[[], Awaitable[frozenset[str]]]
    ) -> frozenset[str]:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        members = await load()
        self._cache[key] = (now, members)
        return members

    async def group_members(self, group: str) -> frozenset[str]:
        async def load() -> frozenset[str]:
            found = await self.client.usergroups_users_list(usergroup=group)
            return frozenset(found.get("users") or ())

        return await self._cached(f"group:{group}", load)

    async def channel_members(self, channel: str) -> frozenset[str]:
        async def load() -> frozenset[str]:
            members: set[str] = set()
            cursor = None
            for _ in range(100):  # 100 pages of 1,000: a very large channel
                page = await self.client.conversations_members(
                    channel=channel, limit=1000, cursor=cursor
                )
                members.update(page.get("members") or ())
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            return frozenset(members)

        return await self._cached(f"channel:{channel}", load)
