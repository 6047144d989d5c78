"""The engine's ``Notifier`` port for Slack: shows each outbox row as a Slack message.

The run's message goes into the channel it was started from; its locks, progress, reminders,
escalations and result go into that message's thread; escalations also go to each person
directly. Every message carries Slack message metadata naming its outbox row (``key``), so a
post whose outcome was lost (the process died, the connection dropped) is found again
(``conversations.replies``/``history`` with ``include_all_metadata``) instead of posted twice.
A request Slack acts on only after the bot gave up on it leaves a copy of a post (the retry
looked, found nothing and posted again) or an older state over a newer one: whatever a retried
attempt shows is shown once more ``recheck`` seconds later (the location's ``AGAIN_AT``), the
newest state put back and copies of the message deleted.
A rate limit is ``Unavailable`` with Slack's ``Retry-After`` (at most ``MAX_PAUSE``). A post or
an update Slack refuses until something outside changes (an archived channel, one the bot was
not invited to or removed from, a deactivated person, a message Slack will not take) is
``Refused``: one log line, and it is tried again with the usual backoff, not as an outage. Any
other failure raises as it is, and the deliverer backs off. A link to a message that cannot be
had (deleted) is left out of the text that would carry it. Each row is shown with the bot token
of its run's workspace, looked up as it is shown; a workspace the app has left is shown nothing
more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.contents import Content, Contents, channel_of
from bot.render.mrkdwn import cut
from bot.workspaces import FOR_GOOD, OUR_MISTAKES, Workspaces, error_code
from flows.app import Registry
from flows.engine import (
    AGAIN_AT,
    Clock,
    Refused,
    Show,
    Trail,
    Unavailable,
    Workspace,
)
from flows.policy import Policy

log = logging.getLogger("lockstep.slack")
EVENT_TYPE = "lockstep_message"
Where = dict[str, Any]
# Pages of 200 messages searched for a post whose outcome was lost. The search stops at
# messages older than its row (``LOOKUP_BEFORE``): only a busy channel needs many.
LOOKUP_PAGES = 50
LOOKUP_BEFORE = 120.0  # seconds before a row was made that its message may be dated
# A retried attempt is unsure of what Slack shows: an earlier attempt's request that Slack acts on
# after the bot stopped waiting (and after the retry looked for it) leaves a copy of a post, or
# puts an older state over a newer one. Its location asks to be shown once more ``RECHECK``
# seconds later (``AGAIN_AT``): the newest state is put back, and copies are deleted.
RECHECK = 30.0
READING = ("conversations.history", "conversations.replies")  # looking for a lost post
# Slack's answers when the bot may not read a conversation's messages
UNREADABLE = ("missing_scope", "not_in_channel", "channel_not_found")
READ_HINT = "posted without looking; give the app the *:history scopes and add it to the channel"
MAX_PAUSE = 300.0  # seconds: a Retry-After longer than this is taken as this
PUTTING = ("chat.postMessage", "chat.update", "conversations.open", "views.publish")
TEXT_MAX = 4000  # characters of a message's text (Slack cuts at 40,000; 4,000 reads well)


class SlackNotifier:
    def __init__(
        self,
        workspaces: Workspaces,
        registry: Registry,
        clock: Clock,
        trail: Callable[[str], Awaitable[Trail | None]] | None = None,
        homes: Callable[[str, Workspace], Awaitable[dict[str, Any]]] | None = None,
        recheck: float = RECHECK,
    ) -> None:
        """``trail``: reads a run's trail (``Engine.trail``), to say how an ended run ended;
        ``homes``: renders a person's App Home in a workspace from the store
        (``bot.home.HomeReader``); ``recheck``: how long after a retry it looks once more."""
        self.recheck = recheck
        self.workspaces = workspaces
        self.clock = clock
        self.homes = homes
        self.says = Contents(registry, clock, trail)
        self._paused_until = 0.0

    async def show(self, show: Show) -> Any:
        """Show one row. When Slack says to wait (429 with ``Retry-After``), every row waits
        that long: they are refused here, without a call, until then. A limit on reading a
        conversation (looking for a lost post) holds back only the row that looked: the
        history methods have limits of their own, far tighter than posting's."""
        wait = self._paused_until - self.clock.now()
        if wait > 0:
            raise Unavailable("rate limited: waiting as Slack asked", wait)
        client = await self.workspaces.client(_workspace(show))
        if client is None:  # the app left the workspace: nothing more is shown there
            log.info("not shown: no bot token for the workspace any more")
            return show.location
        try:
            return await self._show(client, show)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                headers = exc.response.headers
                after = _seconds(headers.get("Retry-After") or headers.get("retry-after"))
                if not str(exc.response.api_url).endswith(READING):
                    self._paused_until = self.clock.now() + (after or 1.0)
                raise Unavailable("rate limited", after) from exc
            code = error_code(exc)
            if code not in FOR_GOOD or not str(exc.response.api_url).endswith(PUTTING):
                raise
            say = log.error if code in OUR_MISTAKES else log.warning
            say("%s not shown: Slack refuses it (%s); tried again later", show.key, code)
            raise Refused(f"Slack refuses it ({code})") from exc

    async def _show(self, client: AsyncWebClient, show: Show) -> Any:
        if show.kind == "home":
            return await self._home(client, show)
        execution, moot = show.run, _moot(show, self.clock.now())
        match show.kind:
            case "run":
                channel = execution.context.get("channel")
                if not isinstance(channel, str):
                    return None  # started without a channel: nowhere to show it
                return await self._put(client, show, channel, None, await self.says.parent(show))
            case "lock":
                assert show.lock is not None and isinstance(show.thread, dict)
                return await self._put(
                    client, show, show.thread["channel"], show.thread["ts"], self.says.lock(show)
                )
            case "post":
                assert isinstance(show.thread, dict)
                content = await self.says.post(client, show)
                if not content[0]:
                    return None  # blank output: nothing to show
                thread = show.thread
                return await self._put(
                    client, show, thread["channel"], thread["ts"], content, not moot
                )
            case "direct":
                to = show.payload.get("to")
                if not isinstance(to, str) or not to.startswith(("U", "W")):
                    return None  # a user group has no direct messages
                if not channel_of(execution):
                    return None  # nowhere to point them to
                if moot and show.location is None and not show.retry:
                    return None
                opened = await client.conversations_open(users=to)
                content = (await self.says.direct_text(client, show), None)
                return await self._put(
                    client, show, opened["channel"]["id"], None, content, not moot
                )
            case _:
                raise ValueError(f"unknown outbox row kind {show.kind!r}")

    async def _home(self, client: AsyncWebClient, show: Show) -> Any:
        """Publish a person's Home as the store has it now; one that reads as it did when it
        was last published is left as it is (every change bumps every Home). After an attempt
        whose outcome is unknown (Slack may publish it late, over a newer view) the Home is
        published whatever it reads, and once more ``recheck`` seconds later."""
        user = show.payload.get("user")
        if not isinstance(user, str) or self.homes is None:
            return None
        view = await self.homes(user, _workspace(show))
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:32]
        where = show.location if isinstance(show.location, dict) else {}
        due = where.get(AGAIN_AT)
        due = due if isinstance(due, int | float) and not isinstance(due, bool) else None
        if where.get("digest") == digest and not show.retry and due is None:
            return show.location
        await client.views_publish(user_id=user, view=view)
        published: Where = {"user": user, "digest": digest}
        now = self.clock.now()
        if show.retry:
            return {**published, AGAIN_AT: now + self.recheck}
        return {**published, AGAIN_AT: due} if due is not None and now < due else published

    async def _put(
        self,
        client: AsyncWebClient,
        show: Show,
        channel: str,
        thread_ts: str | None,
        content: Content,
        fresh: bool = True,
    ) -> Where | None:
        """Post the message, or update it where it is; a retried post looks for itself first.
        Not ``fresh``: one not posted by now is not posted at all (None)."""
        text, blocks = content
        text = cut(text, TEXT_MAX)
        where = show.location if isinstance(show.location, dict) else None
        again = self.clock.now() + self.recheck  # when a retry looks once more
        if where is None and show.retry:  # an earlier attempt may have posted it
            if found := await self._ours(client, show, channel, thread_ts):
                log.info("adopted %s, posted by an earlier attempt", show.key)
                oldest = min(found, key=float)
                where = await self._keep_one(client, show, channel, found, oldest, again)
                if show.kind in ("post", "direct"):
                    return where  # a post shows what it showed: adopting it is enough
        if where is not None:
            try:
                await client.chat_update(
                    channel=where["channel"], ts=where["ts"], text=text, blocks=blocks or []
                )
            except SlackApiError as exc:
                if error_code(exc) != "message_not_found":
                    raise
                # Slack may say so of a message that is there (a moment's fault): posting
                # again would leave two, the first with its buttons. Looked for first.
                found = await self._still_there(client, show, where["channel"], thread_ts)
                if where["ts"] in found:
                    raise  # it is there: tried again later
                if found:  # a copy of it is there: that one is kept, and updated
                    keep = min(found, key=float)
                    await client.chat_update(
                        channel=where["channel"], ts=keep, text=text, blocks=blocks or []
                    )
                    return await self._keep_one(client, show, where["channel"], found, keep, again)
                log.info("%s: its message is gone (deleted in Slack); posted again", show.key)
            else:
                due = where.get(AGAIN_AT)
                if not isinstance(due, int | float):  # sure of it: a retry looks once more
                    return {**where, AGAIN_AT: again} if show.retry else where
                found = await self._ours(client, show, where["channel"], thread_ts)
                return await self._keep_one(client, show, where["channel"], found, where["ts"], due)
        if not fresh:
            log.info("%s not posted: its lock was decided before it could be", show.key)
            return None
        posted = await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, blocks=blocks,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"key": show.key}},
        )  # fmt: skip
        placed = {"channel": str(posted["channel"]), "ts": str(posted["ts"])}
        return {**placed, AGAIN_AT: again} if show.retry else placed

    async def _keep_one(
        self,
        client: AsyncWebClient,
        show: Show,
        channel: str,
        found: list[str],
        keep: str,
        due: float,
    ) -> Where:
        """Keep the message at ``keep`` and delete the row's other messages in ``found`` (late
        copies); until ``due`` it is looked at once more then, as a copy may still land."""
        for copy in found:
            if copy == keep:
                continue
            try:
                await client.chat_delete(channel=channel, ts=copy)
                log.info("deleted a copy of %s that Slack posted late", show.key)
            except SlackApiError as exc:
                if error_code(exc) not in ("message_not_found", "cant_delete_message"):
                    raise
        kept: Where = {"channel": channel, "ts": keep}
        return kept if self.clock.now() >= due else {**kept, AGAIN_AT: due}

    async def _still_there(
        self, client: AsyncWebClient, show: Show, channel: str, thread_ts: str | None
    ) -> list[str]:
        """``_ours``, for a message Slack said it cannot find: a thread that is gone (its
        parent deleted) holds none of them."""
        try:
            return await self._ours(client, show, channel, thread_ts)
        except SlackApiError as exc:
            if error_code(exc) not in ("message_not_found", "thread_not_found"):
                raise
            return []

    async def _ours(
        self, client: AsyncWebClient, show: Show, channel: str, thread_ts: str | None
    ) -> list[str]:
        """The ts of each message in the channel (or thread) posted for this row. Empty when
        the bot may not read it (no ``*:history`` scope, or not a member of the channel): the
        row is then posted without looking, as the only way left to show it."""
        oldest = f"{show.run.created_at - LOOKUP_BEFORE:.6f}"
        found, cursor = [], None
        for _ in range(LOOKUP_PAGES):
            try:
                if thread_ts is None:
                    page = await client.conversations_history(
                        channel=channel, oldest=oldest, include_all_metadata=True, limit=200,
                        cursor=cursor,
                    )  # fmt: skip
                else:
                    page = await client.conversations_replies(
                        channel=channel, ts=thread_ts, include_all_metadata=True, limit=200,
                        cursor=cursor,
                    )  # fmt: skip
            except SlackApiError as exc:
                if (code := error_code(exc)) not in UNREADABLE:
                    raise
                log.warning("cannot look for %s in Slack (%s): %s", show.key, code, READ_HINT)
                return []
            for message in page.get("messages") or ():
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("key") == show.key:
                    found.append(str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found


def _moot(show: Show, now: float) -> bool:
    """A nudge (a reminder, an escalation) about a lock decided since it fired, or a reminder
    of a lock whose deadline has passed since (its deadline closes it: a lock that is kept open
    past it is overdue, and reminded so): one not in Slack by now would call people to a form
    already answered, or about to close, and goes unsaid."""
    lock = show.lock
    kind = show.payload.get("type")
    if kind not in ("reminder", "escalated", "escalated_dm") or lock is None:
        return False
    if not lock.open:
        return True
    closing = lock.deadline is not None and lock.deadline <= now
    return kind == "reminder" and closing and Policy.from_json(lock.policy).on_timeout != "keep"


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, seconds), MAX_PAUSE) if math.isfinite(seconds) else None


def _workspace(show: Show) -> Workspace:
    """Whose token shows a row: its run's workspace; an App Home's own (in its payload)."""
    if show.kind != "home":
        return show.run.workspace
    team, enterprise = show.payload.get("team"), show.payload.get("enterprise")
    return Workspace(
        team_id=team if isinstance(team, str) else "",
        enterprise_id=enterprise if isinstance(enterprise, str) else "",
    )
