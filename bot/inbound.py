"""Slack's requests as typed inbound events (pure). Every request is read once: the HTTP
adapter decodes the signed body (``bot.fields.read_body``, bounded in size and depth), types it
(``typed``) and hands Bolt only what Bolt routes by (``for_bolt``), built from the typed event,
so nothing in Bolt ever meets a shape Slack would not send. In Socket Mode ``bot.socketmode``
types each envelope the same way. Anything malformed is ``Malformed``: answered with 400 (in
Socket Mode, acknowledged), logged (``bot.logs.Refusals``), and it changes nothing.

Every field is read by ``bot.fields``: each id checked against the shape Slack gives it, every
text cleaned of the characters no one types (``flows.text.clean``), every field with a size,
so what reaches the engine and the store is always storable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot import fields
from bot.fields import Malformed

MEMBER_EVENTS = ("member_joined_channel", "member_left_channel")
GROUP_CHANGED = "subteam_members_changed"
HOME_OPENED = "app_home_opened"


class Inbound(BaseModel):
    """``team`` and ``enterprise`` (on Enterprise Grid; ``enterprise_install``: installed to
    the whole organisation) name the workspace the request comes from."""

    model_config = ConfigDict(frozen=True)

    team: str | None = None
    enterprise: str | None = None
    enterprise_install: bool = False


class SlashCommand(Inbound):
    user: str
    channel: str
    text: str
    trigger_id: str
    command: str = "/flow"
    response_url: str | None = None


class ButtonClick(Inbound):
    """A Submit, Cancel, Snooze or Open form button on a lock message."""

    user: str
    action: str
    lock_id: str
    channel: str | None
    message_ts: str | None
    thread_ts: str | None
    trigger_id: str
    state: dict[str, dict[str, Any]]
    block_id: str | None = None


class ViewSubmit(Inbound):
    user: str
    callback_id: str
    private_metadata: str
    state: dict[str, dict[str, Any]]
    view_id: str


class MemberEvent(Inbound):
    """Someone joined (``joined``) or left a channel the bot is in."""

    user: str
    channel: str
    joined: bool


class GroupEvent(Inbound):
    """People were added to (``added``) or removed from a user group."""

    group: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


class Uninstalled(Inbound):
    """The app left the workspace: uninstalled (``app_uninstalled``), or tokens revoked
    (``tokens_revoked``: ``bots``, the bot users whose tokens went, and ``users``, people's)."""

    kind: str = "app_uninstalled"
    bots: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    @property
    def ends(self) -> bool:
        """Lockstep can speak there no more: uninstalled, or its bot token revoked."""
        return self.kind == "app_uninstalled" or bool(self.bots)


class HomeOpened(Inbound):
    """Someone opened a tab of the bot's App Home (``home`` or ``messages``)."""

    user: str
    tab: str


class Shortcut(Inbound):
    """A global shortcut (``callback_id``) someone picked from Slack's shortcut menu."""

    user: str
    callback_id: str
    trigger_id: str


class Handshake(Inbound):
    """Slack checking the URL (``url_verification``, with its ``challenge``) or its
    certificate (``ssl_check``): Bolt answers."""

    challenge: str | None = None


class OtherEvent(Inbound):
    """An event Lockstep does not subscribe to: acknowledged, nothing else."""

    kind: str


# events -------------------------------------------------------------------------------------


def slash_command(body: Mapping[str, Any]) -> SlashCommand:
    return SlashCommand(
        user=fields.string(body, "user_id", shape=fields.USER),
        team=fields.optional(body, "team_id", shape=fields.ID),
        channel=fields.string(body, "channel_id", shape=fields.ID),
        text=fields.text(body, "text"),
        trigger_id=fields.string(body, "trigger_id", shape=fields.TOKEN),
        command=fields.string(body, "command", shape=fields.COMMAND),
        response_url=fields.optional(body, "response_url"),
        **fields.grid(body),
    )


def button_click(body: Mapping[str, Any]) -> ButtonClick:
    actions = fields.get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise Malformed("payload has no actions")
    for key in ("channel", "message", "container"):
        if body.get(key) is not None and not isinstance(body[key], Mapping):
            raise Malformed(f"{key} is not an object")
    return ButtonClick(
        user=fields.string(body, "user", "id", shape=fields.USER),
        team=fields.team(body),
        action=fields.string(actions[0], "action_id", shape=fields.TOKEN),
        block_id=fields.optional(actions[0], "block_id", shape=fields.TOKEN),
        lock_id=fields.string(actions[0], "value", shape=fields.LOCK),
        channel=fields.optional(body, "channel", "id", shape=fields.ID),
        message_ts=fields.optional(body, "message", "ts", shape=fields.TS),
        thread_ts=fields.optional(body, "message", "thread_ts", shape=fields.TS),
        trigger_id=fields.string(body, "trigger_id", shape=fields.TOKEN),
        state=fields.state(body),
        **fields.grid(body),
    )


def view_submit(body: Mapping[str, Any]) -> ViewSubmit:
    view = fields.get(body, "view")
    if not isinstance(view, Mapping):
        raise Malformed("view is not an object")
    metadata = view.get("private_metadata") or ""
    if not isinstance(metadata, str) or len(metadata) > 3000 or not fields.encodable(metadata):
        raise Malformed("private_metadata is not a string")
    return ViewSubmit(
        user=fields.string(body, "user", "id", shape=fields.USER),
        team=fields.team(body),
        callback_id=fields.string(view, "callback_id", shape=fields.TOKEN),
        private_metadata=metadata,
        state=fields.state(view),
        view_id=fields.string(view, "id", shape=fields.TOKEN),
        **fields.grid(body),
    )


def shortcut(body: Mapping[str, Any]) -> Shortcut:
    return Shortcut(
        **fields.grid(body),
        user=fields.string(body, "user", "id", shape=fields.USER),
        team=fields.team(body),
        callback_id=fields.string(body, "callback_id", shape=fields.TOKEN),
        trigger_id=fields.string(body, "trigger_id", shape=fields.TOKEN),
    )


def event(
    body: Mapping[str, Any],
) -> MemberEvent | GroupEvent | Uninstalled | HomeOpened | OtherEvent:
    inner = fields.get(body, "event")
    if not isinstance(inner, Mapping):
        raise Malformed("event is not an object")
    kind = fields.string(inner, "type", shape=fields.TOKEN)
    team = fields.optional(body, "team_id", shape=fields.ID)
    grid = fields.grid(body)
    if kind in ("app_uninstalled", "tokens_revoked") and not (team or grid["enterprise"]):
        raise Malformed(f"{kind} names no workspace")  # Slack's always names the one it left
    if kind == "app_uninstalled":
        return Uninstalled(team=team, **grid)
    if kind == "tokens_revoked":
        tokens = inner.get("tokens")
        if not isinstance(tokens, Mapping):
            raise Malformed("tokens_revoked names no tokens")
        bots, users = tokens.get("bot") or [], tokens.get("oauth") or []
        if not isinstance(bots, list) or not isinstance(users, list):
            raise Malformed("tokens_revoked: tokens are not lists")
        if not all(isinstance(u, str) and fields.USER.fullmatch(u) for u in [*bots, *users]):
            raise Malformed("tokens_revoked: a token's user is malformed")
        return Uninstalled(team=team, kind=kind, bots=tuple(bots), users=tuple(users), **grid)
    if kind == HOME_OPENED:
        tab = fields.optional(inner, "tab", shape=fields.TOKEN) or "home"
        return HomeOpened(
            team=team, **grid, user=fields.string(inner, "user", shape=fields.USER), tab=tab
        )
    if kind == GROUP_CHANGED:
        group = fields.string(inner, "subteam_id", shape=fields.ID)
        added, removed = fields.users(inner, "added_users"), fields.users(inner, "removed_users")
        return GroupEvent(team=team, **grid, group=group, added=added, removed=removed)
    if kind not in MEMBER_EVENTS:
        return OtherEvent(team=team, kind=kind)
    return MemberEvent(
        **grid,
        team=team,
        user=fields.string(inner, "user", shape=fields.USER),
        channel=fields.string(inner, "channel", shape=fields.ID),
        joined=kind == "member_joined_channel",
    )


def typed(body: Mapping[str, Any]) -> Inbound:
    """The event a body carries; ``Malformed`` for anything else."""
    if "command" in body:
        return slash_command(body)
    if "ssl_check" in body:
        return Handshake()
    match body.get("type"):
        case "block_actions":
            return button_click(body)
        case "view_submission":
            return view_submit(body)
        case "shortcut":
            return shortcut(body)
        case "event_callback":
            return event(body)
        case "url_verification":
            return Handshake(challenge=fields.string(body, "challenge", shape=fields.TOKEN))
        case _:
            raise Malformed("a kind of request Lockstep does not take")


def for_bolt(event: Inbound) -> dict[str, Any]:
    """The body Bolt routes, rebuilt from the typed event: only the fields Bolt reads, each
    with the shape Bolt expects. Listeners read the typed event, never this."""
    team = {"team": {"id": event.team}} if event.team else {}
    grid: dict[str, Any] = {"is_enterprise_install": event.enterprise_install}
    top = grid | ({"team_id": event.team} if event.team else {})
    top |= {"enterprise_id": event.enterprise} if event.enterprise else {}
    team |= grid | ({"enterprise": {"id": event.enterprise}} if event.enterprise else {})
    match event:
        case SlashCommand():
            body = {
                "command": event.command, "text": event.text, "user_id": event.user,
                "channel_id": event.channel, "trigger_id": event.trigger_id,
            }  # fmt: skip
            return body | top
        case ButtonClick():
            action = {"type": "button", "action_id": event.action, "value": event.lock_id}
            action |= {"block_id": event.block_id} if event.block_id else {}
            channel = {"channel": {"id": event.channel}} if event.channel else {}
            return {
                "type": "block_actions", "user": {"id": event.user}, "actions": [action],
                "trigger_id": event.trigger_id,
            } | team | channel  # fmt: skip
        case ViewSubmit():
            view = {
                "id": event.view_id, "type": "modal", "callback_id": event.callback_id,
                "private_metadata": event.private_metadata, "state": {"values": event.state},
            }  # fmt: skip
            return {"type": "view_submission", "user": {"id": event.user}, "view": view} | team
        case MemberEvent():
            kind = MEMBER_EVENTS[0] if event.joined else MEMBER_EVENTS[1]
            inner = {"type": kind, "user": event.user, "channel": event.channel}
            return {"type": "event_callback", "event": inner} | top
        case GroupEvent():
            inner = {"type": GROUP_CHANGED, "subteam_id": event.group}
            return {"type": "event_callback", "event": inner} | top
        case Uninstalled():
            said: dict[str, Any] = {"type": event.kind}
            if event.kind == "tokens_revoked":
                said["tokens"] = {"bot": list(event.bots), "oauth": list(event.users)}
            return {"type": "event_callback", "event": said} | top
        case HomeOpened():
            inner = {"type": HOME_OPENED, "user": event.user, "tab": event.tab}
            return {"type": "event_callback", "event": inner} | top
        case Shortcut():
            return {
                "type": "shortcut", "callback_id": event.callback_id, "user": {"id": event.user},
                "trigger_id": event.trigger_id,
            } | team  # fmt: skip
        case Handshake(challenge=None):
            return {"ssl_check": "1"}
        case Handshake():
            return {"type": "url_verification", "challenge": event.challenge}
    raise ValueError(f"{type(event).__name__} does not go to Bolt")
