"""Slack's requests as typed inbound events (pure). Every request is read once: the HTTP
adapter decodes the signed body (``read_body``) and hands Bolt the result; a Bolt middleware
(``bot.app``) types it (``typed``) for the listeners, in HTTP and Socket Mode alike. Anything
malformed is ``Malformed``, answered with 400 and one log line, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

from flows.errors import LockstepError

FORM = "application/x-www-form-urlencoded"


class Malformed(LockstepError, ValueError):
    """A request that cannot be one Slack sent; the message says why."""


class Inbound(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    team: str | None = None


class SlashCommand(Inbound):
    channel: str
    text: str
    trigger_id: str
    response_url: str | None = None


class ButtonClick(Inbound):
    """A Submit, Cancel, Snooze or Open form button on a lock message."""

    action: str
    lock_id: str
    channel: str | None
    message_ts: str | None
    thread_ts: str | None
    trigger_id: str
    state: dict[str, dict[str, Any]]


class ViewSubmit(Inbound):
    callback_id: str
    private_metadata: str
    state: dict[str, dict[str, Any]]
    view_id: str


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


def read_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A request body as Slack means it: a JSON body (events), a form with a JSON ``payload``
    (interactions), or a plain form (slash commands)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    if content_type == "application/json":
        return _json_object(text, "the body")
    if content_type != FORM:
        raise Malformed(f"content type {content_type or 'none'}")
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
    if "command" not in form:
        raise Malformed("neither a command nor a payload")
    return form


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            raise Malformed(f"payload has no {'.'.join(path)}")
        value = value[key]
    return value


def _str(payload: Mapping[str, Any], *path: str) -> str:
    value = _get(payload, *path)
    if not isinstance(value, str) or not value:
        raise Malformed(f"payload field {'.'.join(path)} is not a string")
    return value


def _opt_str(payload: Mapping[str, Any], *path: str) -> str | None:
    try:
        return _str(payload, *path)
    except Malformed:
        return None


def _state(raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise Malformed("state.values is malformed")
    return {str(k): dict(v) for k, v in raw.items()}


def _values(container: Mapping[str, Any]) -> Any:
    state = container.get("state")
    if state is None:
        return None
    if not isinstance(state, Mapping):
        raise Malformed("state is not an object")
    return state.get("values")


def slash_command(body: Mapping[str, Any]) -> SlashCommand:
    return SlashCommand(
        user=_str(body, "user_id"),
        team=_opt_str(body, "team_id"),
        channel=_str(body, "channel_id"),
        text=str(body.get("text") or ""),
        trigger_id=_str(body, "trigger_id"),
        response_url=_opt_str(body, "response_url"),
    )


def button_click(body: Mapping[str, Any]) -> ButtonClick:
    actions = _get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise Malformed("payload has no actions")
    return ButtonClick(
        user=_str(body, "user", "id"),
        team=_opt_str(body, "team", "id"),
        action=_str(actions[0], "action_id"),
        lock_id=_str(actions[0], "value"),
        channel=_opt_str(body, "channel", "id"),
        message_ts=_opt_str(body, "message", "ts"),
        thread_ts=_opt_str(body, "message", "thread_ts"),
        trigger_id=_str(body, "trigger_id"),
        state=_state(_values(body)),
    )


def view_submit(body: Mapping[str, Any]) -> ViewSubmit:
    view = _get(body, "view")
    if not isinstance(view, Mapping):
        raise Malformed("view is not an object")
    metadata = view.get("private_metadata") or ""
    if not isinstance(metadata, str):
        raise Malformed("private_metadata is not a string")
    return ViewSubmit(
        user=_str(body, "user", "id"),
        team=_opt_str(body, "team", "id"),
        callback_id=_str(view, "callback_id"),
        private_metadata=metadata,
        state=_state(_values(view)),
        view_id=_str(view, "id"),
    )


def typed(body: Mapping[str, Any]) -> Inbound | None:
    """The event a body carries, or None for kinds Lockstep has no typed event for (Bolt
    answers those itself)."""
    if "command" in body:
        return slash_command(body)
    match body.get("type"):
        case "block_actions":
            return button_click(body)
        case "view_submission":
            return view_submit(body)
        case _:
            return None
