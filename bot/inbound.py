"""Slack payloads as typed inbound events (pure). Anything malformed is a ``ValueError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


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
    """A Submit, Cancel or Open form button on a lock message."""

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


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            raise ValueError(f"payload has no {'.'.join(path)}")
        value = value[key]
    return value


def _str(payload: Mapping[str, Any], *path: str) -> str:
    value = _get(payload, *path)
    if not isinstance(value, str) or not value:
        raise ValueError(f"payload field {'.'.join(path)} is not a string")
    return value


def _state(raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise ValueError("state.values is malformed")
    return {str(k): dict(v) for k, v in raw.items()}


def slash_command(body: Mapping[str, Any]) -> SlashCommand:
    return SlashCommand(
        user=_str(body, "user_id"),
        team=body.get("team_id"),
        channel=_str(body, "channel_id"),
        text=str(body.get("text") or ""),
        trigger_id=_str(body, "trigger_id"),
        response_url=body.get("response_url"),
    )


def button_click(body: Mapping[str, Any]) -> ButtonClick:
    actions = _get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise ValueError("payload has no actions")
    channel = body.get("channel") or {}
    message = body.get("message") or {}
    return ButtonClick(
        user=_str(body, "user", "id"),
        team=(body.get("team") or {}).get("id"),
        action=_str(actions[0], "action_id"),
        lock_id=_str(actions[0], "value"),
        channel=channel.get("id") if isinstance(channel, Mapping) else None,
        message_ts=message.get("ts") if isinstance(message, Mapping) else None,
        thread_ts=message.get("thread_ts") if isinstance(message, Mapping) else None,
        trigger_id=_str(body, "trigger_id"),
        state=_state((body.get("state") or {}).get("values")),
    )


def view_submit(body: Mapping[str, Any]) -> ViewSubmit:
    view = _get(body, "view")
    return ViewSubmit(
        user=_str(body, "user", "id"),
        team=(body.get("team") or {}).get("id"),
        callback_id=_str(view, "callback_id"),
        private_metadata=str(view.get("private_metadata") or ""),
        state=_state((view.get("state") or {}).get("values")),
        view_id=_str(view, "id"),
    )
