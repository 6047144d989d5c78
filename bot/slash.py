"""``/flow`` and the entry form: list, start (the entry form opens as a modal; a flow without
one starts at once), status, audit and cancel, each with a reply only the person sees, and the
entry form's submission, validated before the modal closes."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, replace
from typing import Any, assert_never

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.commands import (
    Command,
    distinct_prefixes,
    find_name,
    no_such_flow,
    parse_command,
    prefill_form,
    suggestion,
)
from bot.listening import Listener, event_of, notice, refuse, run_id, said, standing
from bot.render import blocks, history, messages, surfaces
from bot.render.mrkdwn import literal
from bot.render.state import read_state
from flows import InputsError, Launch, Request
from flows.app import EntrySpec
from flows.engine import Access, Cancel, EntryFailed, NoAnswer, Trail, Workspace, audit_document
from flows.errors import GLOBAL

log = logging.getLogger("lockstep.slack")
MAX_COMMAND = 2000  # characters of /flow text: longer is refused with a note
PREFIX_SCANNED, PREFIX_LISTED = 20, 5  # runs a prefix is sought among; listed when several


class SlashCommands(Listener):
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
        try:
            await self._answer(ack, client, event, cmd)
        except NoAnswer:  # who may see or cancel the run is unknown for now
            await ack(text=messages.NO_ANSWER)

    async def _answer(
        self, ack: AsyncAck, client: AsyncWebClient, event: inbound.SlashCommand, cmd: Command
    ) -> None:
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
            await ack(text=no_such_flow(name, flows) if name else messages.START_USAGE)
            return
        spec = flows[found]
        if spec.model is None:  # the command is the submission: stored before it is answered
            note = await self._start_at_once(event, spec, values)
            await (ack() if note is None else ack(text=note))
            return
        assert spec.model is not None
        fields = [e.name for e in spec.model.inputs]
        values, notes = prefill_form(values, fields, spec.model.to_json())
        await (ack(text="\n".join(notes)) if notes else ack())  # the form opens all the same
        self.after(self._open_entry(client, event, spec, values), client, event)

    async def _start_at_once(
        self, event: inbound.SlashCommand, spec: EntrySpec, values: dict[str, str]
    ) -> str | None:
        """Start a flow without an entry form, as the entry form's submission and the Home's
        chooser do: before the ack, since Slack sends an answered command no more. What to tell
        its starter; None: the run's message says it."""
        ws = self.of(event)
        # as the entry form and the chooser ask: the run goes where its starter is
        if not await self.engine.sees(event.user, {"channel": event.channel}, ws):
            unseen = self.unseen(event.channel, ws)
            return messages.START_UNSEEN if unseen else messages.START_NOT_MEMBER
        request = Request(spec.name, event.user, {"channel": event.channel})
        try:
            launch = await self.engine.prepare(spec.name, values, request)
        except EntryFailed as exc:
            return _cannot_start(spec, exc)
        except InputsError as exc:
            return surfaces.error_list(said(exc.wire()))
        eid = run_id("trigger", event.trigger_id, event)  # a retried command starts nothing new
        await self.engine.launch(_summarised(launch), execution_id=eid, workspace=ws)
        return None

    async def _open_entry(
        self,
        client: AsyncWebClient,
        event: inbound.SlashCommand,
        spec: EntrySpec,
        values: dict[str, str],
    ) -> None:
        ws = self.of(event)
        view = self.entry_form(spec, event.channel, ws, values)
        opened = await client.views_open(trigger_id=event.trigger_id, view=view)
        # Who is in the channel is asked now, while they fill the form in: the submission asks
        # again (they may leave meanwhile), answered then from the directory's cache. A run
        # that could not start there is said at once, not once the form is filled in.
        with contextlib.suppress(NoAnswer):
            if not await self.engine.sees(event.user, {"channel": event.channel}, ws):
                unseen = self.unseen(event.channel, ws)
                text = messages.START_UNSEEN if unseen else messages.START_NOT_MEMBER
                shown = opened["view"]
                with contextlib.suppress(SlackApiError):  # closed meanwhile: nothing to say
                    await client.views_update(
                        view_id=shown["id"], hash=shown["hash"], view=notice(text)
                    )

    async def _status(self, event: inbound.SlashCommand, name: str | None) -> str:
        user, ws = event.user, self.of(event)
        if not name:
            runs = await self.engine.runs(initiator=user, limit=10, workspace=ws)
            lines = [  # how each ended, as the Home says: "rejected", not the store's "cancelled"
                messages.RUN_LINE.format(
                    id=messages.short(r.id), flow=r.flow, status=await standing(self.engine, r)
                )
                for r in runs
            ]
            return "\n".join(lines) or messages.NO_RUNS
        found = await self._run_id(name, ws, user)
        if found.id is None:
            return found.problem
        trail = await self._visible(user, found.id, "status", ws)
        return history.status(*trail) if isinstance(trail, tuple) else trail

    async def _run_id(self, name: str, ws: Workspace, user: str) -> RunName:
        """The run ``name`` names: its id, or any prefix of it no other run's id shares (of
        the workspace's runs; where it starts several, of those ``user`` may read: the others'
        ids are not theirs to see, however many come first)."""
        found = await self.engine.find_runs(name.strip(), limit=PREFIX_SCANNED, workspace=ws)
        if name in found:
            return RunName(name)
        if len(found) > 1:
            found = [f for f in found if await self.engine.may_read(f, user, ws)]
            if not found:
                return RunName(None, messages.NOT_VISIBLE)
        if len(found) == 1:
            return RunName(found[0])
        if not found:
            return RunName(None, messages.UNKNOWN_EXECUTION.format(id=literal(name)))
        shown = distinct_prefixes(found, messages.SHORT_ID)[:PREFIX_LISTED]
        ids = ", ".join(f"`{f}`" for f in shown)
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
        found = await self._run_id(name, ws, event.user)
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
        found = await self._run_id(name, ws, event.user)
        if found.id is None:
            return found.problem
        cancelled = await self.engine.cancel(found.id, event.user, workspace=ws)
        execution = cancelled.execution
        short = messages.short(found.id)
        refused = cancelled.outcome in (Cancel.FORBIDDEN, Cancel.ENDED)
        if refused and not await self.engine.may_read(found.id, event.user, ws):
            return messages.NOT_VISIBLE  # as /flow status: not who started it, nor how it ended
        match cancelled.outcome:
            case Cancel.CANCELLED:
                return messages.CANCELLED.format(id=short)
            case Cancel.ENDED:  # as /flow status says it ended, not the store's word for it
                trail = await self._visible(event.user, found.id, "cancel", ws)
                ended = history.standing(*trail) if isinstance(trail, tuple) else trail
                return messages.ALREADY_ENDED.format(id=short, status=ended)
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
        entry = self._entry(event.private_metadata, self.of(event))
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
        view = {"title": spec.summary, "callback_id": blocks.ENTRY_CALLBACK}
        view |= {"private_metadata": metadata}
        ws = self.of(event)
        try:  # asked again as the run starts: they may have left the channel since
            member = await self.engine.sees(event.user, {"channel": channel}, ws)
        except NoAnswer:
            await refuse(ack, form, {GLOBAL: [messages.NO_ANSWER]}, raw, view)
            return
        if not member:
            unseen = self.unseen(channel, ws)
            text = messages.ENTRY_UNSEEN if unseen else messages.ENTRY_NOT_MEMBER
            await ack(response_action="update", view=notice(text))
            return
        try:
            launch = await self.engine.prepare(spec.name, raw, request)
        except InputsError as exc:
            await refuse(ack, form, exc.wire(), raw, view)
            return
        except EntryFailed as exc:
            await ack(response_action="update", view=notice(_cannot_start(spec, exc)))
            return
        # Stored before the modal closes, keyed by the view: the run's message is posted from
        # the store, and a retried or replayed submission starts nothing new.
        eid = run_id("view", event.view_id, event)
        await self.engine.launch(_summarised(launch), execution_id=eid, workspace=ws)
        await ack()

    def entry_form(
        self,
        spec: EntrySpec,
        channel: str,
        workspace: Workspace,
        values: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The flow's entry form as a modal, to start a run in ``channel`` of ``workspace``:
        its submission comes back to ``entry_submitted`` (flow, channel and workspace sealed in
        its metadata)."""
        assert spec.model is not None
        opened = {"flow": spec.name, "channel": channel, **_workspace_keys(workspace)}
        metadata = self.seal.close(json.dumps(opened))
        return blocks.modal_view(
            spec.model.to_json(),
            title=spec.summary,
            callback_id=blocks.ENTRY_CALLBACK,
            private_metadata=metadata,
            close=messages.CANCEL_TEXT,
            values=values,
        )

    def _entry(self, metadata: str, workspace: Workspace) -> tuple[EntrySpec, str] | None:
        """The flow and channel an entry form's sealed metadata names, if the bot sealed it,
        in this ``workspace`` (a form opened in another is not one it opened here), and the
        flow is still loaded."""
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
        opened_in = {k: meta.get(k, "") for k in _workspace_keys(workspace)}
        if opened_in != _workspace_keys(workspace):
            return None
        spec = self.engine.registry.entries.get(flow)
        return (spec, channel) if spec is not None else None


def _workspace_keys(workspace: Workspace) -> dict[str, str]:
    """The workspace an entry form is opened in, as its sealed metadata names it (a form
    sealed before workspaces were named in it names none: the single workspace's)."""
    return {"team": workspace.team_id, "enterprise": workspace.enterprise_id}


@dataclass(frozen=True)
class RunName:
    """What a name a person gave for a run came to: the run's id, or what to tell them."""

    id: str | None
    problem: str = ""


def _summarised(launch: Launch) -> Launch:
    """The launch with its own summary (kodosumi's ``Launch(summary=...)``) in the run's
    context, where the run's message shows it."""
    if not launch.summary:
        return launch
    context = {**launch.request.context, "summary": launch.summary}
    return replace(launch, request=replace(launch.request, context=context))


def _cannot_start(spec: EntrySpec, failed: EntryFailed) -> str:
    return messages.cannot_start(spec.summary, failed.problem, failed.detail, failed.error_id)


def _file_safe(name: str) -> str:
    """A run's id as part of a file name: letters, digits, dots, dashes and underscores."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]
