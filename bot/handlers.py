"""The listeners: each Slack surface becomes one typed event and takes one path to the engine.

Every handler acks first (Slack's 3 s), except where the answer must ride on the ack (modal
errors); Bolt answers when the listener returns, and the rest runs as a tracked task after it
(``after``), views first while the trigger is fresh. Nothing here decides:
the engine does, with compare-and-set, so double clicks and Slack's retries are harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, history, inbound, messages, surfaces
from bot.commands import parse_command
from bot.state import read_state
from flows import Engine, Forbidden, InputsError, Launch, Request, audit
from flows.app import EntrySpec
from store import TERMINAL, Call, Event, Execution

log = logging.getLogger("lockstep.slack")
Body = dict[str, Any]
Trail = tuple[Execution, list[Call], list[Event]]


class Handlers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.tasks: set[asyncio.Task[None]] = set()

    def after(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the ack has gone: Bolt answers Slack when the listener returns."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling a Slack request failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def register(self, app: AsyncApp) -> None:
        app.command("/flow")(self.command)
        app.view(blocks.ENTRY_CALLBACK)(self.entry_submitted)
        app.view(blocks.LOCK_CALLBACK)(self.lock_modal_submitted)
        app.action(blocks.ACTION_SUBMIT)(self.submit_clicked)
        app.action(blocks.ACTION_CANCEL)(self.cancel_clicked)
        app.action(blocks.ACTION_OPEN)(self.open_clicked)
        app.action(surfaces.SNOOZE_ACTION)(self.snooze_clicked)

    # /flow ----------------------------------------------------------------------------------

    async def command(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        event = inbound.slash_command(body)
        cmd = parse_command(event.text)
        if cmd.problem:
            await ack(text=messages.BAD_ARGUMENT.format(text=cmd.problem))
        elif cmd.verb == "list":
            await ack(text=self._list())
        elif cmd.verb == "start":
            await self._start(ack, client, event, cmd.target, cmd.values)
        elif cmd.verb == "status":
            await ack(text=await self._status(event.user, cmd.target))
        elif cmd.verb == "audit":
            await self._audit(ack, client, event.user, cmd.target)
        elif cmd.verb == "cancel":
            await ack(text=await self._cancel(event.user, cmd.target))
        else:
            await ack(text=messages.HELP)

    def _list(self) -> str:
        entries = self.engine.registry.entries.values()
        lines = [f"• `{e.name}`: {e.summary}" for e in sorted(entries, key=lambda e: e.name)]
        return "\n".join(lines) or messages.NO_FLOWS

    async def _start(
        self,
        ack: AsyncAck,
        client: AsyncWebClient,
        event: inbound.SlashCommand,
        name: str | None,
        values: dict[str, str],
    ) -> None:
        spec = self.engine.registry.entries.get(name or "")
        if spec is None:
            text = messages.UNKNOWN_FLOW.format(name=name) if name else messages.START_USAGE
            await ack(text=text)
            return
        await ack()
        self.after(self._open_entry(client, event, spec, values))

    async def _open_entry(
        self,
        client: AsyncWebClient,
        event: inbound.SlashCommand,
        spec: EntrySpec,
        values: dict[str, str],
    ) -> None:
        request = Request(spec.name, event.user, {"channel": event.channel})
        if spec.model is None:
            try:
                launch = await self.engine.prepare(spec.name, values, request)
            except InputsError as exc:
                await client.chat_postEphemeral(
                    channel=event.channel, user=event.user, text=surfaces.error_list(exc.wire())
                )
                return
            await self._launch(client, launch, spec.summary)
            return
        metadata = json.dumps({"flow": spec.name, "channel": event.channel})
        view = blocks.modal_view(
            spec.model.to_json(),
            title=spec.summary,
            callback_id=blocks.ENTRY_CALLBACK,
            private_metadata=metadata,
            values=values,
        )
        await client.views_open(trigger_id=event.trigger_id, view=view)

    async def _launch(self, client: AsyncWebClient, launch: Launch, summary: str) -> None:
        """Post the run's parent message, then start the run in its thread."""
        request = launch.request
        text = f"*{summary}* · started by {messages.who(request.user)} · starting"
        posted = await client.chat_postMessage(channel=request.context["channel"], text=text)
        context = {"channel": posted["channel"], "thread_ts": posted["ts"]}
        await self.engine.launch(replace(launch, request=replace(request, context=context)))

    async def _status(self, user: str, execution_id: str | None) -> str:
        if not execution_id:
            runs = await self.store.executions(initiator=user, limit=10)
            lines = [f"• `{r.id}` {r.flow}: {messages.STATUS_WORDS[r.status]}" for r in runs]
            return "\n".join(lines) or messages.NO_RUNS
        trail = await self._visible(user, execution_id, "status")
        return history.status(*trail) if isinstance(trail, tuple) else trail

    async def _visible(self, user: str, execution_id: str, action: str) -> Trail | str:
        """A run's trail if ``user`` may read it (its channel's members, whoever started it,
        its admins), else what to tell them."""
        trail = await self.store.trail(execution_id)
        if trail is None:
            return messages.UNKNOWN_EXECUTION.format(id=execution_id)
        try:
            await self.engine.manage(trail[0], user, action, channel=True)
        except Forbidden:
            return messages.NOT_VISIBLE
        return trail

    async def _audit(
        self, ack: AsyncAck, client: AsyncWebClient, user: str, execution_id: str | None
    ) -> None:
        if not execution_id:
            await ack(text=messages.AUDIT_USAGE)
            return
        trail = await self._visible(user, execution_id, "audit")
        if not isinstance(trail, tuple):
            await ack(text=trail)
            return
        await ack(text=messages.AUDIT_COMING.format(id=execution_id))
        self.after(self._send_audit(client, user, trail))

    async def _send_audit(self, client: AsyncWebClient, user: str, trail: Trail) -> None:
        """Upload the trail as a JSON file into a direct message with the person who asked."""
        execution, calls, events = trail
        content = json.dumps(audit.document(execution, calls, events), indent=2, ensure_ascii=False)
        dm = await client.conversations_open(users=user)
        await client.files_upload_v2(
            channel=dm["channel"]["id"],
            filename=f"lockstep-{execution.id}.json",
            title=f"Audit trail {execution.id}",
            content=content,
            initial_comment=messages.AUDIT_FILE.format(
                flow=execution.flow, id=execution.id, count=len(events)
            ),
        )

    async def _cancel(self, user: str, execution_id: str | None) -> str:
        if not execution_id:
            return messages.CANCEL_USAGE
        execution = await self.store.execution(execution_id)
        if execution is None:
            return messages.UNKNOWN_EXECUTION.format(id=execution_id)
        if execution.status in TERMINAL:
            return messages.ALREADY_ENDED.format(id=execution.id, status=execution.status)
        try:
            cancelled = await self.engine.cancel(execution.id, user)
        except Forbidden as exc:
            return messages.cannot_cancel(execution.initiator, exc.allowed)
        if not cancelled:
            ended = await self.store.execution(execution.id) or execution
            return messages.ALREADY_ENDED.format(id=ended.id, status=ended.status)
        return messages.CANCELLED.format(id=execution.id)

    async def entry_submitted(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        event = inbound.view_submit(body)
        meta = json.loads(event.private_metadata)
        spec = self.engine.registry.entries[meta["flow"]]
        form = spec.model.to_json() if spec.model else []
        request = Request(spec.name, event.user, {"channel": meta["channel"]})
        try:
            launch = await self.engine.prepare(spec.name, read_state(form, event.state), request)
        except InputsError as exc:
            errors = blocks.modal_errors(exc.wire(), form=form)
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        self.after(self._launch(client, launch, spec.summary))

    # locks ----------------------------------------------------------------------------------

    async def submit_clicked(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        click = inbound.button_click(body)
        await ack()
        self.after(self._submit(client, click))

    async def _submit(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        raw = read_state(lock.form, click.state)
        decision = await self.engine.submit(lock.id, raw, click.user)
        if decision.outcome == "invalid":
            text, rendered = surfaces.lock_message(lock, decision.errors, raw, decision.approvers)
            where = lock.message or {"channel": click.channel, "ts": click.message_ts}
            await client.chat_update(
                channel=where["channel"], ts=where["ts"], text=text, blocks=rendered
            )
            await self._whisper(client, click, surfaces.error_list(decision.errors))
        elif decision.outcome == "failed":
            await self._whisper(
                client, click, messages.LEASE_FAILED.format(error_id=decision.error_id)
            )
        elif decision.outcome == "forbidden":
            await self._whisper(client, click, messages.refusal(decision.allowed))
        elif decision.outcome == "decided":
            await self._whisper(client, click, surfaces.already_decided(decision.lock))
        elif decision.outcome in ("counted", "repeat"):
            await self._whisper(client, click, surfaces.quorum_reply(decision))

    async def cancel_clicked(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        click = inbound.button_click(body)
        await ack()
        self.after(self._cancel_lock(client, click))

    async def _cancel_lock(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        comment = read_state(lock.form, click.state).get("comment")  # kept with the rejection
        text = comment if isinstance(comment, str) and comment.strip() else None
        decision = await self.engine.reject(click.lock_id, click.user, text)
        if decision.outcome == "forbidden":
            await self._whisper(client, click, messages.refusal(decision.allowed))
        elif decision.outcome == "decided":
            await self._whisper(client, click, surfaces.already_decided(decision.lock))
        elif decision.outcome == "counted":
            await self._whisper(client, click, surfaces.quorum_reply(decision, declined=True))

    async def snooze_clicked(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        click = inbound.button_click(body)
        await ack()
        self.after(self._snooze(client, click))

    async def _snooze(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        if await self._open_lock(client, click) is None:
            return
        try:
            snoozed = await self.engine.snooze(click.lock_id, click.user)
        except Forbidden as exc:
            await self._whisper(client, click, messages.refusal(exc.allowed))
            return
        if snoozed is None:
            await self._whisper(client, click, messages.CANNOT_SNOOZE)

    async def open_clicked(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        click = inbound.button_click(body)
        await ack()
        self.after(self._open_modal(client, click))

    async def _open_modal(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        lock = await self._open_lock(client, click)
        if lock is not None:
            view = blocks.modal_view(
                lock.form,
                title=messages.title(lock.name),
                callback_id=blocks.LOCK_CALLBACK,
                private_metadata=lock.id,
            )
            await client.views_open(trigger_id=click.trigger_id, view=view)

    async def lock_modal_submitted(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        event = inbound.view_submit(body)
        lock = await self.store.call(event.private_metadata)
        if lock is None or lock.kind != "lock":
            await ack(response_action="update", view=_notice(messages.LOCK_GONE))
            return
        raw = read_state(lock.form, event.state)
        decision = await self.engine.submit(lock.id, raw, event.user)
        if decision.outcome == "invalid":
            errors = blocks.modal_errors(decision.errors, form=lock.form)
            await ack(response_action="errors", errors=errors)
        elif decision.outcome == "failed":
            text = messages.LEASE_FAILED.format(error_id=decision.error_id)
            await ack(
                response_action="errors",
                errors=blocks.modal_errors({"_global_": [text]}, form=lock.form),
            )
        elif decision.outcome == "decided":
            await ack(
                response_action="update", view=_notice(surfaces.already_decided(decision.lock))
            )
        elif decision.outcome == "forbidden":
            await ack(response_action="update", view=_notice(messages.refusal(decision.allowed)))
        elif decision.outcome in ("counted", "repeat"):
            await ack(response_action="update", view=_notice(surfaces.quorum_reply(decision)))
        else:
            await ack()

    async def _open_lock(self, client: AsyncWebClient, click: inbound.ButtonClick) -> Call | None:
        """The clicked lock if it is still open; otherwise tell the clicker why not."""
        lock = await self.store.call(click.lock_id)
        if lock is None or lock.kind != "lock":
            await self._whisper(client, click, messages.LOCK_GONE)
            return None
        if not lock.open:
            await self._whisper(client, click, surfaces.already_decided(lock))
            return None
        return lock

    async def _whisper(self, client: AsyncWebClient, click: inbound.ButtonClick, text: str) -> None:
        if click.channel:
            await client.chat_postEphemeral(
                channel=click.channel, user=click.user, text=text, thread_ts=click.thread_ts
            )


def _notice(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Lockstep"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }
