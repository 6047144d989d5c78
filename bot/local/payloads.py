"""What Slack sends the bot when a person acts, built from the page's input (pure).

The page reports only what the person did: which button, and the raw value of each input it
shows (``{block_id: {action_id: value}}``). These functions turn that into the payloads Slack
builds, ``state.values`` included, from the blocks the bot really posted: a value the person
could not have picked (an option that is not offered) is dropped, and an input the page left out
keeps its initial value, as in Slack's client. Malformed input is a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.fake.signing import event_body, interaction_body, slash_command_body
from bot.local.workspace import Person, Workspace

Args = dict[str, Any]
FORM = "application/x-www-form-urlencoded"
Raw = Mapping[str, Mapping[str, Any]]  # block_id -> action_id -> the value the page shows

_TEXT = {
    "plain_text_input": "value",
    "number_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "users_select": "selected_user",
}
_INITIAL_TEXT = {
    "plain_text_input": "initial_value",
    "number_input": "initial_value",
    "email_text_input": "initial_value",
    "url_text_input": "initial_value",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
    "users_select": "initial_user",
}


def user_object(ws: Workspace, person: Person) -> Args:
    return {"id": person.id, "username": person.name, "name": person.name, "team_id": ws.team_id}


def _team(ws: Workspace) -> Args:
    return {"id": ws.team_id, "domain": ws.team_domain}


def _text(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    return value


def _texts(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of text")
    return value


def _offered(element: Mapping[str, Any], wanted: list[str]) -> list[Args]:
    """The element's options whose values were picked, in the element's order."""
    options = [o for o in element.get("options") or [] if isinstance(o, Mapping)]
    return [dict(o) for o in options if o.get("value") in wanted]


def _stamp(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("a date and time must be a Unix timestamp")
    try:
        return int(value)
    except ValueError:
        raise ValueError("a date and time must be a Unix timestamp") from None


def element_state(element: Mapping[str, Any], value: Any) -> Args:
    """One entry of ``state.values``: the element's type and what it now holds."""
    kind = element.get("type")
    if not isinstance(kind, str):
        raise ValueError("an input element has no type")
    if kind in _TEXT:
        return {"type": kind, _TEXT[kind]: _text(value, _TEXT[kind])}
    if kind == "datetimepicker":
        return {"type": kind, "selected_date_time": _stamp(value)}
    if kind in ("checkboxes", "multi_static_select"):
        return {"type": kind, "selected_options": _offered(element, _texts(value, kind))}
    if kind in ("static_select", "radio_buttons"):
        chosen = _offered(element, [v] if (v := _text(value, kind)) else [])
        return {"type": kind, "selected_option": chosen[0] if chosen else None}
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": _texts(value, kind)}
    if kind == "conversations_select":
        return {"type": kind, "selected_conversation": _text(value, kind)}
    raise ValueError(f"cannot read an element of type {kind!r}")


def initial_value(element: Mapping[str, Any]) -> Any:
    """What an untouched element holds, in the page's raw form."""
    kind = element.get("type")
    if kind in _INITIAL_TEXT:
        return element.get(_INITIAL_TEXT[str(kind)])
    if kind == "datetimepicker":
        return element.get("initial_date_time")
    if kind in ("checkboxes", "multi_static_select"):
        return [o.get("value") for o in element.get("initial_options") or []]
    if kind in ("static_select", "radio_buttons"):
        return (element.get("initial_option") or {}).get("value")
    if kind == "multi_users_select":
        return list(element.get("initial_users") or [])
    if kind == "conversations_select":
        return element.get("initial_conversation")
    return None


def state_values(blocks: Sequence[Mapping[str, Any]], raw: Raw) -> dict[str, Args]:
    """``state.values`` of a surface: every input block, each element keyed by its action id."""
    if not isinstance(raw, Mapping):
        raise ValueError("values must be an object")
    values: dict[str, Args] = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, Mapping):
            continue
        block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
        given = raw.get(block_id)
        if given is not None and not isinstance(given, Mapping):
            raise ValueError(f"values of {block_id} must be an object")
        value = given[action_id] if given and action_id in given else initial_value(element)
        values[block_id] = {action_id: element_state(element, value)}
    return values


