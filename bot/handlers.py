"""The listeners: each Slack surface becomes one typed event (``bot.inbound``) and takes one
path to the engine's front door; its typed outcome becomes what the person sees.

Every handler acks first (Slack's 3 s), except where the answer must ride on the ack (modal
errors); Bolt answers when the listener returns, and the rest runs as a tracked task after it
(``after``), views first while the trigger is fresh. Nothing here decides: the engine does,
with compare-and-set, so double clicks and Slack's retries are harmless. Every call names the
workspace the request comes from (``Workspaces.of``): the engine shows, answers and cancels
nothing of another.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, assert_never

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.commands import (
    Command,
    distinct_prefixes,
    find_name,
    nearest,
    parse_command,
    prefill,
    suggestion,
)
from bot.render import blocks, history, messages, surfaces
from bot.render.mrkdwn import cut, literal
from bot.render.state import read_state
from bot.seal import Seal
from bot.workspaces import Workspaces
from flows import InputsError, Launch, Request
from flows.app import EntrySpec
from flows.engine import (
    SINGLE,
    Access,
    Answer,
    Call,
    Cancel,
    Decision,
    Engine,
    EntryFailed,
    Place,
    Snooze,
    Trail,
    Workspace,
    audit_document,
)
from flows.errors import GLOBAL

log = logging.getLogger("lockstep.slack")
E = TypeVar("E", bound=inbound.Inbound)
MAX_COMMAND = 2000  # characters of /flow text: longer is refused with a note
NOTE_MAX = 3000  # characters of a private note
FOLLOW_UPS = 16  # work after acks run at once; the rest wait their turn, first come first served
# seconds between looks for where a lock's message is, while it is being posted (or after a
# crash, until another process has found the message again): about 15 s in all
UNSHOWN_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 4.0, 5.0)


def event_of(context: AsyncBoltContext, kind: type[E]) -> E:
    """The request as the typed event ``bot.app.typed_inbound`` read it."""
    event = context.get("inbound")
    if not isinstance(event, kind):
        raise inbound.Malformed(f"expected a {kind.__name__}, got {type(event).__name__}")
    return event


class Handlers:
    def __init__(self, engine: Engine, seal: Seal, workspaces: Workspaces | None = None) -> None:
        """``seal``: signs what the bot puts in a modal's ``private_metadata``, so what comes
        back is what it put there. ``workspaces``: whose each request is (None: one
        workspace's, a single-token bot's)."""
        self.engine = engine
        self.seal = seal
        self.of: Callable[[inbound.Inbound], Workspace] = (
            workspaces.of if workspaces is not None else lambda _: SINGLE
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self._turns = asyncio.Semaphore(FOLLOW_UPS)

    def after(
        self,
        work: Coroutine[Any, Any, None],
        client: AsyncWebClient,
        who: inbound.SlashCommand | inbound.ButtonClick | inbound.Shortcut,
    ) -> None:
        """Run ``work`` after the ack has gone (Bolt answers Slack when the listener returns),
        at most ``FOLLOW_UPS`` at once, in the order they came: a burst of clicks never delays
        the next ack, which shares the event loop. If it fails for good, ``who`` gets a private
        note saying so, with an error id."""
        task = asyncio.create_task(self._guarded(work, client, who))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guarded(
        self,
        work: Coroutine[Any, Any, None],
        client: AsyncWebClient,
        who: inbound.SlashCommand | inbound.ButtonClick | inbound.Shortcut,
    ) -> None:
        try:
            async with self._turns:
                await work
        except asyncio.CancelledError:
            work.close()  # cancelled while waiting its turn: it never starts
            raise
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("handling a Slack request failed (error id %s)", error_id)
            channel = None if isinstance(who, inbound.Shortcut) else who.channel
            if channel is None:
                return
            thread = who.thread_ts if isinstance(who, inbound.ButtonClick) else None
            try:
                await client.chat_postEphemeral(
                    channel=channel, user=who.user, thread_ts=thread,
                    text=messages.FOLLOW_UP_FAILED.format(error_id=error_id),
                )  # fmt: skip
            except Exception:
                log.exception("could not tell %s that their request failed", who.user)

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
        event = event_of(context, inbound.SlashCommand)
        if len(event.text) > MAX_COMMAND:
            used = len(event.text)
            await ack(text=messages.TOO_LONG_COMMAND.format(limit=MAX_COMMAND, used=used))
            return
        cmd = parse_command(event.text)
        if cmd.problem:
            await ack(text=messages.BAD_ARGUMENT.format(text=literal(cmd.problem)))
            return
        match cmd.verb:
            case "list":
                await ack(text=self._list())
            case "start":
                await self._start(ack, client, event, cmd.target, cmd.values)
            case "status":
                await ack(text=await self._status(event, cmd.target))
            case "audit":
                await self._audit(ack, client, event, cmd.target)
            case "cancel":
                await ack(text=await self._cancel(event, cmd.target))
            case "help":
                await ack(text=messages.HELP)
            case "unknown":
                await ack(text=self._unknown(cmd))
            case _:
                assert_never(cmd.verb)

    def _list(self) -> str:
        entries = self.engine.registry.entries.values()
        lines = [
            f"• `{e.name}`: {literal(e.summary)}" for e in sorted(entries, key=lambda e: e.name)
        ]
        return "\n".join(lines) or messages.NO_FLOWS

    def _unknown(self, cmd: Command) -> str:
        """Not a subcommand: what it probably meant, else the help."""
        word = literal(cmd.target or "")
        meant = suggestion(cmd, self.engine.registry.entries)
        if meant is None:
            return messages.UNKNOWN_COMMAND.format(word=word) + "\n" + messages.HELP
        return messages.DID_YOU_MEAN.format(word=word, meant=literal(meant))

    async def _start(
        self,
        ack: AsyncAck,
        client: AsyncWebClient,
        event: inbound.SlashCommand,
        name: str | None,
        values: dict[str, str],
    ) -> None:
        flows = self.engine.registry.entries
        found = find_name(name, flows) if name else None
        if found is None:
            await ack(text=_no_such_flow(name, flows) if name else messages.START_USAGE)
            return
        spec = flows[found]
        if spec.model is not None:
            fields = [e.name for e in spec.model.inputs]
            matched = prefill(values, fields)
            values = matched.values
            if matched.unknown:  # said with the ack: the form opens all the same
                unknown = ", ".join(f"`{literal(k)}`" for k in matched.unknown)
                known = ", ".join(f"`{f}`" for f in fields) or messages.NO_FIELDS
                await ack(text=messages.UNKNOWN_KEYS.format(keys=unknown, fields=known))
                self.after(self._open_entry(client, event, spec, values), client, event)
                return
        await ack()
        self.after(self._open_entry(client, event, spec, values), client, event)

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
            else:  # a retried command (same trigger) starts nothing new
                eid = run_id("trigger", event.trigger_id)
                ws = self.of(event)
                await self.engine.launch(_summarised(launch), execution_id=eid, workspace=ws)
                return
            await client.chat_postEphemeral(channel=event.channel, user=event.user, text=text)
            return
        metadata = self.seal.close(json.dumps({"flow": spec.name, "channel": event.channel}))
        view = blocks.modal_view(
            spec.model.to_json(),
            title=spec.summary,
            callback_id=blocks.ENTRY_CALLBACK,
            private_metadata=metadata,
            close=messages.CANCEL_TEXT,
            values=values,
        )
        await client.views_open(trigger_id=event.trigger_id, view=view)

    async def _status(self, event: inbound.SlashCommand, name: str | None) -> str:
        user, ws = event.user, self.of(event)
        if not name:
            runs = await self.engine.runs(initiator=user, limit=10, workspace=ws)
            lines = [
                messages.RUN_LINE.format(
                    id=messages.short(r.id), flow=r.flow, status=messages.STATUS_WORDS[r.status]
                )
                for r in runs
            ]
            return "\n".join(lines) or messages.NO_RUNS
        found = await self._run_id(name, ws)
        if found.id is None:
            return found.problem
        trail = await self._visible(user, found.id, "status", ws)
        return history.status(*trail) if isinstance(trail, tuple) else trail

    async def _run_id(self, name: str, ws: Workspace) -> RunName:
        """The run ``name`` names: its id, or any prefix of it no other run's id shares (of
        the workspace's runs)."""
        found = await self.engine.find_runs(name.strip(), limit=5, workspace=ws)
        if name in found:
            return RunName(name)
        if len(found) == 1:
            return RunName(found[0])
        if not found:
            return RunName(None, messages.UNKNOWN_EXECUTION.format(id=literal(name)))
        ids = ", ".join(f"`{f}`" for f in distinct_prefixes(found, messages.SHORT_ID))
        return RunName(None, messages.AMBIGUOUS_RUN.format(id=literal(name), ids=ids))

    async def _visible(
        self, user: str, execution_id: str, action: str, ws: Workspace
    ) -> Trail | str:
        """A run's trail if ``user`` may read it, else what to tell them."""
        reading = await self.engine.read(execution_id, user, action, workspace=ws)
        match reading.outcome:
            case Access.SHOWN:
                assert reading.trail is not None
                return reading.trail
            case Access.FORBIDDEN:
                return messages.NOT_VISIBLE
            case Access.GONE:
                return messages.UNKNOWN_EXECUTION.format(id=messages.short(execution_id))
            case _:
                assert_never(reading.outcome)

    async def _audit(
        self,
        ack: AsyncAck,
        client: AsyncWebClient,
        event: inbound.SlashCommand,
        name: str | None,
    ) -> None:
        if not name:
            await ack(text=messages.AUDIT_USAGE)
            return
        ws = self.of(event)
        found = await self._run_id(name, ws)
        if found.id is None:
            await ack(text=found.problem)
            return
        trail = await self._visible(event.user, found.id, "audit", ws)
        if not isinstance(trail, tuple):
            await ack(text=trail)
            return
        await ack(text=messages.AUDIT_COMING.format(id=messages.short(found.id)))
        self.after(self._send_audit(client, event.user, trail), client, event)

    async def _send_audit(self, client: AsyncWebClient, user: str, trail: Trail) -> None:
        """Upload the trail as a JSON file into a direct message with the person who asked."""
        execution, _, events = trail
        content = json.dumps(audit_document(*trail), indent=2, ensure_ascii=False)
        dm = await client.conversations_open(users=user)
        await client.files_upload_v2(
            channel=dm["channel"]["id"],
            filename=f"lockstep-{_file_safe(execution.id)}.json",
            title=messages.AUDIT_TITLE.format(id=execution.id),
            content=content,
            initial_comment=messages.AUDIT_FILE.format(
                flow=execution.flow, id=messages.short(execution.id), count=len(events)
            ),
        )

    async def _cancel(self, event: inbound.SlashCommand, name: str | None) -> str:
        if not name:
            return messages.CANCEL_USAGE
        ws = self.of(event)
        found = await self._run_id(name, ws)
        if found.id is None:
            return found.problem
        cancelled = await self.engine.cancel(found.id, event.user, workspace=ws)
        execution = cancelled.execution
        short = messages.short(found.id)
        match cancelled.outcome:
            case Cancel.CANCELLED:
                return messages.CANCELLED.format(id=short)
            case Cancel.ENDED:
                assert execution is not None
                return messages.ALREADY_ENDED.format(id=short, status=execution.status)
            case Cancel.FORBIDDEN:
                assert execution is not None
                return messages.cannot_cancel(execution.initiator, cancelled.admins)
            case Cancel.GONE:
                return messages.UNKNOWN_EXECUTION.format(id=short)
            case _:
                assert_never(cancelled.outcome)

    async def entry_submitted(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        event = event_of(context, inbound.ViewSubmit)
        entry = self._entry(event.private_metadata)
        if entry is None:
            log.warning("refused an entry form whose metadata the bot did not seal")
            await ack(response_action="update", view=notice(messages.FORM_UNKNOWN))
            return
        spec, channel = entry
        metadata = event.private_metadata
        form = spec.model.to_json() if spec.model else []
        request = Request(spec.name, event.user, {"channel": channel})
        try:
            raw = read_state(form, event.state)
        except ValueError as exc:  # the state of another form: Slack would not send it
            log.warning("refused an entry form whose values are malformed: %s", exc)
            await ack(response_action="update", view=notice(messages.FORM_UNREADABLE))
            return
        try:
            launch = await self.engine.prepare(spec.name, raw, request)
        except InputsError as exc:
            view = {"title": spec.summary, "callback_id": blocks.ENTRY_CALLBACK}
            await _refuse(ack, form, exc.wire(), raw, view | {"private_metadata": metadata})
            return
        except EntryFailed as exc:
            await ack(response_action="update", view=notice(_cannot_start(spec, exc)))
            return
        # Stored before the modal closes, keyed by the view: the run's message is posted from
        # the store, and a retried or replayed submission starts nothing new.
        eid, ws = run_id("view", event.view_id), self.of(event)
        await self.engine.launch(_summarised(launch), execution_id=eid, workspace=ws)
        await ack()

    def _entry(self, metadata: str) -> tuple[EntrySpec, str] | None:
        """The flow and channel an entry form's sealed metadata names, if the bot sealed it
        and the flow is still loaded."""
        opened = self.seal.open(metadata)
        try:
            meta = json.loads(opened) if opened is not None else None
        except ValueError:
            return None
        if not isinstance(meta, dict):
            return None
        flow, channel = meta.get("flow"), meta.get("channel")
        if not isinstance(flow, str) or not isinstance(channel, str):
            return None
        spec = self.engine.registry.entries.get(flow)
        return (spec, channel) if spec is not None else None

    # locks ----------------------------------------------------------------------------------

    async def submit_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.after(self._submit(client, click), client, click)

    async def action_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A kodosumi ``Action`` button: Submit, with the button's name set to its value."""
        click = event_of(context, inbound.ButtonClick)
        await ack()
        pressed = int(click.action.rsplit(".", 1)[1])
        self.after(self._submit(client, click, pressed=pressed), client, click)

    async def _submit(
        self, client: AsyncWebClient, click: inbound.ButtonClick, pressed: int | None = None
    ) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        raw = await self._read(client, click, lock)
        if raw is None:
            return
        button = lock.form[pressed] if pressed is not None and pressed < len(lock.form) else {}
        if button.get("type") == "action" and button.get("name"):
            raw[button["name"]] = button.get("value")  # the stored form says what it sets
        ws = self.of(click)
        decision = await self.engine.submit(lock.id, raw, click.user, workspace=ws)
        if note := _note(decision):  # a refused answer also shows under the fields, for all
            await self._whisper(client, click, note)

    async def cancel_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.after(self._cancel_lock(client, click), client, click)

    async def _cancel_lock(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        raw = await self._read(client, click, lock)
        if raw is None:
            return
        comment = raw.get("comment")  # kept with the rejection
        text = comment if isinstance(comment, str) and comment.strip() else None
        ws = self.of(click)
        decision = await self.engine.reject(lock.id, click.user, text, workspace=ws)
        if note := _note(decision, declined=True):
            await self._whisper(client, click, note)

    async def snooze_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.after(self._snooze(client, click), client, click)

    async def _snooze(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        if not await self._on_its_message(client, click):
            return
        ws = self.of(click)
        snoozed = await self.engine.snooze(click.lock_id, click.user, workspace=ws)
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
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.after(self._open_modal(client, click), client, click)

    async def _open_modal(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        lock = await self._open_lock(client, click)
        if lock is not None:
            await client.views_open(trigger_id=click.trigger_id, view=self.lock_form(lock))

    def lock_form(self, lock: Call) -> dict[str, Any]:
        """The lock's form as a modal; its submission comes back to ``lock_modal_submitted``
        (the lock's id sealed in its metadata)."""
        return blocks.modal_view(
            lock.form,
            title=messages.title(lock.name),
            callback_id=blocks.LOCK_CALLBACK,
            private_metadata=self.seal.close(lock.id),
        )

    async def lock_modal_submitted(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        event = event_of(context, inbound.ViewSubmit)
        lock_id = self.seal.open(event.private_metadata)
        if lock_id is None:
            log.warning("refused a lock form whose metadata the bot did not seal")
            await ack(response_action="update", view=notice(messages.FORM_UNKNOWN))
            return
        ws = self.of(event)
        lock = await self.engine.lock(lock_id, ws)
        if lock is None:
            await ack(response_action="update", view=notice(messages.LOCK_GONE))
            return
        try:
            raw = read_state(lock.form, event.state)
        except ValueError as exc:
            log.warning("refused a lock form whose values are malformed: %s", exc)
            await ack(response_action="update", view=notice(messages.FORM_UNREADABLE))
            return
        decision = await self.engine.submit(lock.id, raw, event.user, workspace=ws)
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
                await ack(response_action="update", view=notice(_note(decision) or ""))
            case _:
                assert_never(decision.outcome)

    async def _on_its_message(self, client: AsyncWebClient, click: inbound.ButtonClick) -> bool:
        """Is the clicked message the lock's own? A click acts only on the lock its message
        shows: a button value naming another lock (of this run or another) changes nothing."""
        if click.channel is None or click.message_ts is None:
            log.warning("refused a click on %s from no message", click.lock_id)
            return False
        where = {"channel": click.channel, "ts": click.message_ts}
        ws = self.of(click)
        place = await self.engine.shows(click.lock_id, where, ws)
        for pause in UNSHOWN_PAUSES:  # posted, its place not recorded yet: a quick click
            if place is not Place.UNSHOWN:
                break
            await asyncio.sleep(pause)
            place = await self.engine.shows(click.lock_id, where, ws)
        match place:
            case Place.HERE:
                return True
            case Place.ELSEWHERE:
                log.warning("refused a click naming %s from another message", click.lock_id)
                note = messages.NOT_THIS_MESSAGE
            case Place.UNSHOWN:
                note = messages.NOT_SHOWN_YET
            case Place.GONE:
                note = messages.LOCK_GONE
            case _:
                assert_never(place)
        await self._whisper(client, click, note)
        return False

    async def _read(
        self, client: AsyncWebClient, click: inbound.ButtonClick, lock: Call
    ) -> dict[str, Any] | None:
        """The clicked form's values, or None (and a note) if they cannot be read."""
        try:
            return read_state(lock.form, click.state)
        except ValueError as exc:
            log.warning("refused a click whose form values are malformed: %s", exc)
            await self._whisper(client, click, messages.FORM_UNREADABLE)
            return None

    async def _open_lock(self, client: AsyncWebClient, click: inbound.ButtonClick) -> Call | None:
        """The clicked lock if it is its message's and still open; otherwise tell the clicker
        why not."""
        if not await self._on_its_message(client, click):
            return None
        lock = await self.engine.lock(click.lock_id, self.of(click))
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
                channel=click.channel, user=click.user, text=cut(text, NOTE_MAX),
                thread_ts=click.thread_ts,
            )  # fmt: skip


def run_id(kind: str, key: str) -> str:
    """A run's id derived from what started it, so the same start twice is one run."""
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]


def _note(decision: Decision, *, declined: bool = False) -> str | None:
    """What the person who answered is told privately; None: the thread shows it."""
    match decision.outcome:
        case Answer.ACCEPTED | Answer.REJECTED:
            return None
        case Answer.INVALID:
            form = decision.lock.form if decision.lock else None
            return surfaces.error_list(_said(decision.errors), form)
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


@dataclass(frozen=True)
class RunName:
    """What a name a person gave for a run came to: the run's id, or what to tell them."""

    id: str | None
    problem: str = ""


def _no_such_flow(name: str, flows: Iterable[str]) -> str:
    meant = nearest(name, flows)
    text = messages.UNKNOWN_FLOW.format(name=literal(name))
    return text + (" " + messages.MEANT_FLOW.format(name=meant) if meant else "")


def _summarised(launch: Launch) -> Launch:
    """The launch with its own summary (kodosumi's ``Launch(summary=...)``) in the run's
    context, where the run's message shows it."""
    if not launch.summary:
        return launch
    context = {**launch.request.context, "summary": launch.summary}
    return replace(launch, request=replace(launch.request, context=context))


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


def _file_safe(name: str) -> str:
    """A run's id as part of a file name: letters, digits, dots, dashes and underscores."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]


def notice(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": messages.NOTICE_TITLE},
        "close": {"type": "plain_text", "text": messages.CLOSE},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }
