"""Slack's side of a conversation with the bot, for the pretend users of local mode.

``FakeSlack`` answers the bot's Web API calls and keeps the channel; this adds what Slack's
servers and client do around it: send the bot signed payloads when a person types a command,
clicks a button or submits a modal, show a command's answer only to whoever typed it, and keep
each person's open modals (``views.open`` is routed by its ``trigger_id``, ``views.update`` by
view id, and a submission's ``response_action`` closes, updates, pushes or shows errors), tell
the bot when someone opens the app's Home tab or picks its shortcut, and show each person their
Home (``views.publish``) and their direct messages with the app (where ``conversations.open``
puts them: ``D`` + their id). Each change bumps ``version``, which the page waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from typing import Any

import aiohttp

from bot.fake.signing import signed_headers
from bot.fake.slack import FakeSlack
from bot.fake.wire import RecordedCall
from bot.local import payloads
from bot.local.workspace import Person, Workspace
from flows.errors import LockstepError

log = logging.getLogger("lockstep.local")
Args = dict[str, Any]
TRIGGER_TTL = 3.0  # seconds, as on Slack: views.open must use a trigger this fresh
KEPT_TRIGGERS = 500


class ActionError(LockstepError, ValueError):
    """A request from the page that Slack's client could not have sent; the page shows it."""


class StandIn:
    def __init__(self, slack: FakeSlack, workspace: Workspace, signing_secret: str) -> None:
        self.slack = slack
        self.workspace = workspace
        self.events_url = ""  # the bot's /slack/events, set once it listens
        self.version = 0
        self._secret = signing_secret
        self._changed = asyncio.Condition()
        self._modals: dict[str, list[Args]] = {}  # user -> stack of open views, top last
        self._errors: dict[str, dict[str, str]] = {}  # view id -> block id -> error
        self._triggers: dict[str, tuple[str, float]] = {}  # trigger id -> user, issued at
        self._seen: dict[str, float] = {}  # ts -> when it was posted (the fake's ts are not)
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None
        self._follower: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self.closed = False

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._follower = asyncio.create_task(self._follow())
        await self._started.wait()

    async def close(self) -> None:
        self.closed = True
        await self._bump()
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self._http is not None:
            await self._http.close()

    # what the page shows ---------------------------------------------------------------------

    def person(self, user_id: str) -> Person:
        try:
            return self.workspace.person(user_id)
        except KeyError:
            raise ActionError(f"there is no pretend user {user_id!r}") from None

    def snapshot(self, user_id: str) -> Args:
        """Everything ``user_id`` (by default the first person) sees: the channel with its
        threads, their private notes, their direct messages and their open modal."""
        ws = self.workspace
        me = self.person(user_id) if user_id else ws.people[0]
        channel = ws.channel_id
        history = [
            m for p in self.slack.messages(channel) for m in self.slack.thread(channel, p["ts"])
        ]
        stack = self._modals.get(me.id, [])
        modal = stack[-1] if stack else None
        return {
            "version": self.version,
            "me": me.id,
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "bot": {"id": ws.bot_user_id, "name": ws.bot_name},
            "channel": {"id": channel, "name": ws.channel_name},
            "command": ws.command,
            "people": [p.model_dump() for p in ws.people],
            "messages": history,
            "ephemerals": self.slack.ephemerals(me.id),
            "direct": self.slack.messages(dm_channel(me.id)),
            "files": self.slack.files(dm_channel(me.id)),
            "home": self.slack.home(me.id),
            "modal": modal,
            "modal_errors": self._errors.get(modal["id"], {}) if modal else {},
            "times": self._seen,
        }

    async def wait_changed(self, seen: int, timeout: float) -> int:
        """The version once it is past ``seen``, or as it is after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.version > seen or self.closed)
        return self.version

    # what people do --------------------------------------------------------------------------

    async def command(self, user_id: str, line: str) -> None:
        """A line typed in the message box: ``/flow ...`` goes to the bot."""
        person = self.person(user_id)
        name, _, text = line.strip().partition(" ")
        if name != self.workspace.command:
            what = f"`{name}` is not a command here" if name.startswith("/") else "Plain messages"
            reply = f"{what}: in local mode, try `{self.workspace.command} list`."
            await self._note(person, {"text": reply})
            return
        body = payloads.slash_command(
            self.workspace,
            person,
            text.strip(),
            trigger_id=self._trigger(person),
            response_url=self.slack.response_url(),
        )
        status, answer = await self._send(body)
        if status != 200:
            await self._note(person, {"text": f"`{name}` failed: the app answered HTTP {status}."})
        elif answer.strip():
            await self._note(person, _reply(answer))

    async def home_opened(self, user_id: str) -> None:
        """The person opened the app's Home tab: Slack tells the bot (an Events API call)."""
        body = payloads.home_opened(self.workspace, self.person(user_id))
        status, _ = await self._send(body, "application/json")
        if status != 200:
            raise ActionError(f"The app did not answer (HTTP {status}).")

    async def shortcut(self, user_id: str, callback_id: str) -> None:
        """A global shortcut, picked from the shortcut menu."""
        person = self.person(user_id)
        body = payloads.shortcut(
            self.workspace, person, callback_id=callback_id, trigger_id=self._trigger(person)
        )
        status, _ = await self._send(body)
        if status != 200:
            raise ActionError(f"The app did not answer (HTTP {status}).")

    async def click_view(
        self, user_id: str, *, view_id: str, block_id: str, action_id: str, value: str | None
    ) -> None:
        """A button in the person's App Home."""
        person = self.person(user_id)
        view = self.slack.home(person.id)
        if view is None or view["id"] != view_id:
            raise ActionError("that Home is not shown any more")
        try:
            body = payloads.view_actions(
                self.workspace, person, view=view, block_id=block_id, action_id=action_id,
                value=value, trigger_id=self._trigger(person), action_ts=f"{time.time():.6f}",
            )  # fmt: skip
        except ValueError as exc:
            raise ActionError(str(exc)) from None
        status, _ = await self._send(body)
        if status != 200:
            raise ActionError(f"The app did not answer (HTTP {status}).")

    async def click(
        self,
        user_id: str,
        *,
        channel: str,
        ts: str,
        block_id: str,
        action_id: str,
        values: payloads.Raw,
        value: str | None = None,
    ) -> None:
        """A button in a message, with what the message's inputs hold. ``value``: the
        button's value as the page shows it (a stale page may show a button the message no
        longer has: Slack's client sends such a click, and the bot says why it is late)."""
        person = self.person(user_id)
        message = next((m for m in self.slack.thread(channel, ts) if m["ts"] == ts), None)
        if message is None:
            raise ActionError("that message is gone")
        shown = (
            None if value is None else {"type": "button", "action_id": action_id, "value": value}
        )
        try:
            body = payloads.block_actions(
                self.workspace,
                person,
                channel=channel,
                message=message,
                block_id=block_id,
                action_id=action_id,
                raw=values,
                trigger_id=self._trigger(person),
                response_url=self.slack.response_url(),
                action_ts=f"{time.time():.6f}",
                shown=shown,
            )
        except ValueError as exc:
            raise ActionError(str(exc)) from None
        status, _ = await self._send(body)
        if status != 200:
            await self._note(person, {"text": f"The app did not answer (HTTP {status})."})

    async def submit(self, user_id: str, view_id: str, values: payloads.Raw) -> None:
        """The Submit button of the person's open modal."""
        person = self.person(user_id)
        stack = self._modals.get(person.id, [])
        if not stack or stack[-1]["id"] != view_id:
            raise ActionError("that modal is not open")
        try:
            body = payloads.view_submission(
                self.workspace, person, view=stack[-1], raw=values, trigger_id=self._trigger(person)
            )
        except ValueError as exc:
            raise ActionError(str(exc)) from None
        status, answer = await self._send(body)
        if status != 200:
            self._errors[view_id] = {"": f"The app did not answer (HTTP {status})."}
        else:
            self._answered(person, view_id, _json(answer))
        await self._bump()

    async def close_modal(self, user_id: str, view_id: str) -> None:
        stack = self._modals.get(self.person(user_id).id, [])
        if stack and stack[-1]["id"] == view_id:
            stack.pop()
            self._errors.pop(view_id, None)
            await self._bump()

    # Slack's side ----------------------------------------------------------------------------

    def _answered(self, person: Person, view_id: str, answer: Args) -> None:
        """A ``view_submission``'s HTTP answer, as Slack applies it to the modal."""
        stack = self._modals.setdefault(person.id, [])
        at = next((i for i, v in enumerate(stack) if v["id"] == view_id), None)
        if at is None:  # closed while the bot was answering
            return
        action = answer.get("response_action")
        self._errors.pop(view_id, None)
        if action == "errors" and isinstance(answer.get("errors"), dict):
            self._errors[view_id] = {str(k): str(v) for k, v in answer["errors"].items()}
        elif action == "update" and isinstance(answer.get("view"), dict):
            stack[at] = _view(answer["view"], view_id, self._hash())  # replaced whole
        elif action == "push" and isinstance(answer.get("view"), dict):
            stack.append(_view(answer["view"], f"VLOCAL{next(self._ids):06d}", self._hash()))
        elif action == "clear":
            stack.clear()
        else:
            del stack[at]

    async def _follow(self) -> None:
        async with self.slack.feed() as feed:
            self._started.set()
            while True:
                call = await feed.get()
                self._apply(call)
                await self._bump()

    def _apply(self, call: RecordedCall) -> None:
        """Note when messages were posted; route modals the bot opened or changed to whoever's
        screen they belong on."""
        if not call.ok:
            return
        posted = call.response.get("ts") or call.response.get("message_ts")
        if call.method in ("chat.postMessage", "chat.postEphemeral") and posted:
            self._seen[str(posted)] = time.time()
        if not call.method.startswith("views."):
            return
        view = call.response["view"]
        if call.method in ("views.open", "views.push"):
            user, issued = self._triggers.get(str(call.args.get("trigger_id")), ("", 0.0))
            if not user or time.monotonic() - issued > TRIGGER_TTL:
                log.warning("%s with an unknown or expired trigger_id: not shown", call.method)
                return
            stack = self._modals.setdefault(user, [])
            if call.method == "views.open":
                stack.clear()
            stack.append(view)
        elif call.method == "views.update":
            for stack in self._modals.values():
                for i, shown in enumerate(stack):
                    if shown["id"] == view["id"]:
                        stack[i] = view
                        self._errors.pop(view["id"], None)

    def _trigger(self, person: Person) -> str:
        if len(self._triggers) >= KEPT_TRIGGERS:
            oldest = min(self._triggers, key=lambda t: self._triggers[t][1])
            del self._triggers[oldest]
        trigger = f"{int(time.time())}.{next(self._ids)}.{secrets.token_hex(16)}"
        self._triggers[trigger] = (person.id, time.monotonic())
        return trigger

    def _hash(self) -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    async def _send(self, body: bytes, content_type: str = payloads.FORM) -> tuple[int, str]:
        """Post to the bot's /slack/events exactly as Slack does: signed, form-encoded (or
        JSON, for events)."""
        if self._http is None or not self.events_url:
            raise RuntimeError("the stand-in is not started")
        headers = signed_headers(self._secret, body, content_type=content_type)
        async with self._http.post(self.events_url, data=body, headers=headers) as response:
            return response.status, await response.text()

    async def _note(self, person: Person, content: Args) -> None:
        note = self.slack.show_ephemeral(self.workspace.channel_id, person.id, content)
        self._seen[note["ts"]] = time.time()
        await self._bump()

    async def _bump(self) -> None:
        async with self._changed:
            self.version += 1
            self._changed.notify_all()


def dm_channel(user_id: str) -> str:
    """The direct message channel with a person, as ``conversations.open`` names it."""
    return "D" + user_id


def _view(view: Args, view_id: str, view_hash: str) -> Args:
    blank: Args = {"private_metadata": "", "callback_id": "", "state": {"values": {}}}
    return blank | view | {"id": view_id, "hash": view_hash}


def _json(text: str) -> Args:
    try:
        found = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _reply(answer: str) -> Args:
    """A command's HTTP answer as message content: Bolt sends JSON, a bare text is text."""
    found = _json(answer)
    content = {k: found[k] for k in ("text", "blocks") if found.get(k)}
    return content or {"text": answer}
