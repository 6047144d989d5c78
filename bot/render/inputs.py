"""Form inputs as Block Kit input blocks (pure): one element per kodosumi input type, its
initial value, limits and hint. Messages and modals share ids (block ``input_block_id(name)``,
action ``name``), so ``bot.state`` reads either surface back the same way."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from bot.render.mrkdwn import cut
from flows.parse import TRUE, html_number

UNNAMED = "(unnamed)"
ID_MAX, LABEL_MAX, OPTION_VALUE_MAX = 255, 2000, 150
_PLACEHOLDER, _OPTION_TEXT, _OPTIONS, _TEXT_INPUT, _MAX_EPOCH = 150, 75, 100, 3000, 9_999_999_999
RADIO_OPTIONS = 10  # Slack's radio buttons (and checkboxes) hold ten options at most

_TEXTUAL = frozenset({"text", "password", "textarea", "number"})
_CHOICES = frozenset({"boolean", "select", "multiselect", "user"})
INPUT_TYPES = _TEXTUAL | _CHOICES | {"date", "time", "datetime-local", "file"}
MAX_FILES = 10  # Slack's file input takes at most ten

Block = dict[str, Any]
Form = list[dict[str, Any]]


def input_block_id(name: str) -> str:
    """``"f_" + name``; a name too long for a block id is shortened with a hash, to stay unique."""
    if len(name) <= ID_MAX - 2:
        return "f_" + name
    return f"f_{name[:200]}~{hashlib.sha256(name.encode()).hexdigest()[:32]}"


def action_id_for(name: str) -> str:
    return name[:ID_MAX]


def plain(text: str, limit: int) -> dict[str, str]:
    return {"type": "plain_text", "text": cut(text, limit)}


def text_of(item: Mapping[str, Any] | None, *keys: str) -> str | None:
    """The first of ``keys`` that holds a non-blank string."""
    found = (item.get(k) for k in keys) if item else ()
    return next((v for v in found if isinstance(v, str) and v.strip()), None)


def _named(item: Mapping[str, Any]) -> bool:
    return isinstance(item.get("name"), str) and item["name"] != ""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# values ----------------------------------------------------------------------------------


def _integral(value: Any) -> bool:
    return (number := html_number(value)) is not None and number.is_integer()


def _num_text(value: Any) -> str | None:
    number = html_number(value)
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
    number = html_number(value) if kind == "datetime-local" and not isinstance(value, str) else None
    return int(number) if number is not None and 0 <= number <= _MAX_EPOCH else None


# inputs ----------------------------------------------------------------------------------

_PICKERS = {
    "date": ("datepicker", "initial_date"),
    "time": ("timepicker", "initial_time"),
    "datetime-local": ("datetimepicker", "initial_date_time"),
}


def form_inputs(form: Form) -> list[dict[str, Any]]:
    return [e for e in form if isinstance(e, dict) and e.get("type") in INPUT_TYPES and _named(e)]


def action_groups(form: Form) -> dict[str, list[dict[str, Any]]]:
    """Named ``Action`` buttons by name (each name is one field of the form)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in form:
        if isinstance(e, dict) and e.get("type") == "action" and _named(e):
            groups.setdefault(e["name"], []).append(e)
    return groups


def action_choices(actions: list[dict[str, Any]]) -> list[Block]:
    """A group of ``Action`` buttons as radio options (a modal has one submit button)."""
    out: dict[str, Block] = {}
    for a in actions:
        if isinstance(a.get("value"), str) and a["value"]:
            value = a["value"][:OPTION_VALUE_MAX]
            text = plain(text_of(a, "text", "value") or UNNAMED, _OPTION_TEXT)
            out.setdefault(value, {"text": text, "value": value})
    return list(out.values())[:_OPTIONS]


def action_block(name: str, actions: list[dict[str, Any]], errors: list[str]) -> Block:
    """In a modal, a group of ``Action`` buttons is a choice made before Submit: radio
    buttons, or past the ten Slack shows as radio buttons, a select."""
    label = text_of(actions[0], "text", "name") if len(actions) == 1 else name
    choices = action_choices(actions)
    kind = "radio_buttons" if len(choices) <= RADIO_OPTIONS else "static_select"
    block: Block = {
        "type": "input",
        "block_id": input_block_id(name),
        "optional": True,
        "dispatch_action": False,
        "label": plain(label or UNNAMED, LABEL_MAX),
        "element": {"type": kind, "action_id": action_id_for(name), "options": choices},
    }
    if errors:
        block["hint"] = plain("⚠️ " + " ".join(errors), LABEL_MAX)
    return block


def option_items(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = element.get("option")
    items = items if isinstance(items, list) else []
    return [o for o in items if isinstance(o, Mapping) and _named(o)]


def _options(element: Mapping[str, Any]) -> list[Block]:
    """Every option once, up to what groups of options hold (``choices``)."""
    out: dict[str, Block] = {}
    for o in option_items(element):
        text = plain(text_of(o, "label", "name") or UNNAMED, _OPTION_TEXT)
        out.setdefault(
            o["name"][:OPTION_VALUE_MAX], {"text": text, "value": o["name"][:OPTION_VALUE_MAX]}
        )
    return list(out.values())[: _OPTIONS * _OPTIONS]


def choices(options: list[Block]) -> Block:
    """A select's options: up to 100 as they are; more (a list of countries) in groups of 100,
    as Slack takes them (its type-ahead searches every group)."""
    if len(options) <= _OPTIONS:
        return {"options": options}
    groups = []
    for at in range(0, len(options), _OPTIONS):
        part = options[at : at + _OPTIONS]
        label = f"{at + 1}-{at + len(part)}: {part[0]['text']['text']} …"
        groups.append({"label": plain(label, _OPTION_TEXT), "options": part})
    return {"option_groups": groups}


def _chosen(options: list[Block], value: Any) -> list[Block]:
    """The options ``value`` names: each by its value; else (a person typed it: ``/flow start
    deploy environment=Staging``) by its value or label whatever the case."""
    wanted = [v[:OPTION_VALUE_MAX] for v in _as_list(value) if isinstance(v, str)]
    named = {w for w in wanted if any(o["value"] == w for o in options)}
    folded = {w.strip().casefold() for w in wanted if w not in named}
    return [
        o
        for o in options
        if o["value"] in named or {o["value"].casefold(), o["text"]["text"].casefold()} & folded
    ]


def _said(el: Mapping[str, Any], value: Any) -> Any:
    """A multi-select's value typed as one text (``/flow start ... regions=eu,us``): its
    comma-separated items."""
    if el["type"] == "multiselect" and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


@dataclass(frozen=True)
class Unchosen:
    """What a select's typed value names that none of its options is (``missing``), whether
    that is all of it (``whole``), and the options' values (``choices``)."""

    missing: list[str]
    whole: bool
    choices: list[str]


def unchosen(form: Form, values: Mapping[str, Any]) -> dict[str, Unchosen]:
    """The form's selects whose text value in ``values`` names what none of their options is,
    by name."""
    found = {}
    for el in form_inputs(form):
        value = values.get(el["name"])
        if el["type"] not in ("select", "multiselect") or not isinstance(value, str):
            continue
        if not value.strip():
            continue  # emptied on purpose
        options = _options(el)
        items = _as_list(_said(el, value))
        missing = [i for i in items if not _chosen(options, i)]
        if missing or not items:
            choices = [o["value"] for o in options]
            found[el["name"]] = Unchosen(missing or [value], len(missing) == len(items), choices)
    return found


def _number_input(el: Mapping[str, Any], value: Any) -> Block:
    step, low, high = el.get("step"), el.get("min_value"), el.get("max_value")
    integral = bool(html_number(step)) and all(v is None or _integral(v) for v in (step, low, high))
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


def _required(el: Mapping[str, Any]) -> bool:
    """A checkbox is never required in Slack's sense (at least one option ticked): unticked is
    an answer, and ``flows.parse`` takes it as False."""
    return el.get("required") is True and el["type"] != "boolean"


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
    elif kind == "file":  # a modal-only element: forms with one open as a modal
        out |= {"type": "file_input", "max_files": MAX_FILES if el.get("multiple") else 1}
    elif kind == "boolean":
        keys = ("option", "label", "name") if el.get("option") != "on" else ("label", "name")
        text = plain(text_of(el, *keys) or UNNAMED, _OPTION_TEXT)
        option: Block = {"text": text, "value": "on"}
        on = value is True or (isinstance(value, str) and value.strip().lower() in TRUE)
        out |= {
            "type": "checkboxes",
            "options": [option],
            "initial_options": [option] if on else None,
        }
    elif kind in ("select", "multiselect"):
        options = _options(el)
        chosen = _chosen(options, _said(el, value))
        if kind == "select":
            out |= {"type": "static_select", **choices(options)}
            out["initial_option"] = chosen[0] if chosen else None
        else:
            most = el.get("max_selected")
            out |= {"type": "multi_static_select", **choices(options)}
            out["initial_options"] = chosen or None
            out["max_selected_items"] = most if type(most) is int and most >= 1 else None
    else:
        users = [u for u in _as_list(value) if isinstance(u, str) and u]
        if el.get("multiple"):
            out |= {"type": "multi_users_select", "initial_users": users or None}
        else:
            out |= {"type": "users_select", "initial_user": users[0] if users else None}
    placeholder = text_of(el, "placeholder")
    if placeholder and out["type"] not in ("checkboxes", "datetimepicker"):
        out["placeholder"] = plain(placeholder, _PLACEHOLDER)
    return {k: v for k, v in out.items() if v is not None}


def initial(el: Mapping[str, Any], values: Mapping[str, Any] | None) -> Any:
    if values is not None and el["name"] in values:
        return values[el["name"]]
    if el.get("value") is None and el["type"] in ("select", "multiselect"):
        return [o["name"] for o in option_items(el) if o.get("value") is True]
    return el.get("value")


def label_of(el: Mapping[str, Any]) -> str:
    """The words a person sees for a field: its label, else its name."""
    return text_of(el, "label", "name") or UNNAMED


def input_block(el: Mapping[str, Any], value: Any, errors: list[str], *, modal: bool) -> Block:
    """Required fields are Block Kit's own ``optional: false``: Slack marks the others
    "(optional)", and in a modal it refuses an empty required field before it sends anything.
    In a message Slack enforces nothing (and a Reject must go through with fields empty), so
    ``flows.parse`` checks every answer on the server, whichever surface it came from."""
    block: Block = {
        "type": "input",
        "block_id": input_block_id(el["name"]),
        "optional": not _required(el),
        "dispatch_action": False,
        "label": plain(label_of(el), LABEL_MAX),
        "element": _element(el, value, modal=modal),
    }
    if errors:
        block["hint"] = plain("⚠️ " + " ".join(errors), LABEL_MAX)
    elif hint := text_of(el, "hint"):
        block["hint"] = plain(hint, LABEL_MAX)
    return block
