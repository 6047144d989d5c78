"""What each Slack message of a run says (``Contents``): its parent message, a lock's form or
decision, progress, reminders, escalations, direct messages and its ending. ``SlackNotifier``
puts them in Slack."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.render import messages, outcome, surfaces
from bot.workspaces import FOR_GOOD, error_code
from flows.app import Registry
from flows.engine import Call, Clock, Execution, Show, Trail
from flows.policy import humanize

log = logging.getLogger("lockstep.slack")
Content = tuple[str, list[dict[str, Any]] | None]  # text, blocks
_CHANNEL = re.compile(r"[A-Z0-9]{1,40}")


class Contents:
    def __init__(
        self,
        registry: Registry,
        clock: Clock,
        trail: Callable[[str], Awaitable[Trail | None]] | None = None,
    ) -> None:
        """``trail``: reads a run's trail (``Engine.trail``), to say how an ended run ended."""
        self.registry = registry
        self.clock = clock
        self.trail = trail

    async def ended(self, execution: Execution) -> tuple[outcome.Conclusion, Trail]:
        """How an ended run ended (approved, rejected...), read from its trail."""
        found = await self.trail(execution.id) if self.trail else None
        trail: Trail = found or (execution, [], [])
        return outcome.conclude(*trail), trail

    async def parent(self, show: Show) -> Content:
        execution = show.run
        if not execution.done:
            waiting = [n for n in show.waiting if n != "sleep"]
            return surfaces.parent(execution, show.summary, waiting)
        conclusion, _ = await self.ended(execution)
        return surfaces.parent(execution, show.summary, [], conclusion)

    async def ending(self, execution: Execution) -> Content:
        conclusion, (ended, calls, _) = await self.ended(execution)
        entry = self.registry.entries.get(execution.flow)
        forms = [entry.model.to_json() if entry and entry.model else [], *(c.form for c in calls)]
        return surfaces.ending(conclusion, ended.result, forms)

    async def post(self, client: AsyncWebClient, show: Show) -> Content:
        if show.payload.get("type") == "ending":
            return await self.ending(show.run)
        return await self._post_text(client, show), None

    def lock(self, show: Show) -> Content:
        lock = show.lock
        assert lock is not None
        if not lock.open:
            return surfaces.decided(lock, show.approvers)
        draft = show.payload if show.payload.get("errors") else {}
        return surfaces.lock_message(lock, draft.get("errors"), draft.get("values"), show.approvers)

    async def _post_text(self, client: AsyncWebClient, show: Show) -> str:
        payload, lock = show.payload, show.lock
        match payload.get("type"):
            case "progress":
                level, text = str(payload.get("level")), str(payload.get("text", ""))
                return surfaces.progress(level, text, payload.get("of"))
            case "reminder":
                assert lock is not None
                people = list(payload.get("people") or ())
                return await self._reminder(client, lock, people, show)
            case "escalated":
                assert lock is not None
                people = list(payload.get("to") or ())
                return messages.ESCALATED.format(
                    people=messages.mention(people), title=messages.title(lock.name),
                    waited=humanize(self._said_at(show) - lock.created_at),
                    link=await self._link(client, show.lock_at),
                )  # fmt: skip
            case "snoozed":
                assert lock is not None
                return messages.SNOOZED.format(
                    who=messages.who(payload.get("actor")),
                    title=messages.title(lock.name),
                    when=messages.when(_number(payload.get("until"), lock.deadline)),
                )
            case other:
                raise ValueError(f"unknown post type {other!r}")

    async def _reminder(
        self, client: AsyncWebClient, lock: Call, people: list[str], show: Show
    ) -> str:
        now = self._said_at(show)
        deadline = _number(show.payload.get("deadline"), lock.deadline)  # as it was then
        left = (deadline or now) - now
        words = {
            "people": messages.mention(people) + " " if people else "",
            "title": messages.title(lock.name),
            "link": await self._link(client, show.lock_at),
        }
        if left > 0:
            return messages.REMINDER.format(
                waited=humanize(now - lock.created_at), left=humanize(left), **words
            )
        return messages.OVERDUE.format(late=humanize(-left), **words)

    def _said_at(self, show: Show) -> float:
        """When a nudge was due to be said: its text reads as of then however late it is shown,
        or shown again (a retry's message is updated once more later)."""
        at = _number(show.payload.get("at"), None)
        return self.clock.now() if at is None else at  # (older rows kept none)

    async def direct_text(self, client: AsyncWebClient, show: Show) -> str:
        lock, execution = show.lock, show.run
        assert lock is not None
        return messages.ESCALATED_DM.format(
            title=messages.title(lock.name),
            channel=channel_of(execution),
            link=await self._link(client, show.lock_at),
        )

    async def _link(self, client: AsyncWebClient, where: Any) -> str:
        """A link to the message at ``where``; none when Slack has none to give (the message
        deleted, the channel gone): the text goes without it."""
        if not isinstance(where, dict):
            return ""
        try:
            found = await client.chat_getPermalink(channel=where["channel"], message_ts=where["ts"])
        except SlackApiError as exc:
            if error_code(exc) not in FOR_GOOD:
                raise
            log.info("no link to the lock's message (%s): sent without one", error_code(exc))
            return ""
        return messages.OPEN_LINK.format(url=found["permalink"])


def _number(value: Any, otherwise: float | None) -> float | None:
    """A time a payload kept, or ``otherwise`` (a row written before it was kept)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return otherwise


def channel_of(execution: Execution) -> str:
    """The run's channel id, if it has one shaped like Slack's (it is written into links)."""
    channel = execution.context.get("channel")
    return channel if isinstance(channel, str) and _CHANNEL.fullmatch(channel) else ""
