"""Slack's requests as typed inbound events (pure). Every request is read once: the HTTP
adapter decodes the signed body (``read_body``, bounded in size and depth), types it (``typed``)
and hands Bolt only what Bolt routes by (``for_bolt``), built from the typed event, so nothing
in Bolt ever meets a shape Slack would not send. In Socket Mode a Bolt middleware (``bot.app``)
types the body the same way. Anything malformed is ``Malformed``, answered with 400 and one
log line, and changes nothing.

Every id is checked against the shape Slack gives it, every text is cleaned of the characters
no one types (``flows.text.clean``) and every field has a size, so what reaches the engine and
the store is always storable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

from flows.errors import LockstepError
from flows.text import clean

FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1 << 20  # bytes; Slack's largest payloads (a modal's state) are far smaller
MAX_DEPTH = 64  # JSON nesting; Slack's payloads stay below 20
MAX_TEXT = 40_000  # characters of any text field
_ID = re.compile(r"[A-Z][A-Z0-9]{1,40}")  # users, channels, teams: U012AB, C0CHANNEL, T01
_TS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")  # a message's timestamp
_TOKEN = re.compile(r"[!-~]{1,255}")  # trigger and view ids, action ids: printable ASCII
_LOCK = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # a lock's id in a button's value
_COMMAND = re.compile(r"/[!-~]{1,64}")
MEMBER_EVENTS = ("member_joined_channel", "member_left_channel")
GROUP_CHANGED = "subteam_members_changed"
HOME_OPENED = "app_home_opened"
# the element types of ``state.values`` Lockstep renders, and the fields each holds
_STRING = (str, type(None))
_STATE: dict[str, dict[str, tuple[type, ...]]] = {
    "plain_text_input": {"value": _STRING},
    "number_input": {"value": _STRING},
    "datepicker": {"selected_date": _STRING},
    "timepicker": {"selected_time": _STRING},
    "datetimepicker": {"selected_date_time": (int, type(None))},
    "users_select": {"selected_user": _STRING},
    "multi_users_select": {"selected_users": (list, type(None))},
    "checkboxes": {"selected_options": (list, type(None))},
    "multi_static_select": {"selected_options": (list, type(None))},
    "static_select": {"selected_option": (dict, type(None))},
    "radio_buttons": {"selected_option": (dict, type(None))},
    "file_input": {"files": (list, type(None))},
    "conversations_select": {"selected_conversation": _STRING},
}


class Malformed(LockstepError, ValueError):
    """A request that cannot be one Slack sent; the message says why."""


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


# reading the body ---------------------------------------------------------------------------


def _depth_ok(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    if not _depth_ok(value):
        raise Malformed(f"{what} is nested deeper than {MAX_DEPTH}")
    return value


def read_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A request body as Slack means it: a JSON body (events), a form with a JSON ``payload``
    (interactions), or a plain form (slash commands, ``ssl_check``)."""
    if len(raw) > MAX_BODY:
        raise Malformed(f"the body is longer than {MAX_BODY} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    if content_type == "application/json":
        return _json_object(text, "the body")
    if content_type != FORM:
        raise Malformed(f"content type {content_type[:40] or 'none'}")
    try:
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise Malformed("the form is malformed") from None
    payloads = [v for k, v in fields if k == "payload"]
    if len(payloads) > 1:
        raise Malformed("the form has more than one payload")
    if payloads:
        return _json_object(payloads[0], "payload")
    form = dict(fields)
    if len(form) != len(fields):
        raise Malformed("the form repeats a field")
    if "command" not in form and "ssl_check" not in form:
        raise Malformed("neither a command nor a payload")
    return form


# fields -------------------------------------------------------------------------------------


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            raise Malformed(f"payload has no {'.'.join(path)}")
        value = value[key]
    return value


def _str(payload: Mapping[str, Any], *path: str, shape: re.Pattern[str] | None = None) -> str:
    value = _get(payload, *path)
    if not isinstance(value, str) or not value:
        raise Malformed(f"payload field {'.'.join(path)} is not a string")
    if shape is not None and not shape.fullmatch(value):
        raise Malformed(f"payload field {'.'.join(path)} is malformed")
    if len(value) > MAX_TEXT:
        raise Malformed(f"payload field {'.'.join(path)} is too long")
    return value


def _opt_str(
    payload: Mapping[str, Any], *path: str, shape: re.Pattern[str] | None = None
) -> str | None:
    """The field if it is there as a string; None if it is absent or null. Present and
    malformed is ``Malformed``: nothing Slack sends."""
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if value is None or value == "":
        return None
    return _str(payload, *path, shape=shape)


def _encodable(text: str) -> bool:
    """Is ``text`` what UTF-8 can carry (no lone surrogate, which JSON's ``\\ud800`` allows)?"""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Malformed(f"payload field {key} is not a string")
    return clean(value)


def _team(body: Mapping[str, Any]) -> str | None:
    """An interaction's team: ``team.id``, or (installed to a whole Grid organisation, where
    ``team`` may be null) the person's own ``user.team_id``."""
    team = body.get("team")
    if team is not None and not isinstance(team, Mapping):
        raise Malformed("team is not an object")
    return _opt_str(body, "team", "id", shape=_ID) or _opt_str(body, "user", "team_id", shape=_ID)


def _grid(body: Mapping[str, Any]) -> dict[str, Any]:
    """The enterprise fields of a request (Enterprise Grid): ``enterprise_id`` at the top
    (commands, events) or ``enterprise.id`` (interactions), and ``is_enterprise_install``."""
    enterprise = body.get("enterprise")
    if enterprise is not None and not isinstance(enterprise, Mapping | str):
        raise Malformed("enterprise is not an object")
    found = _opt_str(body, "enterprise_id", shape=_ID)
    if isinstance(enterprise, str):
        found = found or (enterprise if _ID.fullmatch(enterprise) else None)
    elif enterprise is not None:
        found = found or _opt_str(body, "enterprise", "id", shape=_ID)
    install = body.get("is_enterprise_install")
    return {"enterprise": found, "enterprise_install": install in (True, "true")}


def _action_state(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
        raise Malformed("state.values holds something that is no element's state")
    fields = _STATE.get(raw["type"])
    if fields is None:
        raise Malformed("state.values holds an element Lockstep does not render")
    state: dict[str, Any] = {"type": raw["type"]}
    for key, kinds in fields.items():
        value = raw.get(key)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise Malformed(f"state.values: {key} is malformed")
        if isinstance(value, str):
            value = clean(value)  # its length is the form's to judge, and to say
        elif isinstance(value, dict):
            value = _option(value)
        elif isinstance(value, list) and key == "files":
            value = [_file(v) for v in value]
        elif isinstance(value, list):
            value = [_option(v) if isinstance(v, Mapping) else _choice(v) for v in value]
        state[key] = value
    return state


def _option(raw: Mapping[str, Any]) -> dict[str, str]:
    value = raw.get("value")
    if not isinstance(value, str) or len(value) > 255:  # Slack's limit is 150
        raise Malformed("state.values: an option has no value")
    return {"value": clean(value)}


def _file(raw: Any) -> dict[str, Any]:
    """An uploaded file's description: its id, and its other plain fields (name, type, size,
    urls) cleaned; nested objects are dropped."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        raise Malformed("state.values: a file has no id")
    if not _ID.fullmatch(raw["id"]):
        raise Malformed("state.values: a file id is malformed")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = clean(str(key))[:64]
        if isinstance(value, str) and len(value) <= MAX_TEXT:
            out[name] = clean(value)
        elif isinstance(value, int | float | bool):
            out[name] = value
    return out


def _choice(raw: Any) -> str:
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        raise Malformed("state.values: a chosen person is malformed")
    return raw


def _state(container: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    state = container.get("state")
    if state is None:
        return {}
    if not isinstance(state, Mapping):
        raise Malformed("state is not an object")
    values = state.get("values")
    if values is None:
        return {}
    if not isinstance(values, Mapping) or not all(isinstance(v, Mapping) for v in values.values()):
        raise Malformed("state.values is malformed")
    return {
        str(block)[:255]: {str(action)[:255]: _action_state(s) for action, s in actions.items()}
        for block, actions in values.items()
    }


# events -------------------------------------------------------------------------------------


def slash_command(body: Mapping[str, Any]) -> SlashCommand:
    return SlashCommand(
        user=_str(body, "user_id", shape=_ID),
        team=_opt_str(body, "team_id", shape=_ID),
        channel=_str(body, "channel_id", shape=_ID),
        text=_text(body, "text"),
        trigger_id=_str(body, "trigger_id", shape=_TOKEN),
        command=_str(body, "command", shape=_COMMAND),
        response_url=_opt_str(body, "response_url"),
        **_grid(body),
    )


def button_click(body: Mapping[str, Any]) -> ButtonClick:
    actions = _get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise Malformed("payload has no actions")
    for key in ("channel", "message", "container"):
        if body.get(key) is not None and not isinstance(body[key], Mapping):
            raise Malformed(f"{key} is not an object")
    return ButtonClick(
        user=_str(body, "user", "id", shape=_ID),
        team=_team(body),
        action=_str(actions[0], "action_id", shape=_TOKEN),
        block_id=_opt_str(actions[0], "block_id", shape=_TOKEN),
        lock_id=_str(actions[0], "value", shape=_LOCK),
        channel=_opt_str(body, "channel", "id", shape=_ID),
        message_ts=_opt_str(body, "message", "ts", shape=_TS),
        thread_ts=_opt_str(body, "message", "thread_ts", shape=_TS),
        trigger_id=_str(body, "trigger_id", shape=_TOKEN),
        state=_state(body),
        **_grid(body),
    )


def view_submit(body: Mapping[str, Any]) -> ViewSubmit:
    view = _get(body, "view")
    if not isinstance(view, Mapping):
        raise Malformed("view is not an object")
    metadata = view.get("private_metadata") or ""
    if not isinstance(metadata, str) or len(metadata) > 3000 or not _encodable(metadata):
        raise Malformed("private_metadata is not a string")
    return ViewSubmit(
        user=_str(body, "user", "id", shape=_ID),
        team=_team(body),
        callback_id=_str(view, "callback_id", shape=_TOKEN),
        private_metadata=metadata,
        state=_state(view),
        view_id=_str(view, "id", shape=_TOKEN),
        **_grid(body),
    )


def shortcut(body: Mapping[str, Any]) -> Shortcut:
    return Shortcut(
        **_grid(body),
        user=_str(body, "user", "id", shape=_ID),
        team=_team(body),
        callback_id=_str(body, "callback_id", shape=_TOKEN),
        trigger_id=_str(body, "trigger_id", shape=_TOKEN),
    )


def event(
    body: Mapping[str, Any],
) -> MemberEvent | GroupEvent | Uninstalled | HomeOpened | OtherEvent:
    inner = _get(body, "event")
    if not isinstance(inner, Mapping):
        raise Malformed("event is not an object")
    kind = _str(inner, "type", shape=_TOKEN)
    team = _opt_str(body, "team_id", shape=_ID)
    grid = _grid(body)
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
        if not all(isinstance(u, str) and _ID.fullmatch(u) for u in [*bots, *users]):
            raise Malformed("tokens_revoked: a token's user is malformed")
        return Uninstalled(team=team, kind=kind, bots=tuple(bots), users=tuple(users), **grid)
    if kind == HOME_OPENED:
        tab = _opt_str(inner, "tab", shape=_TOKEN) or "home"
        return HomeOpened(team=team, **grid, user=_str(inner, "user", shape=_ID), tab=tab)
    if kind == GROUP_CHANGED:
        group = _str(inner, "subteam_id", shape=_ID)
        added, removed = _users(inner, "added_users"), _users(inner, "removed_users")
        return GroupEvent(team=team, **grid, group=group, added=added, removed=removed)
    if kind not in MEMBER_EVENTS:
        return OtherEvent(team=team, kind=kind)
    return MemberEvent(
        **grid,
        team=team,
        user=_str(inner, "user", shape=_ID),
        channel=_str(inner, "channel", shape=_ID),
        joined=kind == "member_joined_channel",
    )


def _users(payload: Mapping[str, Any], key: str) -> tuple[str, ...]:
    users = payload.get(key) or []
    if not isinstance(users, list) or not all(
        isinstance(u, str) and _ID.fullmatch(u) for u in users
    ):
        raise Malformed(f"{key} is not a list of user ids")
    return tuple(users)


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
            return Handshake(challenge=_str(body, "challenge", shape=_TOKEN))
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
