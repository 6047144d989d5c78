"""Who is in a user group or a channel, from Slack, cached briefly: the engine's ``Directory``
port. Slack's names: ``S…`` is a user group, ``"channel"`` the run's channel. A channel's
cached members follow ``member_joined_channel``/``member_left_channel`` events as they come
(``member_changed``), and a group's ``subteam_members_changed`` (``group_changed``), so someone
who left cannot answer for the rest of the minute. Each
workspace's names are asked of Slack with its own bot token, and cached apart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.workspaces import Workspaces, error_code, failure
from flows.engine import SINGLE, NoAnswer, Workspace

log = logging.getLogger("lockstep.slack")

TTL = 60.0  # seconds a membership answer is trusted
WAIT = 1.5  # seconds a lookup may take, every page of it: the ack it comes before is due in 3
BUDGET = 2.0  # seconds all the lookups one request makes before its ack may take together
KEPT = (
    10_000  # channels' and groups' answers cached at most: past it, the stale go, then the oldest
)


@dataclass
class _Budget:
    until: float
    ack: AsyncAck  # the request's

    @property
    def spent(self) -> bool:
        """Acked: what follows waits on each lookup up to ``WAIT``."""
        return self.ack.response is not None


_BUDGET: ContextVar[_Budget | None] = ContextVar("lockstep_lookup_budget", default=None)
# the request context's key for when the request arrived (``time.monotonic()``), set by the
# HTTP and Socket Mode adapters: Slack's 3 s run from then, not from when the listener starts
# (Bolt's authorize, waiting for a database connection in a busy moment, comes first)
ARRIVED = "lockstep_arrived"


class AckBudget(AsyncMiddleware):
    """Bolt middleware: the lookups a request makes before it acks share ``BUDGET`` seconds
    from when it arrived (a decision may ask about a group, a channel and admins, each slow),
    so the ack still goes within Slack's three seconds; the work after the ack waits on each
    lookup as usual. (Bolt runs the listener after every middleware has returned: the budget
    is spent when the request's ack has answered, not when ``next`` returns.)"""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        arrived = req.context.get(ARRIVED)
        start = arrived if isinstance(arrived, float) else time.monotonic()
        _BUDGET.set(_Budget(start + BUDGET, req.context.ack))
        return await next()


# (a workspace on Slack's free plan has no user groups: ``plan_upgrade_required``)
UNKNOWN = frozenset({"no_such_subteam", "plan_upgrade_required", "channel_not_found",
                     "not_in_channel"})  # fmt: skip


def _missing(exc: SlackApiError) -> bool:
    """Slack says there is no such group or channel (for this bot): nobody is in it."""
    return error_code(exc) in UNKNOWN


class SlackDirectory:
    """One question to Slack per name at a time, however many requests wait on it. Those who
    wait more than ``wait`` seconds, or whose question fails, get ``NoAnswer`` (most wait before
    an ack, which Slack wants within three seconds); a question still going is answered into
    the cache, for the next request (a very large channel takes a few pages)."""

    def __init__(self, workspaces: Workspaces, ttl: float = TTL, wait: float = WAIT) -> None:
        self.workspaces = workspaces
        self.ttl, self.wait = ttl, wait
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._asking: dict[str, asyncio.Task[frozenset[str]]] = {}
        self._changes: dict[str, int] = {}  # member events seen, per channel
        # the changes seen while Slack is asked, in order: applied to its answer
        self._meanwhile: dict[str, list[tuple[frozenset[str], frozenset[str]]]] = {}

    async def _cached(
        self, key: str, load: Callable[[], Awaitable[frozenset[str]]]
    ) -> frozenset[str]:
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        asking = self._asking.get(key)
        if asking is None:
            self._meanwhile[key] = []
            asking = self._asking[key] = asyncio.create_task(self._ask(key, load))
            asking.add_done_callback(_seen)
        wait, budget = self.wait, _BUDGET.get()
        if budget is not None and not budget.spent:
            wait = max(0.0, min(wait, budget.until - time.monotonic()))
        try:
            return await asyncio.wait_for(asyncio.shield(asking), wait)
        except (TimeoutError, SlackClientError, aiohttp.ClientError) as exc:
            log.warning("Slack did not say who is in %s: %s", key, failure(exc))
            raise NoAnswer(f"Slack did not say who is in {key}") from None

    async def _ask(self, key: str, load: Callable[[], Awaitable[frozenset[str]]]) -> frozenset[str]:
        """Slack's answer, with whoever joined or left while it was on its way added or taken
        out (an answer given before someone left is not what those waiting on it are told)."""
        asked, changes = time.monotonic(), self._changes.get(key, 0)
        try:
            members = await load()
        finally:
            del self._asking[key]
            meanwhile = self._meanwhile.pop(key, [])
        for added, removed in meanwhile:
            members = (members | added) - removed
        if self._changes.get(key, 0) == changes:  # else someone joined or left meanwhile: the
            self._keep(key, asked, members)  # answer may predate it, so it is not kept
        return members

    def _keep(self, key: str, asked: float, members: frozenset[str]) -> None:
        """Cache an answer; at ``KEPT`` answers, those past their ``ttl`` go first, then the
        oldest (so ids that come and go, or were made up, never grow it for good)."""
        self._cache.pop(key, None)
        if len(self._cache) >= KEPT:
            now = time.monotonic()
            self._cache = {k: hit for k, hit in self._cache.items() if now - hit[0] < self.ttl}
            while len(self._cache) >= KEPT:
                del self._cache[next(iter(self._cache))]
            live = self._cache.keys() | self._asking.keys()
            self._changes = {k: n for k, n in self._changes.items() if k in live}
        self._cache[key] = (asked, members)

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        workspace = _workspace(context)
        if principal.startswith("S"):
            return user in await self.group_members(principal, workspace)
        channel = context.get("channel")
        if principal == "channel" and isinstance(channel, str):
            return user in await self.channel_members(channel, workspace)
        return False

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        channel = context.get("channel")
        if not isinstance(channel, str):
            return False  # a run shown in no channel is seen by no one in Slack
        workspace = _workspace(context)
        members = await self.channel_members(channel, workspace)
        if user.startswith("S"):  # a user group: any of its members
            return not members.isdisjoint(await self.group_members(user, workspace))
        return user in members

    async def person(self, user: str, context: Mapping[str, Any]) -> str:
        return user

    def unseen(self, channel: str, workspace: Workspace = SINGLE) -> bool:
        """Did Slack, asked last, say ``channel`` has no members for the bot? A conversation
        someone is in always has them, so the bot is not let in: a private channel it was not
        invited to (``channel_not_found``). False while nothing is known."""
        hit = self._cache.get(_key(workspace, "channel", channel))
        return hit is not None and not hit[1]

    def member_changed(
        self, channel: str, user: str, *, joined: bool, workspace: Workspace = SINGLE
    ) -> None:
        """``user`` joined or left ``channel`` (a Slack event said so)."""
        added, removed = ((user,), ()) if joined else ((), (user,))
        self._changed(_key(workspace, "channel", channel), added, removed)

    def group_changed(
        self,
        group: str,
        added: tuple[str, ...],
        removed: tuple[str, ...],
        workspace: Workspace = SINGLE,
    ) -> None:
        """People were added to or removed from user group ``group`` (a Slack event said so)."""
        self._changed(_key(workspace, "group", group), added, removed)

    def _changed(self, key: str, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        self._changes[key] = self._changes.get(key, 0) + 1
        if key in self._meanwhile:  # Slack is being asked: its answer may predate this
            self._meanwhile[key].append((frozenset(added), frozenset(removed)))
        hit = self._cache.get(key)
        if hit is not None and not hit[1]:  # Slack let the bot see none of it: it was
            del self._cache[key]  # invited since (it hears of its channels only), so ask again
        elif hit is not None:
            at, members = hit
            self._cache[key] = (at, (members | set(added)) - set(removed))

    async def group_members(self, group: str, workspace: Workspace = SINGLE) -> frozenset[str]:
        async def load() -> frozenset[str]:
            client = await self.workspaces.client(workspace)
            if client is None:
                return frozenset()  # the app left the workspace: nobody is anyone there
            try:
                found = await client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:
                if _missing(exc):
                    return frozenset()
                raise
            return frozenset(found.get("users") or ())

        return await self._cached(_key(workspace, "group", group), load)

    async def channel_members(self, channel: str, workspace: Workspace = SINGLE) -> frozenset[str]:
        async def load() -> frozenset[str]:
            client = await self.workspaces.client(workspace)
            if client is None:
                return frozenset()
            members: set[str] = set()
            cursor = None
            for _ in range(100):  # 100 pages of 1,000: a very large channel
                try:
                    page = await client.conversations_members(
                        channel=channel, limit=1000, cursor=cursor
                    )
                except SlackApiError as exc:
                    if _missing(exc):
                        return frozenset()
                    raise
                members.update(page.get("members") or ())
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            return frozenset(members)

        return await self._cached(_key(workspace, "channel", channel), load)


def _seen(task: asyncio.Task[Any]) -> None:
    """A question nobody waited for to the end still has its failure looked at (logged by
    those who waited), so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


def _workspace(context: Mapping[str, Any]) -> Workspace:
    found = context.get("workspace")
    return found if isinstance(found, Workspace) else SINGLE


def _key(workspace: Workspace, kind: str, name: str) -> str:
    return f"{workspace.enterprise_id}:{workspace.team_id}:{kind}:{name}"
