"""The engine's ``Notifier`` port for Slack: everything a run announces lands in its thread.

A run's context carries ``channel`` and ``thread_ts`` (its parent message). Web API failures
are retried by the client's retry handlers; one that still fails raises, and the engine keeps
what was not shown (an unposted lock is offered again by the sweep).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.render import messages, surfaces
from flows.app import Registry
from flows.engine import Call, Clock, Execution
from flows.policy import humanize

log = logging.getLogger("lockstep.slack")


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, registry: Registry, clock: Clock) -> None:
        self.client = client
        self.registry = registry
        self.clock = clock

    @staticmethod
    def _thread(execution: Execution) -> tuple[str, str] | None:
        channel, ts = execution.context.get("channel"), execution.context.get("thread_ts")
        return (channel, ts) if isinstance(channel, str) and isinstance(ts, str) else None

    async def status_changed(self, execution: Execution, waiting: Sequence[str]) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        channel, ts = thread
        entry = self.registry.entries.get(execution.flow)
        summary = execution.context.get("summary") or (entry.summary if entry else execution.flow)
        text, blocks = surfaces.parent(execution, summary, [n for n in waiting if n != "sleep"])
        await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        if execution.done:
            await self.client.chat_postMessage(
                channel=channel, thread_ts=ts, text=surfaces.ending(execution)
            )

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        thread = self._thread(execution)
        if thread is not None:
            await self.client.chat_postMessage(
                channel=thread[0], thread_ts=thread[1], text=surfaces.progress(kind, text)
            )

    async def lock_opened(self, execution: Execution, lock: Call) -> Any:
        thread = self._thread(execution)
        if thread is None:
            return None
        text, blocks = surfaces.lock_message(lock)
        posted = await self.client.chat_postMessage(
            channel=thread[0], thread_ts=thread[1], text=text, blocks=blocks
        )
        return {"channel": posted["channel"], "ts": posted["ts"]}

    async def lock_resolved(
        self, execution: Execution, lock: Call, approvers: Sequence[str]
    ) -> None:
        message = lock.message
        if not isinstance(message, dict):
            return  # never shown: nothing to update
        text, blocks = surfaces.decided(lock, list(approvers))
        await self.client.chat_update(
            channel=message["channel"], ts=message["ts"], text=text, blocks=blocks
        )

    async def voted(self, execution: Execution, lock: Call, approvers: Sequence[str]) -> None:
        message = lock.message
        if isinstance(message, dict):
            text, blocks = surfaces.lock_message(lock, approvers=list(approvers))
            await self.client.chat_update(
                channel=message["channel"], ts=message["ts"], text=text, blocks=blocks
            )

    async def _link(self, lock: Call) -> str:
        message = lock.message
        if not isinstance(message, dict):
            return ""
        found = await self.client.chat_getPermalink(
            channel=message["channel"], message_ts=message["ts"]
        )
        return messages.OPEN_LINK.format(url=found["permalink"])

    async def reminder(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        now = self.clock.now()
        left = (lock.deadline or now) - now
        words = {
            "people": messages.mention(list(people)) + " " if people else "",
            "title": messages.title(lock.name),
            "link": await self._link(lock),
        }
        if left > 0:
            text = messages.REMINDER.format(
                waited=humanize(now - lock.created_at), left=humanize(left), **words
            )
        else:
            text = messages.OVERDUE.format(late=humanize(-left), **words)
        await self.client.chat_postMessage(channel=thread[0], thread_ts=thread[1], text=text)

    async def escalated(self, execution: Execution, lock: Call, people: Sequence[str]) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        title, link = messages.title(lock.name), await self._link(lock)
        waited = humanize(self.clock.now() - lock.created_at)
        text = messages.ESCALATED.format(
            people=messages.mention(list(people)), title=title, waited=waited, link=link
        )
        await self.client.chat_postMessage(channel=thread[0], thread_ts=thread[1], text=text)
        for person in people:
            if not person.startswith("S"):  # a user group has no direct messages
                dm = messages.ESCALATED_DM.format(title=title, channel=thread[0], link=link)
                await self.client.chat_postMessage(channel=person, text=dm)

    async def snoozed(self, execution: Execution, lock: Call, actor: str | None) -> None:
        thread = self._thread(execution)
        if thread is not None:
            text = messages.SNOOZED.format(
                who=messages.who(actor),
                title=messages.title(lock.name),
                when=messages.when(lock.deadline),
            )
            await self.client.chat_postMessage(channel=thread[0], thread_ts=thread[1], text=text)
