"""The listeners: each Slack surface becomes one typed event (``bot.inbound``) and takes one
path to the engine's front door; its typed outcome becomes what the person sees.

Every handler acks first (Slack's 3 s), except where the answer must ride on the ack (modal
errors); Bolt answers when the listener returns, and the rest runs as a tracked task after it
(``after``), views first while the trigger is fresh. Nothing here decides: the engine does,
with compare-and-set, so double clicks and Slack's retries are harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar, assert_never

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.commands import parse_command
from bot.render import blocks, history, messages, surfaces
from bot.render.state import read_state
from flows import InputsError, Launch, Request
from flows.app import EntrySpec
from flows.engine import (
    Access,
    Answer,
    Call,
    Cancel,
    Decision,
    Engine,
    EntryFailed,
    Snooze,
    Trail,
    audit_document,
)
from flows.errors import GLOBAL

log = logging.getLogger("lockstep.slack")
E = TypeVar("E", bound=inbound.Inbound)


def _event(context: AsyncBoltContext, kind: type[E]) -> E:
    """The request as the typed event ``bot.app.typed_inbound`` read it."""
    event = context.get("inbound")
    if not isinstance(event, kind):
        raise inbound.Malformed(f"expected a {kind.__name__}, got {type(event).__name__}")
    return event


class Handlers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
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
        app.action(re.compile(rf"^{blocks.ACTION_PRESS}\.\d+$"))(self.action_clicked)
        app.action(surfaces.SNOOZE_ACTION)(self.snooze_clicked)

    # /flow ----------------------------------------------------------------------------------

    async def command(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        event = _event(context, inbound.SlashCommand)
        cmd = parse_command(event.text)
        if cmd.problem:
            await ack(text=messages.BAD_ARGUMENT.format(text=cmd.problem))
            return
        match cmd.verb:
            case "list":
                await ack(text=self._list())
            case "start":
                await self._start(ack, client, event, cmd.target, cmd.values)
            case "status":
                await ack(text=await self._status(event.user, cmd.target))
            case "audit":
                await self._audit(ack, client, event.user, cmd.target)
            case "cancel":
                await ack(text=await self._cancel(event.user, cmd.target))
            case "help":
                await ack(text=messages.HELP)
            case _:
                assert_never(cmd.verb)

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
            except EntryFailed as exc:
                text = _cannot_start(spec, exc)
            except InputsError as exc:
                text = surfaces.error_list(_said(exc.wire()))
            else:
                await self._launch(client, launch, spec.summary)
                return
            await client.chat_postEphemeral(channel=event.channel, user=event.user, text=text)
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
        who = messages.who(request.user)
        text = messages.PARENT.format(
            summary=launch.summary or summary, who=who, status=messages.STATUS_WORDS["starting"]
        )
        posted = await client.chat_postMessage(channel=request.context["channel"], text=text)
        context = {**request.context, "channel": posted["channel"], "thread_ts": posted["ts"]}
        if launch.summary:
            context["summary"] = launch.summary  # this run's, shown on its parent message
        await self.engine.launch(replace(launch, request=replace(request, context=context)))

    async def _status(self, user: str, execution_id: str | None) -> str:
        if not execution_id:
            runs = await self.engine.runs(initiator=user, limit=10)
            lines = [f"• `{r.id}` {r.flow}: {messages.STATUS_WORDS[r.status]}" for r in runs]
            return "\n".join(lines) or messages.NO_RUNS
        trail = await self._visible(user, execution_id, "status")
        return history.status(*trail) if isinstance(trail, tuple) else trail

    async def _visible(self, user: str, execution_id: str, action: str) -> Trail | str:
        """A run's trail if ``user`` may read it, else what to tell them."""
        reading = await self.engine.read(execution_id, user, action)
        match reading.outcome:
            case Access.SHOWN:
                assert reading.trail is not None
                return reading.trail
            case Access.FORBIDDEN:
                return messages.NOT_VISIBLE
            case Access.GONE:
                return messages.UNKNOWN_EXECUTION.format(id=execution_id)
            case _:
                assert_never(reading.outcome)

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
        execution, _, events = trail
        content = json.dumps(audit_document(*trail), indent=2, ensure_ascii=False)
        dm = await client.conversations_open(users=user)
        await client.files_upload_v2(
            channel=dm["channel"]["id"],
            filename=f"lockstep-{execution.id}.json",
            title=messages.AUDIT_TITLE.format(id=execution.id),
            content=content,
            initial_comment=messages.AUDIT_FILE.format(
                flow=execution.flow, id=execution.id, count=len(events)
            ),
        )

    async def _cancel(self, user: str, execution_id: str | None) -> str:
        if not execution_id:
            return messages.CANCEL_USAGE
        cancelled = await self.engine.cancel(execution_id, user)
        execution = cancelled.execution
        match cancelled.outcome:
            case Cancel.CANCELLED:
                return messages.CANCELLED.format(id=execution_id)
            case Cancel.ENDED:
                assert execution is not None
                return messages.ALREADY_ENDED.format(id=execution.id, status=execution.status)
            case Cancel.FORBIDDEN:
                assert execution is not None
                return messages.cannot_cancel(execution.initiator, cancelled.admins)
            case Cancel.GONE:
                return messages.UNKNOWN_EXECUTION.format(id=execution_id)
            case _:
                assert_never(cancelled.outcome)

    async def entry_submitted(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        event = _event(context, inbound.ViewSubmit)
        metadata = event.private_metadata
        meta = json.loads(metadata)
        spec = self.engine.registry.entries[meta["flow"]]
        form = spec.model.to_json() if spec.model else []
        request = Request(spec.name, event.user, {"channel": meta["channel"]})
        raw = read_state(form, event.state)
        try:
            launch = await self.engine.prepare(spec.name, raw, request)
        except InputsError as exc:
            view = {"title": spec.summary, "callback_id": blocks.ENTRY_CALLBACK}
            await _refuse(ack, form, exc.wire(), raw, view | {"private_metadata": metadata})
            return
        except EntryFailed as exc:
            await ack(response_action="update", view=_notice(_cannot_start(spec, exc)))
            return
        await ack()
        self.after(self._launch(client, launch, spec.summary))

    # locks ----------------------------------------------------------------------------------

    async def submit_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = _event(context, inbound.ButtonClick)
        await ack()
        self.after(self._submit(client, click))

    async def action_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A kodosumi ``Action`` button: Submit, with the button's name set to its value."""
        click = _event(context, inbound.ButtonClick)
        await ack()
        self.after(self._submit(client, click, pressed=int(click.action.rsplit(".", 1)[1])))

    async def _submit(
        self, client: AsyncWebClient, click: inbound.ButtonClick, pressed: int | None = None
    ) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        raw = read_state(lock.form, click.state)
        button = lock.form[pressed] if pressed is not None and pressed < len(lock.form) else {}
        if button.get("type") == "action" and button.get("name"):
            raw[button["name"]] = button.get("value")  # the stored form says what it sets
        decision = await self.engine.submit(lock.id, raw, click.user)
        if decision.outcome is Answer.INVALID:
            text, rendered = surfaces.lock_message(lock, decision.errors, raw, decision.approvers)
            where = lock.message or {"channel": click.channel, "ts": click.message_ts}
            await client.chat_update(
                channel=where["channel"], ts=where["ts"], text=text, blocks=rendered
            )
        if note := _note(decision):
            await self._whisper(client, click, note)

    async def cancel_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = _event(context, inbound.ButtonClick)
        await ack()
        self.after(self._cancel_lock(client, click))

    async def _cancel_lock(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        comment = read_state(lock.form, click.state).get("comment")  # kept with the rejection
        text = comment if isinstance(comment, str) and comment.strip() else None
        decision = await self.engine.reject(lock.id, click.user, text)
        if note := _note(decision, declined=True):
            await self._whisper(client, click, note)

    async def snooze_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = _event(context, inbound.ButtonClick)
        await ack()
        self.after(self._snooze(client, click))

    async def _snooze(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        snoozed = await self.engine.snooze(click.lock_id, click.user)
        note: str | None
        match snoozed.outcome:
            case Snooze.SNOOZED:
                note = None  # the thread says so, for everyone
            case Snooze.NOT_ALLOWED:
                note = messages.CANNOT_SNOOZE
            case Snooze.DECIDED:
                assert snoozed.lock is not None
                note = surfaces.already_decided(snoozed.lock)
            case Snooze.FORBIDDEN:
                note = messages.refusal(snoozed.allowed)
            case Snooze.GONE:
                note = messages.LOCK_GONE
            case _:
                assert_never(snoozed.outcome)
        if note:
            await self._whisper(client, click, note)

    async def open_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = _event(context, inbound.ButtonClick)
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

    async def lock_modal_submitted(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        event = _event(context, inbound.ViewSubmit)
        lock = await self.engine.lock(event.private_metadata)
        if lock is None:
            await ack(response_action="update", view=_notice(messages.LOCK_GONE))
            return
        raw = read_state(lock.form, event.state)
        decision = await self.engine.submit(lock.id, raw, event.user)
        view = {"title": messages.title(lock.name), "callback_id": blocks.LOCK_CALLBACK}
        view["private_metadata"] = lock.id
        match decision.outcome:
            case Answer.INVALID:
                await _refuse(ack, lock.form, decision.errors, raw, view)
            case Answer.FAILED:
                text = messages.LEASE_FAILED.format(error_id=decision.error_id)
                await _refuse(ack, lock.form, {GLOBAL: [text]}, raw, view)
            case Answer.ACCEPTED | Answer.REJECTED:
                await ack()
            case Answer.DECIDED | Answer.FORBIDDEN | Answer.COUNTED | Answer.REPEAT | Answer.GONE:
                await ack(response_action="update", view=_notice(_note(decision) or ""))
            case _:
                assert_never(decision.outcome)

    async def _open_lock(self, client: AsyncWebClient, click: inbound.ButtonClick) -> Call | None:
        """The clicked lock if it is still open; otherwise tell the clicker why not."""
        lock = await self.engine.lock(click.lock_id)
        if lock is None:
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


def _note(decision: Decision, *, declined: bool = False) -> str | None:
    """What the person who answered is told privately; None: the thread shows it."""
    match decision.outcome:
        case Answer.ACCEPTED | Answer.REJECTED:
            return None
        case Answer.INVALID:
            return surfaces.error_list(_said(decision.errors))
        case Answer.FAILED:
            return messages.LEASE_FAILED.format(error_id=decision.error_id)
        case Answer.FORBIDDEN:
            return messages.refusal(decision.allowed)
        case Answer.DECIDED:
            return surfaces.already_decided(decision.lock) if decision.lock else messages.LOCK_GONE
        case Answer.COUNTED | Answer.REPEAT:
            return surfaces.quorum_reply(decision, declined=declined)
        case Answer.GONE:
            return messages.LOCK_GONE
        case _:
            assert_never(decision.outcome)


def _said(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors as given, or a plain refusal when a handler refused without a word."""
    return errors if any(errors.values()) else {GLOBAL: [messages.FORM_REFUSED]}


async def _refuse(
    ack: AsyncAck, form: list[dict[str, Any]], wire: dict[str, list[str]], raw: Any, view: Any
) -> None:
    """Refuse a modal submission, showing why: under the fields (Slack's
    ``response_action: "errors"``), or, when no input can carry the messages (a form without
    inputs), the modal again with them on top."""
    wire = _said(wire)
    errors = blocks.modal_errors(wire, form=form)
    if errors:
        await ack(response_action="errors", errors=errors)
    else:
        await ack(response_action="update", view=blocks.modal_view(form, values=raw, errors=wire,
                                                                   **view))  # fmt: skip


def _cannot_start(spec: EntrySpec, failed: EntryFailed) -> str:
    return messages.cannot_start(spec.summary, failed.problem, failed.detail, failed.error_id)


def _notice(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": messages.NOTICE_TITLE},
        "close": {"type": "plain_text", "text": messages.CLOSE},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }
