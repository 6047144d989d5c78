"""A lock's buttons and its modal: Submit (and kodosumi's action buttons), Cancel, Snooze and
Open. A click acts only on the lock its message shows, and only while the lock is open; each
answer goes to the engine, which checks who may decide; whatever went wrong is told to the
clicker alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, assert_never

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.held_clicks import Does, HeldClicks, Replayed
from bot.listening import event_of, notice, refuse, said, whisper
from bot.render import blocks, messages, surfaces
from bot.render.mrkdwn import cut
from bot.render.state import read_state
from flows.engine import Answer, Call, Decision, NoAnswer, Place, Snooze
from flows.errors import GLOBAL

log = logging.getLogger("lockstep.slack")
NOTE_MAX = 3000  # characters of a private note
# seconds between looks for where a lock's message is, while it is being posted (or after a
# crash, until another process has found the message again): about 15 s in all
UNSHOWN_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 4.0, 5.0)


Work = Callable[[AsyncWebClient, inbound.ButtonClick], Coroutine[Any, Any, None]]


class LockListeners(HeldClicks):
    async def _acked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient, work: Work
    ) -> None:
        """Ack the click at once; ``work`` on it runs after (``Listener.after``)."""
        click = event_of(context, inbound.ButtonClick)
        await ack()
        self.after(work(client, click), client, click)

    def _work(
        self, does: Does, client: AsyncWebClient, click: inbound.ButtonClick, pressed: int | None
    ) -> Coroutine[Any, Any, None]:
        match does:
            case "submit":
                return self._submit(client, click, pressed=pressed)
            case "cancel":
                return self._cancel_lock(client, click)
            case "snooze":
                return self._snooze(client, click)
            case _:
                assert_never(does)

    async def submit_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await self._decided(ack, context, client, "submit")

    async def action_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A kodosumi ``Action`` button: Submit, with the button's name set to its value."""
        click = event_of(context, inbound.ButtonClick)
        pressed = int(click.action.rsplit(".", 1)[1])
        await self._decided(ack, context, client, "submit", pressed)

    async def _submit(
        self, client: AsyncWebClient, click: inbound.ButtonClick, pressed: int | None = None
    ) -> None:
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        raw = await self._read(client, click, lock)
        if raw is None:
            return
        if pressed is not None:  # the stored form says what the button sets
            button = lock.form[pressed] if pressed < len(lock.form) else {}
            if button.get("type") != "action" or not button.get("name"):
                log.warning("refused a click on %s naming no Action of its form", lock.id)
                await self._whisper(client, click, messages.NOT_THIS_MESSAGE)
                return
            raw[button["name"]] = button.get("value")
        ws = self.of(click)
        decision = await self.engine.submit(lock.id, raw, click.user, workspace=ws)
        # a refused answer also shows under the fields, for all
        if note := await self._told(decision, click.user):
            await self._whisper(client, click, note)

    async def cancel_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await self._decided(ack, context, client, "cancel")

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
        if note := await self._told(decision, click.user, declined=True):
            await self._whisper(client, click, note)

    async def snooze_clicked(
        self, ack: AsyncAck, context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await self._decided(ack, context, client, "snooze")

    async def _snooze(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        if not await self._on_its_message(client, click):
            return
        ws = self.of(click)
        snoozed = await self.engine.snooze(
            click.lock_id, click.user, workspace=ws, request=click.trigger_id
        )
        note: str | None
        match snoozed.outcome:
            case Snooze.SNOOZED:
                note = None  # the thread says so, for everyone
            case Snooze.NOT_ALLOWED:
                note = messages.CANNOT_SNOOZE
            case Snooze.DECIDED:
                assert snoozed.lock is not None
                note = await self._already(snoozed.lock, click.user)
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
        await self._acked(ack, context, client, self._open_modal)

    async def _open_modal(self, client: AsyncWebClient, click: inbound.ButtonClick) -> None:
        """The lock's form as a modal, for someone who may answer it; anyone else is told so at
        once. When Slack does not say who may (``NoAnswer``), the modal opens: its submission
        is checked like any answer."""
        lock = await self._open_lock(client, click)
        if lock is None:
            return
        try:
            mine = await self.engine.may_decide(lock, click.user)
        except NoAnswer:
            mine = True
        if not mine:
            await self._whisper(client, click, messages.NOT_YOURS)
            return
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
        view = {"title": messages.title(lock.name), "callback_id": blocks.LOCK_CALLBACK}
        view["private_metadata"] = event.private_metadata  # sealed: the form may come back
        try:
            decision = await self.engine.submit(lock.id, raw, event.user, workspace=ws)
        except NoAnswer:  # who may answer is unknown for now: nothing was decided
            await refuse(ack, lock.form, {GLOBAL: [messages.NO_ANSWER]}, raw, view)
            return
        match decision.outcome:
            case Answer.INVALID:
                await refuse(ack, lock.form, decision.errors, raw, view)
            case Answer.FAILED:
                text = messages.LEASE_FAILED.format(error_id=decision.error_id)
                await refuse(ack, lock.form, {GLOBAL: [text]}, raw, view)
            case Answer.ACCEPTED | Answer.REJECTED:
                await ack()
            case Answer.DECIDED | Answer.FORBIDDEN | Answer.COUNTED | Answer.REPEAT | Answer.GONE:
                await ack(
                    response_action="update",
                    view=notice(await self._told(decision, event.user) or ""),
                )
            case _:
                assert_never(decision.outcome)

    async def _on_its_message(self, client: AsyncWebClient, click: inbound.ButtonClick) -> bool:
        """Is the clicked message the lock's own? A click acts only on the lock its message
        shows: a button value naming another lock (of this run or another) changes nothing."""
        if click.channel is None or click.message_ts is None:
            log.warning("refused a click on %s from no message", click.lock_id)
            await self._whisper(client, click, messages.NOT_THIS_MESSAGE)
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

    async def _told(self, decision: Decision, user: str, *, declined: bool = False) -> str | None:
        """``_note``, with everyone who approved a quorum lock named to a late answer."""
        if decision.outcome is Answer.DECIDED and decision.lock is not None:
            return await self._already(decision.lock, user)
        return _note(decision, declined=declined)

    async def _already(self, lock: Call, user: str) -> str:
        """What ``user``, answering ``lock`` after its decision, is told."""
        return surfaces.already_decided(lock, await self.engine.approved_by(lock), user)

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
            await self._whisper(client, click, await self._already(lock, click.user))
            return None
        return lock

    async def _whisper(self, client: AsyncWebClient, click: inbound.ButtonClick, text: str) -> None:
        """A note only the clicker sees (``listening.whisper``). A click handled again after
        its process died tells nobody: the thread shows what came of it."""
        if isinstance(click, Replayed):
            return
        await whisper(client, click, cut(text, NOTE_MAX))


def _note(decision: Decision, *, declined: bool = False) -> str | None:
    """What the person who answered is told privately; None: the thread shows it."""
    match decision.outcome:
        case Answer.ACCEPTED | Answer.REJECTED:
            return None
        case Answer.INVALID:
            form = decision.lock.form if decision.lock else None
            return surfaces.error_list(said(decision.errors), form)
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
