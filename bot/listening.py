"""What every listener shares: the request as one typed event, the work that runs after the
ack (``Listener.after``: bounded, in order, a private note if it fails), the modal that says
why not (``notice``), a form refused under its fields (``refuse``), and run ids made from what
started them (``run_id``)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import fields, inbound
from bot.directory import ARRIVED
from bot.render import blocks, history, messages
from bot.seal import Seal
from bot.workspaces import Workspaces, error_code, failure
from flows.engine import SINGLE, Engine, Execution, NoAnswer, Workspace
from flows.errors import GLOBAL

log = logging.getLogger("lockstep.slack")
E = TypeVar("E", bound=inbound.Inbound)
FOLLOW_UPS = 16  # work after acks run at once; the rest wait their turn, first come first served
# Slack's answers that say the trouble is on its side (else an error answer is Lockstep's
# mistake, a bug to report with an error id)
# (a trigger that expired before the modal opened, 3 s after the click, is time running out:
# clicking again works)
SLACK_SIDE = frozenset({"internal_error", "fatal_error", "service_unavailable",
                        "request_timeout", "ratelimited", "team_is_restricted",
                        "expired_trigger_id"})  # fmt: skip
# Slack's answers to a view opened with a trigger it will not take: used already (Slack sending
# a request again whose ack came late, a request replayed) or never given (made up). The
# request's doing, not a bug: a first request opened its view already, or there is no one to tell
SPENT_TRIGGER = frozenset({"exchanged_trigger_id", "invalid_trigger_id"})
# Slack's answers to a private note where the person asked (or a direct message, as the audit
# file goes) that say it cannot go there: a conversation the bot is not in, or they are not (a
# request naming another channel), one archived, a thread that is none (a request naming
# another message), a person Slack does not know (a request naming someone made up)
NOT_THERE = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel",
                       "is_archived", "cannot_reply_to_message", "user_not_found",
                       "user_disabled", "cannot_dm_bot", "messages_tab_disabled"})  # fmt: skip


# Slack's answers to a private note for someone not in the channel they clicked in
NOT_A_MEMBER = frozenset({"user_not_in_channel"})


def slack_trouble(exc: BaseException) -> bool:
    """Did a Web API call fail on Slack's side (no answer in time, a dropped connection, a 5xx
    or a rate limit, or an answer saying so), not because Lockstep asked for something wrong?"""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        return status >= 500 or status == 429 or error_code(exc) in SLACK_SIDE
    return isinstance(exc, aiohttp.ClientError | TimeoutError | SlackClientError)


def not_there(exc: BaseException) -> bool:
    """Did Slack refuse a note because the person cannot be told where they asked?"""
    return isinstance(exc, SlackApiError) and error_code(exc) in NOT_THERE


def arrived(context: AsyncBoltContext) -> float | None:
    """When the request arrived (``time.monotonic()``), if its adapter said."""
    when = context.get(ARRIVED)
    return when if isinstance(when, float) else None


def event_of(context: AsyncBoltContext, kind: type[E]) -> E:
    """The request as the typed event ``bot.app.typed_inbound`` read it."""
    event = context.get("inbound")
    if not isinstance(event, kind):
        raise fields.Malformed(f"expected a {kind.__name__}, got {type(event).__name__}")
    return event


class Listener:
    """The base of every listener class: the engine, the seal, whose each request is, and the
    work after the ack."""

    def __init__(
        self,
        engine: Engine,
        seal: Seal,
        workspaces: Workspaces | None = None,
        unseen: Callable[[str, Workspace], bool] | None = None,
    ) -> None:
        """``seal``: signs what the bot puts in a modal's ``private_metadata``, so what comes
        back is what it put there. ``workspaces``: whose each request is (None: one
        workspace's, a single-token bot's). ``unseen``: is a channel someone is not found in
        one the bot is not let into (``SlackDirectory.unseen``; None: never)?"""
        self.engine = engine
        self.seal = seal
        self.unseen: Callable[[str, Workspace], bool] = unseen or (lambda _c, _w: False)
        self.of: Callable[[inbound.Inbound], Workspace] = (
            workspaces.of if workspaces is not None else lambda _: SINGLE
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self.handling: set[str] = set()  # the keys of held clicks under way here
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
        self._started(work, client, who)

    def _started(
        self,
        work: Coroutine[Any, Any, None],
        client: AsyncWebClient,
        who: inbound.SlashCommand | inbound.ButtonClick | inbound.Shortcut,
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(self._guarded(work, client, who))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

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
        except NoAnswer:  # who may do it is unknown for now (the directory logged why)
            await self._tell(client, who, messages.NO_ANSWER)
        except Exception as exc:
            code = error_code(exc) if isinstance(exc, SlackApiError) else None
            if code in SPENT_TRIGGER:
                log.warning("Slack opened no view for %s's request: %s", who.user, code)
                return
            if code in NOT_THERE:  # nowhere to tell them that either
                log.warning("could not tell %s where they asked: %s", who.user, code)
                return
            if slack_trouble(exc):  # a call of the reply failed on Slack's side: no bug here
                log.warning("a reply to %s's request did not reach Slack: %s", who.user,
                            failure(exc))  # fmt: skip
                await self._tell(client, who, messages.SLACK_FAILED)
                return
            error_id = secrets.token_hex(4)
            log.exception("handling a Slack request failed (error id %s)", error_id)
            await self._tell(client, who, messages.FOLLOW_UP_FAILED.format(error_id=error_id))

    @staticmethod
    async def _tell(
        client: AsyncWebClient,
        who: inbound.SlashCommand | inbound.ButtonClick | inbound.Shortcut,
        text: str,
    ) -> None:
        """A private note to ``who`` where they asked (a shortcut has no channel: none)."""
        channel = None if isinstance(who, inbound.Shortcut) else who.channel
        if channel is None:
            return
        try:
            if isinstance(who, inbound.ButtonClick):
                await whisper(client, who, text)
            else:
                await client.chat_postEphemeral(channel=channel, user=who.user, text=text)
        except Exception as exc:
            if slack_trouble(exc) or not_there(exc):
                log.warning("could not tell %s how their request went: %s", who.user, failure(exc))
            else:
                log.exception("could not tell %s how their request went", who.user)

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def whisper(client: AsyncWebClient, click: inbound.ButtonClick, text: str) -> None:
    """A note only the clicker sees: in the channel they clicked in; where Slack will not put
    it there (they look into a public channel they are not in, or they left it since: an
    ephemeral goes only to its members), or for a click in a view (a copy of the form in a
    Home or a modal: no channel), in a modal of its own while the trigger is fresh (a stale
    one: they are not told)."""
    if click.channel:
        try:
            await client.chat_postEphemeral(
                channel=click.channel, user=click.user, text=text, thread_ts=click.thread_ts
            )
            return
        except SlackApiError as exc:
            if error_code(exc) not in NOT_A_MEMBER:
                raise
    try:
        await client.views_open(trigger_id=click.trigger_id, view=notice(text))
    except SlackApiError as exc:
        log.info("could not tell %s in a modal (%s)", click.user, error_code(exc))


def run_id(kind: str, key: str, who: inbound.Inbound | None = None) -> str:
    """A run's id derived from what started it, so the same start twice is one run. ``who``:
    the request that started it, whose workspace and person are part of the key, so a
    request carrying another person's view or trigger id (made up, or replayed with the user
    changed) starts its own run, never takes theirs."""
    if who is not None:
        person = getattr(who, "user", None)
        key = f"{who.enterprise or ''}:{who.team or ''}:{person or ''}:{key}"
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]


def said(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors as given, or a plain refusal when a handler refused without a word."""
    return errors if any(errors.values()) else {GLOBAL: [messages.FORM_REFUSED]}


async def refuse(
    ack: AsyncAck, form: list[dict[str, Any]], wire: dict[str, list[str]], raw: Any, view: Any
) -> None:
    """Refuse a modal submission, showing why: under the fields (Slack's
    ``response_action: "errors"``), or, when no input can carry the messages (a form without
    inputs), the modal again with them on top."""
    wire = said(wire)
    errors = blocks.modal_errors(wire, form=form)
    if errors:
        await ack(response_action="errors", errors=errors)
    else:
        await ack(response_action="update", view=blocks.modal_view(form, values=raw, errors=wire,
                                                                   **view))  # fmt: skip


async def standing(engine: Engine, run: Execution) -> str:
    """How a run stands, or how it ended (``🚫 rejected by @bob``), as ``/flow status`` and
    the Home list it."""
    if not run.done:
        return messages.STATUS_WORDS[run.status]
    trail = await engine.trail(run.id)
    return history.standing(*trail) if trail else messages.STATUS_WORDS[run.status]


def notice(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": messages.NOTICE_TITLE},
        "close": {"type": "plain_text", "text": messages.CLOSE},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }
