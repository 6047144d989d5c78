"""Forms (kodosumi JSON) as Block Kit, and Slack's ``state.values`` back as raw inputs (pure).

Messages and modals share ids (block ``input_block_id(name)``, action ``name``), so ``read_state``
reads either surface and a re-rendered message keeps what was typed. Inputs are always optional:
``flows.parse`` validates, and its errors come back as hints (messages) or as
``response_action: "errors"`` (modals). Display text is cut to Slack's limits; identifiers that
cutting would corrupt (lock id, callback id, private metadata) raise ValueError instead. Text
conversion (markdown/HTML to mrkdwn, escaping, cutting, splitting) lives in ``bot.mrkdwn``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from bot.mrkdwn import chunks, cut, html_to_mrkdwn, markdown_to_mrkdwn, mrkdwn_escape
from flows.errors import GLOBAL

ACTION_SUBMIT = "lockstep_submit"
ACTION_CANCEL = "lockstep_cancel"
ACTION_OPEN = "lockstep_open"
LOCK_CALLBACK = "lockstep_lock"
ENTRY_CALLBACK = "lockstep_entry"
ACTIONS_BLOCK_ID = "lock_actions"

SUBMIT_TEXT = "Submit"
CANCEL_TEXT = "Cancel"
OPEN_TEXT = "Open form"
MODAL_TITLE = "Lockstep"
EMPTY_FORM_TEXT = "Nothing to fill in."
UNNAMED = "(unnamed)"
MORE_TEXT = "_…the rest is in the form._"

MESSAGE_MAX_BLOCKS = 50
MESSAGE_MAX_CHARS = 12_000  # JSON of the blocks; Slack fails near 13k with msg_blocks_too_long
HINT_RESERVE = 100  # characters kept free per input for an error hint on a re-render
MODAL_MAX_BLOCKS = 100

_ID, _SECTION, _HEADER, _LABEL, _PLACEHOLDER = 255, 3000, 150, 2000, 150
_BUTTON, _BUTTON_VALUE, _OPTION_TEXT, OPTION_VALUE_MAX, _OPTIONS = 75, 2000, 75, 150, 100
_VIEW_TEXT, _METADATA, _TEXT_INPUT, _MAX_EPOCH = 24, 3000, 3000, 9_999_999_999

_TEXTUAL = frozenset({"text", "password", "textarea", "number"})
_CHOICES = frozenset({"boolean", "select", "multiselect", "user"})
INPUT_TYPES = _TEXTUAL | _CHOICES | {"date", "time", "datetime-local"}
_TRUE = frozenset({"on", "true", "1", "yes"})

Block = dict[str, Any]
Form = list[dict[str, Any]]


def input_block_id(name: str) -> str:
    """``"f_" + name``; a name too long for a block id is shortened with a hash, to stay unique."""
    if len(name) <= _ID - 2:
        return "f_" + name
    return f"f_{name[:200]}~{hashlib.sha256(name.encode()).hexdigest()[:32]}"


def action_id_for(name: str) -> str:
    return name[:_ID]


def _plain(text: str, limit: int) -> dict[str, str]:
    return {"type": "plain_text", "text": cut(text, limit)}


def _checked_id(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise ValueError(f"{what} is longer than Slack's {limit} characters")
    return value


def _text_of(item: Mapping[str, Any] | None, *keys: str) -> str | None:
    """The first of ``keys`` that holds a non-blank string."""
    found = (item.get(k) for k in keys) if item else ()
    return next((v for v in found if isinstance(v, str) and v.strip()), None)


def _named(item: Mapping[str, Any]) -> bool:
    return isinstance(item.get("name"), str) and item["name"] != ""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- text ------------------------------------------------------------------------------------


def _sections(text: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks(text, _SECTION)
    ]


def _text_blocks(form: Form) -> list[Block]:
    return [b for e in form if isinstance(e, Mapping) for b in _display_blocks(e)]


def _display_blocks(element: Mapping[str, Any]) -> list[Block]:
    kind, text = element.get("type"), element.get("text")
    if kind in ("markdown", "html") and isinstance(text, str):
        return _sections(markdown_to_mrkdwn(text) if kind == "markdown" else html_to_mrkdwn(text))
    return [{"type": "divider"}] if kind in ("break", "hr") else []


# --- values ----------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _integral(value: Any) -> bool:
    return (number := _num(value)) is not None and number.is_integer()


def _num_text(value: Any) -> str | None:
    number = _num(value)
    if number is None:
        return None
    return format(Decimal(repr(number)).normalize(), "f")  # never "1e+20": Slack wants digits


def _picker_value(kind: str, value: Any) -> Any:
    """A date/time picker's initial value, or None (Slack rejects a malformed one). Naive
    date-times are UTC wall time, as in ``flows.parse``."""
    try:
        if isinstance(value, str):
            value = (time if kind == "time" else datetime).fromisoformat(value.strip())
    except ValueError:
        return None
    if isinstance(value, datetime) and kind != "datetime-local":
        value = value.date() if kind == "date" else value.time()
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "time" and isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    number = _num(value) if kind == "datetime-local" and not isinstance(value, str) else None
    return int(number) if number is not None and 0 <= number <= _MAX_EPOCH else None


# --- inputs ----------------------------------------------------------------------------------

_PICKERS = {
    "date": ("datepicker", "initial_date"),
    "time": ("timepicker", "initial_time"),
    "datetime-local": ("datetimepicker", "initial_date_time"),
}


def form_inputs(form: Form) -> list[dict[str, Any]]:
    return [e for e in form if isinstance(e, dict) and e.get("type") in INPUT_TYPES and _named(e)]


def option_items(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = element.get("option")
    items = items if isinstance(items, list) else []
    return [o for o in items if isinstance(o, Mapping) and _named(o)]


def _options(element: Mapping[str, Any]) -> list[Block]:
    out: dict[str, Block] = {}
    for o in option_items(element):
        text = _plain(_text_of(o, "label", "name") or UNNAMED, _OPTION_TEXT)
        out.setdefault(
            o["name"][:OPTION_VALUE_MAX], {"text": text, "value": o["name"][:OPTION_VALUE_MAX]}
        )
    return list(out.values())[:_OPTIONS]


def _number_input(el: Mapping[str, Any], value: Any) -> Block:
    step, low, high = el.get("step"), el.get("min_value"), el.get("max_value")
    integral = bool(_num(step)) and all(v is None or _integral(v) for v in (step, low, high))
    shown = None if integral and not _integral(value) else _num_text(value)
    return {"type": "number_input", "is_decimal_allowed": not integral, "initial_value": shown}


def _text_input(el: Mapping[str, Any], value: Any) -> Block:
    limit = el.get("max_length") if el["type"] in ("textarea", "password") else None
    limit = min(limit, _TEXT_INPUT) if type(limit) is int and limit >= 1 else None
    text = value if isinstance(value, str) else _num_text(value)
    return {
        "type": "plain_text_input",
        "multiline": True if el["type"] == "textarea" else None,
        "max_length": limit,
        "initial_value": text[: limit or _TEXT_INPUT] if text else None,
    }


def _element(el: Mapping[str, Any], value: Any, *, modal: bool) -> Block:
    kind, name = el["type"], el["name"]
    out: Block = {"action_id": action_id_for(name)}
    if kind == "number" and modal:
        out |= _number_input(el, value)
        out |= {k: _num_text(el.get(k)) for k in ("min_value", "max_value")}
    elif kind in _TEXTUAL:
        out |= _text_input(el, value)
    elif kind in _PICKERS:
        widget, key = _PICKERS[kind]
        out |= {"type": widget, key: _picker_value(kind, value)}
    elif kind == "boolean":
        text = _plain(_text_of(el, "option", "label", "name") or UNNAMED, _OPTION_TEXT)
        option: Block = {"text": text, "value": "on"}
        on = value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)
        out |= {
            "type": "checkboxes",
            "options": [option],
            "initial_options": [option] if on else None,
        }
    elif kind in ("select", "multiselect"):
        options = _options(el)
        wanted = {v[:OPTION_VALUE_MAX] for v in _as_list(value) if isinstance(v, str)}
        chosen = [o for o in options if o["value"] in wanted]
        if kind == "select":
            out |= {"type": "static_select", "options": options}
            out["initial_option"] = chosen[0] if chosen else None
        else:
            most = el.get("max_selected")
            out |= {"type": "multi_static_select", "options": options}
            out["initial_options"] = chosen or None
            out["max_selected_items"] = most if type(most) is int and most >= 1 else None
    else:
        users = [u for u in _as_list(value) if isinstance(u, str) and u]
        if el.get("multiple"):
            out |= {"type": "multi_users_select", "initial_users": users or None}
        else:
            out |= {"type": "users_select", "initial_user": users[0] if users else None}
    placeholder = _text_of(el, "placeholder")
    if placeholder and out["type"] not in ("checkboxes", "datetimepicker"):
        out["placeholder"] = _plain(placeholder, _PLACEHOLDER)
    return {k: v for k, v in out.items() if v is not None}


def _initial(el: Mapping[str, Any], values: Mapping[str, Any] | None) -> Any:
    if values is not None and el["name"] in values:
        return values[el["name"]]
    if el.get("value") is None and el["type"] in ("select", "multiselect"):
        return [o["name"] for o in option_items(el) if o.get("value") is True]
    return el.get("value")


def _input_block(el: Mapping[str, Any], value: Any, errors: list[str], *, modal: bool) -> Block:
    mark = " *" if el.get("required") else ""
    label = cut(_text_of(el, "label", "name") or UNNAMED, _LABEL - len(mark)) + mark
    block: Block = {
        "type": "input",
        "block_id": input_block_id(el["name"]),
        "optional": True,
        "dispatch_action": False,
        "label": {"type": "plain_text", "text": label},
        "element": _element(el, value, modal=modal),
    }
    if errors:
        block["hint"] = _plain("⚠️ " + " ".join(errors), _LABEL)
    elif hint := _text_of(el, "hint"):
        block["hint"] = _plain(hint, _LABEL)
    return block


def _messages(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [m for m in items if isinstance(m, str) and m.strip()]


def _form_blocks(
    form: Form, *, modal: bool, values: Mapping[str, Any] | None, errors: Mapping[str, Any]
) -> list[Block]:
    blocks: list[Block] = []
    inputs = {id(e) for e in form_inputs(form)}
    for el in form:
        if id(el) in inputs:
            errs = _messages(errors.get(el["name"]))
            blocks.append(_input_block(el, _initial(el, values), errs, modal=modal))
        elif isinstance(el, Mapping):
            blocks.extend(_display_blocks(el))
    return blocks


# --- surfaces --------------------------------------------------------------------------------


def _find(form: Form, kind: str) -> dict[str, Any] | None:
    return next((e for e in form if isinstance(e, dict) and e.get("type") == kind), None)


def _button(text: str, action_id: str, lock_id: str, style: str) -> Block:
    value = _checked_id(lock_id, _BUTTON_VALUE, "lock_id")
    return {
        "type": "button",
        "action_id": action_id,
        "text": _plain(text, _BUTTON),
        "value": value,
        "style": style,
    }


def _actions(form: Form, lock_id: str, *, open_form: bool = False) -> Block:
    """Submit shows when the form has one or has inputs, and whenever it'd be the only button."""
    submit, cancel = _find(form, "submit"), _find(form, "cancel")
    buttons = []
    if open_form:
        buttons.append(_button(OPEN_TEXT, ACTION_OPEN, lock_id, "primary"))
    elif submit or form_inputs(form) or not cancel:
        text = _text_of(submit, "text") or SUBMIT_TEXT
        buttons.append(_button(text, ACTION_SUBMIT, lock_id, "primary"))
    if cancel:
        text = _text_of(cancel, "text") or CANCEL_TEXT
        buttons.append(_button(text, ACTION_CANCEL, lock_id, "danger"))
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": buttons}


def _header(title: str) -> list[Block]:
    return [{"type": "header", "text": _plain(title.strip(), _HEADER)}] if title.strip() else []


def _size(blocks: list[Block]) -> int:
    return len(json.dumps(blocks, ensure_ascii=False, separators=(",", ":")))


def _capped(head: list[Block], body: list[Block], tail: list[Block]) -> list[Block]:
    """As much of ``body`` as fits a message; a cut body ends with a pointer to the form."""
    room, chars = MESSAGE_MAX_BLOCKS - len(head + tail), MESSAGE_MAX_CHARS - _size(head + tail)
    sizes = [_size([b]) - 1 for b in body]  # "[b]" less the two brackets, plus a comma
    if len(body) <= room and sum(sizes) <= chars:
        return head + body + tail
    more = _sections(MORE_TEXT)
    room, chars = room - 1, chars - _size(more)
    kept: list[Block] = []
    for block, size in zip(body, sizes, strict=True):
        if len(kept) >= room or size > chars:
            break
        kept.append(block)
        chars -= size
    return head + kept + more + tail


def _split_errors(
    form: Form, errors: Mapping[str, Any] | None
) -> tuple[list[str], dict[str, list[str]]]:
    """Global messages, with those for fields the form lacks (they'd show nowhere)."""
    names, errors = {e["name"] for e in form_inputs(form)}, errors or {}
    glob, fields = _messages(errors.get(GLOBAL)), {}
    for key, value in errors.items():
        if key in names:
            fields[key] = _messages(value)
        elif key != GLOBAL:
            glob.extend(_messages(value))
    return glob, fields


def _message(
    form: Form, lock_id: str, title: str, errors: Mapping[str, Any] | None, values: Any
) -> list[Block]:
    glob, fields = _split_errors(form, errors)
    warning = _sections(cut("\n".join(f":warning: {mrkdwn_escape(m)}" for m in glob), _SECTION))
    body = _form_blocks(form, modal=False, values=values, errors=fields)
    return _header(title) + warning + body + [_actions(form, lock_id)]


def fits_message(form: Form) -> bool:
    """Whether the form can be answered inside a message; if not, open it in a modal.

    Leaves a block, ``HINT_RESERVE`` characters per input and ~1k more spare for a re-render
    with a title and errors (not for long typed values: Slack's limit counts those too). No
    element is modal-only: numbers render as text, ``datetimepicker`` works in messages.
    """
    blocks = _message(form, "", "", None, None)
    reserve = HINT_RESERVE * sum(b["type"] == "input" for b in blocks)
    return len(blocks) < MESSAGE_MAX_BLOCKS and _size(blocks) + reserve <= MESSAGE_MAX_CHARS


def message_blocks(
    form: Form,
    *,
    lock_id: str,
    title: str,
    errors: Mapping[str, list[str]] | None = None,
    values: Mapping[str, Any] | None = None,
) -> list[Block]:
    """The lock as a form in a message. Past 50 blocks it raises ValueError (see fits_message)."""
    blocks = _message(form, lock_id, title, errors, values)
    if len(blocks) > MESSAGE_MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks do not fit a message: use open_form_blocks")
    return blocks


