"""The App Home and starting a flow from anywhere in Slack.

A person's Home lists what waits for them (every open lock they may decide, across the
channels of its workspace, with its deadline, an Answer button and a link to its thread), their
recent runs, and a "Start a flow" button. It is an outbox row of one workspace
(``outbox.home_key``), made the first time they open the tab and bumped with every change of a
run or a lock; ``HomeReader`` renders it from the store when it is delivered, and a Home that
reads as it did is not published again (Slack's rate limits).

The Answer button opens the lock's form as a modal: the same modal, submitted through the same
path to the engine (validated, authorised, audited), as the thread's "Open form". The "Start a
flow" button and the global shortcut open a chooser (which flow, which channel) whose
submission becomes the flow's entry form, as ``/flow start`` opens it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.handlers import Handlers
from bot.listening import event_of, notice, run_id, standing
from bot.permalinks import Permalinks
from bot.render import home, messages, surfaces
from flows import InputsError, Launch, Request
from flows.engine import Engine, EntryFailed, Execution, NoAnswer, Workspace

log = logging.getLogger("lockstep.slack")
_CHANNEL = re.compile(r"[CGD][A-Z0-9]{1,40}")


def _summary(engine: Engine, execution: Execution) -> str:
    own = execution.context.get("summary")
    if isinstance(own, str) and own:
        return own
    spec = engine.registry.entries.get(execution.flow)
    return spec.summary if spec and spec.summary else execution.flow


class HomeReader:
    """Renders a person's Home from the store (``SlackNotifier.homes``)."""

    def __init__(self, engine: Engine, links: Permalinks) -> None:
        self.engine = engine
        self.links = links

    async def __call__(self, user: str, workspace: Workspace) -> dict[str, Any]:
        engine = self.engine
        found = await engine.inbox(user, workspace, home.MAX_WAITING + 1)
        waiting = [
            home.Waiting(
                lock_id=lock.id,
                title=messages.title(lock.name),
                summary=_summary(engine, execution),
                run_id=execution.id,
                deadline=lock.deadline,
                link=await self.links.of(await engine.where(execution.id)),
                initiator=execution.initiator,
            )
            for execution, lock in found
        ]
        runs = [
            home.RecentRun(
                run_id=run.id,
                summary=_summary(engine, run),
                state=await standing(engine, run),
                link=await self.links.of(await engine.where(run.id)),
            )
            for run in await engine.runs(initiator=user, limit=home.MAX_RUNS, workspace=workspace)
        ]
        return home.home_view(waiting, runs)


class HomeHandlers:
    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers
        self.engine = handlers.engine
        self.seal = handlers.seal

    def register(self, app: AsyncApp) -> None:
        app.event(inbound.HOME_OPENED)(self.opened)
        app.action(home.ANSWER_ACTION)(self.answer_clicked)
        app.action(home.START_ACTION)(self.start_clicked)
        app.shortcut(home.START_SHORTCUT)(self.shortcut)
        app.view(home.CHOOSE_CALLBACK)(self.chosen)

    async def opened(self, context: AsyncBoltContext) -> None:
        """The Home tab opened: from now on it is kept current; shown now."""
        event = context.get("inbound")
        if isinstance(event, inbound.HomeOpened) and event.tab == "home":
            await self.engine.open_home(event.user, self.handlers.of(event))

    # answering from the Home ------------------------------------------------------------------

    async def answer_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.handlers.after(self._answer(client, click), client, click)

    async def _answer(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        """The lock's form as a modal, as the thread's "Open form" opens it; its submission is
        checked by the engine like any answer."""
        lock = await self.engine.lock(click.lock_id, self.handlers.of(click))
        if lock is None:
            view = notice(messages.LOCK_GONE)
        elif not lock.open:
            approvers = await self.engine.approved_by(lock)
            view = notice(surfaces.already_decided(lock, approvers, click.user))
        else:
            try:
                mine = await self.engine.may_decide(lock, click.user)
                view = self.handlers.lock_form(lock) if mine else notice(messages.NOT_YOURS)
            except NoAnswer:  # a Home has no channel for a private note: the modal says it
                view = notice(messages.NO_ANSWER)
        await client.views_open(trigger_id=click.trigger_id, view=view)

    # starting a flow --------------------------------------------------------------------------

    async def start_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.handlers.after(self._choose(client, click.trigger_id), client, click)

    async def shortcut(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        event = event_of(context, inbound.Shortcut)
        await ack()
        self.handlers.after(self._choose(client, event.trigger_id), client, event)

    async def _choose(self, client: AsyncWebClient, trigger_id: str) -> None:
        flows = [(e.name, e.summary) for e in self.engine.registry.entries.values()]
        await client.views_open(trigger_id=trigger_id, view=home.chooser_view(flows))

    async def chosen(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        """The chooser's Next: the flow's entry form in its place (or, for a flow without
        one, the run started at once)."""
        event = event_of(context, inbound.ViewSubmit)
        flow = _picked(event.state, home.CHOOSE_FLOW, "selected_option")
        channel = _picked(event.state, home.CHOOSE_CHANNEL, "selected_conversation")
        entries = self.engine.registry.entries
        name = next((n for n in entries if home.flow_value(n) == flow), None)
        spec = entries[name] if name is not None else None
        if spec is None:
            await ack(response_action="errors", errors={home.CHOOSE_FLOW: messages.CHOSEN_UNKNOWN})
            return
        if channel is None or not _CHANNEL.fullmatch(channel):
            errors = {home.CHOOSE_CHANNEL: messages.CHOSEN_NO_CHANNEL}
            await ack(response_action="errors", errors=errors)
            return
        workspace = self.handlers.of(event)
        try:
            member = await self.engine.sees(event.user, {"channel": channel}, workspace)
        except NoAnswer:
            await ack(response_action="errors", errors={home.CHOOSE_CHANNEL: messages.NO_ANSWER})
            return
        if not member:
            unseen = self.handlers.unseen(channel, workspace)
            text = messages.CHOSEN_UNSEEN if unseen else messages.CHOSEN_NOT_MEMBER
            errors = {home.CHOOSE_CHANNEL: text}
            await ack(response_action="errors", errors=errors)
            return
        if spec.model is not None:
            view = self.handlers.entry_form(spec, channel, workspace)
            await ack(response_action="update", view=view)
            return
        request = Request(spec.name, event.user, {"channel": channel})
        try:
            launch = await self.engine.prepare(spec.name, {}, request)
        except EntryFailed as exc:
            text = messages.cannot_start(spec.summary, exc.problem, exc.detail, exc.error_id)
            await ack(response_action="update", view=notice(text))
            return
        except InputsError as exc:
            await ack(response_action="update", view=notice(surfaces.error_list(exc.wire())))
            return
        if launch.summary:  # kodosumi's Launch(summary=...): the run's message shows it
            own = {**launch.request.context, "summary": launch.summary}
            launch = replace(launch, request=replace(launch.request, context=own))
        started: Launch = launch
        await self.engine.launch(
            started, execution_id=run_id("view", event.view_id, event), workspace=workspace
        )
        await ack()


def _picked(state: dict[str, dict[str, Any]], block: str, key: str) -> str | None:
    """What the chooser's ``block`` holds: an option's value, or a conversation's id."""
    value = (state.get(block) or {}).get(block, {}).get(key)
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, str) and value else None
