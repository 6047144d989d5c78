"""kodosumi's values: what kodosumi hands enter and lease handlers, made from Lockstep's parsed
values (pure).

Lockstep parses every submission on the server first (``flows.parse``: required fields,
patterns, limits, types), then hands a ``ServeAPI`` app's handlers the values as a kodosumi
form would have submitted them: text as typed (``""`` when left blank), numbers as the digits
typed (``"007"`` stays ``"007"``, ``"0.00001"`` is not ``"1e-05"``), dates and times as
browsers send them (``"2025-01-31"``, ``"14:30"``, ``"2025-01-31T14:30"``), a checkbox as
``True``/``False``, a select as the chosen option's name (``None`` when nothing is chosen), an
``Action`` as the value of the button pressed (else ``None``), uploaded files as a ``set`` of
names (``None`` when none), and ``"_global_": None`` when the form has ``Errors()``. Keys
follow the form's order. ``FlowApp`` apps get the parsed, typed values instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from flows.errors import GLOBAL
from flows.forms import (
    Action,
    Checkbox,
    Errors,
    Input,
    InputArea,
    InputDate,
    InputDateTime,
    InputFiles,
    InputNumber,
    InputText,
    InputTime,
    Model,
    Select,
)


def as_submitted(model: Model, values: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (``flows.parse``'s, of the submission ``raw``) as kodosumi hands them."""
    out: dict[str, Any] = {}
    for element in model.elements:
        if isinstance(element, Errors):
            out[GLOBAL] = None
        elif isinstance(element, Action) and element.name:
            out.setdefault(element.name, values.get(element.name))
        elif isinstance(element, Input):
            out[element.name] = _submitted(element, values.get(element.name), raw)
    return out


def _submitted(element: Input, value: Any, raw: Mapping[str, Any]) -> Any:
    if isinstance(element, InputNumber) and value is not None:
        typed = raw.get(element.name)  # the parser took it: a number, or its digits
        return typed.strip() if isinstance(typed, str) else _text(value)
    if isinstance(element, Checkbox):
        return bool(value)
    if isinstance(element, InputFiles):
        return set(value) if value else None
    if isinstance(element, Select):
        return value
    if isinstance(element, InputText | InputArea | InputDate | InputTime | InputDateTime):
        return "" if value is None else _text(value)
    return value  # Lockstep's own elements (MultiSelect, UserSelect) keep their values


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # a number as its digits