def open_form_blocks(form: Form, *, lock_id: str, title: str) -> list[Block]:
    return _capped(_header(title), _text_blocks(form), [_actions(form, lock_id, open_form=True)])


def decided_blocks(form: Form, *, title: str, outcome: str) -> list[Block]:
    line = {"type": "mrkdwn", "text": cut(mrkdwn_escape(outcome.strip()), _SECTION)}
    tail = [{"type": "context", "elements": [line]}] if outcome.strip() else []
    return _capped(_header(title), _text_blocks(form), tail)


def modal_view(
    form: Form,
    *,
    title: str,
    callback_id: str,
    private_metadata: str,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The form as a modal. Past 100 blocks inputs win: the last display blocks go first."""
    blocks = _form_blocks(form, modal=True, values=values, errors={})
    if len(blocks) > MODAL_MAX_BLOCKS:
        spare = MODAL_MAX_BLOCKS - sum(b["type"] == "input" for b in blocks)
        kept = []
        for block in blocks:
            if block["type"] == "input" or spare > 0:
                kept.append(block)
                spare -= block["type"] != "input"
        blocks = kept[:MODAL_MAX_BLOCKS]
    metadata = _checked_id(private_metadata, _METADATA, "private_metadata")
    return {
        "type": "modal",
        "callback_id": _checked_id(callback_id, _ID, "callback_id"),
        "title": _plain(title.strip() or MODAL_TITLE, _VIEW_TEXT),
        "submit": _plain(_text_of(_find(form, "submit"), "text") or SUBMIT_TEXT, _VIEW_TEXT),
        "close": _plain(_text_of(_find(form, "cancel"), "text") or CANCEL_TEXT, _VIEW_TEXT),
        "blocks": blocks or _sections(EMPTY_FORM_TEXT),
    } | ({"private_metadata": metadata} if metadata else {})


def modal_errors(errors: Mapping[str, list[str]], *, form: Form | None = None) -> dict[str, str]:
    """InputsError's wire form as ``response_action: "errors"``, keyed by input block id.

    Global messages (and, given the form, those for fields it lacks) go to the first input
    block: the form's if given, else the first field with an error; with neither, they drop.
    """
    if form is not None:
        glob, fields = _split_errors(form, errors)
        first = next((e["name"] for e in form_inputs(form)), None)
    else:
        glob = _messages(errors.get(GLOBAL))
        fields = {k: _messages(v) for k, v in errors.items() if k != GLOBAL}
        first = next((k for k, v in fields.items() if v), None)
    if glob and first is not None:
        fields[first] = glob + fields.get(first, [])
    return {input_block_id(k): cut(" ".join(v), _LABEL) for k, v in fields.items() if v}
