"""The engine's ``Notifier`` for Slack: everything a run announces lands in its thread.

A run's context carries ``channel`` and ``thread_ts`` (its parent message). Web API failures
are retried by the client's retry handlers; a lock that still could not be posted stays
unposted in the store, and the outbox sweep posts it later.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot import messages, surfaces
from flows import quorum
from flows.app import Registry
from flows.clock import Clock
from flows.decision import approvers
from flows.policy import Policy, humanize
from store import Call, Execution, Store

log = logging.getLogger("lockstep.slack")


class SlackNotifier:
    def __init__(
        self, client: AsyncWebClient, store: Store, registry: Registry, clock: Clock
    ) -> None:
        self.client = client
        self.store = store
        self.registry = registry
        self.clock = clock

    @staticmethod
    def _thread(execution: Execution) -> tuple[str, str] | None:
        channel, ts = execution.context.get("channel"), execution.context.get("thread_ts")
        return (channel, ts) if isinstance(channel, str) and isinstance(ts, str) else None

    async def status_changed(self, execution: Execution) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        channel, ts = thread
        open_locks = []
        if execution.status == "awaiting":
            open_locks = [c.name for c in await self.store.calls(execution.id, open_only=True)]
        entry = self.registry.entries.get(execution.flow)
        summary = entry.summary if entry else execution.flow
        text, blocks = surfaces.parent(execution, summary, [n for n in open_locks if n != "sleep"])
        await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        if execution.done:
            await self.client.chat_postMessage(
                channel=channel, thread_ts=ts, text=surfaces.ending(execution)
            )

    async def progress(self, execution: Execution, kind: str, text: str) -> None:
        thread = self._thread(execution)
        if thread is not None:
            prefix = "⚠️ " if kind == "warning" else ""
            await self.client.chat_postMessage(
                channel=thread[0], thread_ts=thread[1], text=prefix + text[:3900]
            )

    async def lock_opened(self, execution: Execution, lock: Call) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        text, blocks = surfaces.lock_message(lock)
        posted = await self.client.chat_postMessage(
            channel=thread[0], thread_ts=thread[1], text=text, blocks=blocks
        )
        message = {"channel": posted["channel"], "ts": posted["ts"]}
        now = await self.store.mark_posted(lock.id, message)
        if now is not None and not now.open:  # decided while its message was on the way
            await self.lock_resolved(execution, now)

    async def lock_resolved(self, execution: Execution, lock: Call) -> None:
        message = lock.message or (await self.store.call(lock.id) or lock).message
        if not isinstance(message, dict):
            return  # never shown: nothing to update
        people = await self._approvers(lock) if lock.status == "resolved" else []
        text, blocks = surfaces.decided(lock, people)
        await self.client.chat_update(
            channel=message["channel"], ts=message["ts"], text=text, blocks=blocks
        )

    async def voted(self, execution: Execution, lock: Call, approvers: list[str]) -> None:
        message = lock.message or (await self.store.call(lock.id) or lock).message
        if isinstance(message, dict):
            text, blocks = surfaces.lock_message(lock, approvers=approvers)
            await self.client.chat_update(
                channel=message["channel"], ts=message["ts"], text=text, blocks=blocks
            )

    async def _approvers(self, lock: Call) -> list[str]:
        """A quorum lock's approvers, from its recorded responses."""
        if Policy.from_json(lock.policy).quorum <= 1:
            return []
        return approvers(await quorum.responses(self.store, lock))

    async def _link(self, lock: Call) -> str:
        message = lock.message
        if not isinstance(message, dict):
            return ""
        found = await self.client.chat_getPermalink(
            channel=message["channel"], message_ts=message["ts"]
        )
        return messages.OPEN_LINK.format(url=found["permalink"])

    async def reminder(self, execution: Execution, lock: Call, people: list[str]) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        now = self.clock.now()
        left = (lock.deadline or now) - now
        words = {
            "people": messages.mention(people) + " " if people else "",
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

    async def escalated(self, execution: Execution, lock: Call, people: list[str]) -> None:
        thread = self._thread(execution)
        if thread is None:
            return
        title, link = messages.title(lock.name), await self._link(lock)
        waited = humanize(self.clock.now() - lock.created_at)
        text = messages.ESCALATED.format(
            people=messages.mention(people), title=title, waited=waited, link=link
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
