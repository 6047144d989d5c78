"""Slack's ``state.values`` (a message's or a modal's inputs) back as raw inputs (pure).

The inverse of ``bot.blocks``: the same block and action ids, so either surface reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.inputs import (
    OPTION_VALUE_MAX,
    Form,
    action_groups,
    action_id_for,
    form_inputs,
    input_block_id,
    option_items,
)

_SCALARS = {
    "plain_text_input": "value",
    "number_input": "value",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "users_select": "selected_user",
}


def _str_or_none(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{what} must be a string")


def _items(value: Any, what: str) -> list[Any]:
    if value is None or isinstance(value, list):
        return value or []
    raise ValueError(f"{what} must be a list")


def _option_name(option: Any, names: Mapping[str, str]) -> str | None:
    if option is not None and not isinstance(option, Mapping):
        raise ValueError("an option must be an object")
    value = _str_or_none(option.get("value"), "option value") if option else None
    return names.get(value, value) if value is not None else None


def _read(el: Mapping[str, Any], action: Mapping[str, Any]) -> Any:
    kind = action.get("type")
    if isinstance(kind, str) and kind in _SCALARS:
        return _str_or_none(action.get(_SCALARS[kind]), _SCALARS[kind])
    if kind == "datetimepicker":
        stamp = action.get("selected_date_time")
        if stamp is None or (type(stamp) is int):
            return stamp
        raise ValueError("selected_date_time must be an integer")
    if kind == "checkboxes":
        return bool(_items(action.get("selected_options"), "selected_options"))
    names = {o["name"][:OPTION_VALUE_MAX]: o["name"] for o in reversed(option_items(el))}
    if kind == "static_select":
        return _option_name(action.get("selected_option"), names)
    if kind == "multi_static_select":
        chosen = _items(action.get("selected_options"), "selected_options")
        return [n for n in (_option_name(o, names) for o in chosen) if n is not None]
    if kind == "file_input":  # the uploaded files' descriptions, as Slack sends them
        files = _items(action.get("files"), "files")
        if not all(isinstance(f, Mapping) for f in files):
            raise ValueError("a file must be an object")
        return [dict(f) for f in files]
    if kind == "multi_users_select":
        users = _items(action.get("selected_users"), "selected_users")
        return [_str_or_none(u, "selected_users") for u in users if u is not None]
    raise ValueError(f"unexpected element type {kind!r}")


def read_state(form: Form, state_values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Slack's ``state.values`` as raw inputs for ``flows.parse.parse``. Absent blocks stay
    absent; a malformed payload raises ValueError, never anything else."""
    if not isinstance(state_values, Mapping):
        raise ValueError("state.values must be an object")
    raw: dict[str, Any] = {}
    for el in form_inputs(form):
        block = state_values.get(input_block_id(el["name"]))
        action = block.get(action_id_for(el["name"])) if isinstance(block, Mapping) else block
        if block is None or action is None:
            continue
        if not isinstance(action, Mapping):
            raise ValueError(f"state.values has no object for field {el['name']!r}")
        raw[el["name"]] = _read(el, action)
    for name, actions in action_groups(form).items():
        chosen = _cell(state_values, name)
        if chosen is not None and chosen.get("type") in ("radio_buttons", "static_select"):
            values = {a["value"][:OPTION_VALUE_MAX]: a["value"] for a in reversed(actions)
                      if isinstance(a.get("value"), str)}  # fmt: skip
            raw[name] = _option_name(chosen.get("selected_option"), values)
    return raw


def _cell(state_values: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    block = state_values.get(input_block_id(name))
    action = block.get(action_id_for(name)) if isinstance(block, Mapping) else None
    return action if isinstance(action, Mapping) else None
