"""Reading a signed Slack request (pure): its body, bounded in size and depth (``read_body``),
and each field checked against the shape Slack gives it. Every text is cleaned of the
characters no one types (``flows.text.clean``) and has a size; anything else is ``Malformed``.
``bot.inbound`` builds the typed events from these."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from flows.errors import LockstepError
from flows.text import clean

FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1 << 20  # bytes; Slack's largest payloads (a modal's state) are far smaller
MAX_DEPTH = 64  # JSON nesting; Slack's payloads stay below 20
MAX_TEXT = 40_000  # characters of any text field
ID = re.compile(r"[A-Z][A-Z0-9]{1,40}")  # users, channels, teams: U012AB, C0CHANNEL, T01
# a person: U012AB, or W012AB on Enterprise Grid; never a group (S…), channel or team id, which
# an approvers list may name
USER = re.compile(r"[UW][A-Z0-9]{1,40}")
TS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")  # a message's timestamp
TOKEN = re.compile(r"[!-~]{1,255}")  # trigger and view ids, action ids: printable ASCII
LOCK = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # a lock's id in a button's value
COMMAND = re.compile(r"/[!-~]{1,64}")
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


PAYLOAD = "payload="


def form_value(text: str) -> str:
    """A form-encoded value decoded as ``parse_qsl`` decodes it ('+' a space, each %XX the byte
    XX, then UTF-8), its escapes in C: ``unquote`` takes each in Python, half a millisecond
    for an interaction's payload. What this cannot decode so (a malformed escape, bytes that are
    not UTF-8) is decoded by ``unquote`` itself."""
    spaced = text.replace("+", " ")
    try:
        escaped = spaced.replace("\\", "\\\\").replace("%", "\\x").encode("ascii")
        return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
    except (UnicodeError, ValueError):
        return unquote(spaced)


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
    if text.startswith(PAYLOAD) and "&" not in text:  # an interaction: one field, often long
        return _json_object(form_value(text[len(PAYLOAD) :]), "payload")
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


def get(payload: Mapping[str, Any], *path: str) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            raise Malformed(f"payload has no {'.'.join(path)}")
        value = value[key]
    return value


def string(payload: Mapping[str, Any], *path: str, shape: re.Pattern[str] | None = None) -> str:
    value = get(payload, *path)
    if not isinstance(value, str) or not value:
        raise Malformed(f"payload field {'.'.join(path)} is not a string")
    if shape is not None and not shape.fullmatch(value):
        raise Malformed(f"payload field {'.'.join(path)} is malformed")
    if len(value) > MAX_TEXT:
        raise Malformed(f"payload field {'.'.join(path)} is too long")
    return value


def optional(
    payload: Mapping[str, Any], *path: str, shape: re.Pattern[str] | None = None
) -> str | None:
    """The field if it is there as a string; None if it is absent or null. Present and
    malformed is ``Malformed``: nothing Slack sends."""
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if value is None or value == "":
        return None
    return string(payload, *path, shape=shape)


def encodable(text: str) -> bool:
    """Is ``text`` what UTF-8 can carry (no lone surrogate, which JSON's ``\\ud800`` allows)?"""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Malformed(f"payload field {key} is not a string")
    return clean(value)


def team(body: Mapping[str, Any]) -> str | None:
    """An interaction's team: ``team.id``, or (installed to a whole Grid organisation, where
    ``team`` may be null) the person's own ``user.team_id``."""
    team = body.get("team")
    if team is not None and not isinstance(team, Mapping):
        raise Malformed("team is not an object")
    return optional(body, "team", "id", shape=ID) or optional(body, "user", "team_id", shape=ID)


def grid(body: Mapping[str, Any]) -> dict[str, Any]:
    """The enterprise fields of a request (Enterprise Grid): ``enterprise_id`` at the top
    (commands, events) or ``enterprise.id`` (interactions), and ``is_enterprise_install``."""
    enterprise = body.get("enterprise")
    if enterprise is not None and not isinstance(enterprise, Mapping | str):
        raise Malformed("enterprise is not an object")
    found = optional(body, "enterprise_id", shape=ID)
    if isinstance(enterprise, str):
        found = found or (enterprise if ID.fullmatch(enterprise) else None)
    elif enterprise is not None:
        found = found or optional(body, "enterprise", "id", shape=ID)
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
    if not ID.fullmatch(raw["id"]):
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
    if not isinstance(raw, str) or not ID.fullmatch(raw):
        raise Malformed("state.values: a chosen person is malformed")
    return raw


def state(container: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
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


def users(payload: Mapping[str, Any], key: str) -> tuple[str, ...]:
    users = payload.get(key) or []
    if not isinstance(users, list) or not all(
        isinstance(u, str) and USER.fullmatch(u) for u in users
    ):
        raise Malformed(f"{key} is not a list of user ids")
    return tuple(users)