def find_button(
    message: Mapping[str, Any], block_id: str, action_id: str, value: str | None = None
) -> Args:
    """The button the person clicked (in an actions block, or a section's accessory), as it
    was posted; ``ValueError`` if there is none."""
    for block in message.get("blocks") or []:
        if block.get("block_id") != block_id:
            continue
        elements = [*(block.get("elements") or []), block.get("accessory") or {}]
        for element in elements:
            if element.get("type") != "button" or element.get("action_id") != action_id:
                continue
            if value is None or element.get("value") == value:
                return dict(element)
    raise ValueError(f"the message has no button {block_id}/{action_id}")


def slash_command(
    ws: Workspace, person: Person, text: str, *, trigger_id: str, response_url: str
) -> bytes:
    """The form body Slack posts for ``/flow {text}`` typed in the workspace's channel."""
    return slash_command_body(
        ws.command,
        text,
        user_id=person.id,
        user_name=person.name,
        channel_id=ws.channel_id,
        channel_name=ws.channel_name,
        team_id=ws.team_id,
        trigger_id=trigger_id,
        response_url=response_url,
    )


def block_actions(
    ws: Workspace,
    person: Person,
    *,
    channel: str,
    message: Mapping[str, Any],
    block_id: str,
    action_id: str,
    raw: Raw,
    trigger_id: str,
    response_url: str,
    action_ts: str,
    shown: Args | None = None,
) -> bytes:
    """A button clicked in a message, with the message's ``state.values``. ``shown``: the
    button as the person's screen still shows it, when the message has changed since (a
    late click from a stale screen: Slack's client sends it all the same)."""
    try:
        button = find_button(message, block_id, action_id)
    except ValueError:
        if shown is None:
            raise
        button = shown
    container: Args = {"type": "message", "message_ts": message["ts"], "channel_id": channel}
    container["is_ephemeral"] = False
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    payload: Args = {
        "type": "block_actions",
        "user": user_object(ws, person),
        "api_app_id": ws.app_id,
        "token": "unused-verification-token",
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": ws.channel_name if channel == ws.channel_id else ""},
        "message": dict(message),
        "state": {"values": state_values(message.get("blocks") or [], raw)},
        "response_url": response_url,
        "actions": [{**button, "block_id": block_id, "action_ts": action_ts}],
    }
    return interaction_body(payload)


def view_submission(
    ws: Workspace, person: Person, *, view: Mapping[str, Any], raw: Raw, trigger_id: str
) -> bytes:
    """A modal's Submit, with ``view.state.values``, its ``callback_id`` and metadata."""
    submitted = dict(view) | {"state": {"values": state_values(view.get("blocks") or [], raw)}}
    payload: Args = {
        "type": "view_submission",
        "team": _team(ws),
        "user": user_object(ws, person),
        "api_app_id": ws.app_id,
        "token": "unused-verification-token",
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }
    return interaction_body(payload)


def view_actions(
    ws: Workspace,
    person: Person,
    *,
    view: Mapping[str, Any],
    block_id: str,
    action_id: str,
    value: str | None,
    trigger_id: str,
    action_ts: str,
) -> bytes:
    """A button clicked in a view (the App Home), with the view's ``state.values``."""
    button = find_button(view, block_id, action_id, value)
    payload: Args = {
        "type": "block_actions",
        "user": user_object(ws, person),
        "api_app_id": ws.app_id,
        "token": "unused-verification-token",
        "container": {"type": "view", "view_id": view.get("id")},
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": dict(view),
        "state": {"values": state_values(view.get("blocks") or [], {})},
        "actions": [{**button, "block_id": block_id, "action_ts": action_ts}],
    }
    return interaction_body(payload)


def shortcut(ws: Workspace, person: Person, *, callback_id: str, trigger_id: str) -> bytes:
    """A global shortcut picked from the shortcut menu."""
    payload: Args = {
        "type": "shortcut",
        "token": "unused-verification-token",
        "action_ts": trigger_id.split(".", 1)[0],
        "team": _team(ws),
        "user": user_object(ws, person),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
    }
    return interaction_body(payload)


def home_opened(ws: Workspace, person: Person) -> bytes:
    """The Events API callback Slack sends when someone opens the app's Home tab (JSON)."""
    event = {"type": "app_home_opened", "user": person.id, "channel": "D" + person.id}
    return event_body(event | {"tab": "home", "event_ts": "0"}, ws.team_id)
