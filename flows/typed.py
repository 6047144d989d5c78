"""Forms from pydantic models: ``tracer.input(prompt, SomeModel)``.

Each field becomes a form element: its title (or name) as the label, its description as the
hint, ``Literal``/``Enum`` as a select (a list of them as a multi-select), bounds such as
``ge``/``le``/``max_length`` as input limits, ``X | None`` or a default as optional. A field with
no form element is refused when the form is built, naming the field. The answer is validated by
the model itself, on the server; each error lands under its field.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from flows.app import resolve
from flows.errors import GLOBAL, FlowConfigError, InputsError, LockstepError
from flows.forms import (
    Checkbox,
    Input,
    InputArea,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputPassword,
    InputText,
    InputTime,
    Markdown,
    Model,
    MultiSelect,
    Select,
    Submit,
)

LOCK = "prompt.input"  # the lock of every tracer.input; a model's answers are checked here
MAX_FIELDS = 40  # a message holds 50 blocks; leave room for the prompt, errors and buttons
SUPPORTED = (
    "str, int, float, bool, date, datetime, time, SecretStr, a Literal or Enum of strings, "
    "or a list of such a Literal or Enum, each optionally `| None`"
)
_PICKERS: dict[Any, type[InputDate] | type[InputDateTime] | type[InputTime]] = {
    date: InputDate, datetime: InputDateTime, time: InputTime,
}  # fmt: skip


def model_path(model: type[BaseModel]) -> str:
    """Where any process finds the model again to validate an answer."""
    path = f"{model.__module__}:{model.__qualname__}"
    if "<" in path:
        raise FlowConfigError(
            f"tracer.input: model {model.__qualname__} must be defined at module level, so the "
            "answer can be validated by any process"
        )
    return path


def form_for(model: type[BaseModel], prompt: str | None = None) -> Model:
    """The form for ``model``; ``FlowConfigError`` naming the first field that has none."""
    fields = model.model_fields
    if not fields:
        raise FlowConfigError(f"tracer.input: model {model.__name__} has no fields to ask for")
    if len(fields) > MAX_FIELDS:
        raise FlowConfigError(
            f"tracer.input: model {model.__name__} has {len(fields)} fields; a Slack form "
            f"holds at most {MAX_FIELDS}"
        )
    elements: list[Any] = [Markdown(prompt)] if prompt else []
    for name, info in fields.items():
        try:
            elements.append(_element(info.alias or name, info))
        except _NoElement as exc:
            raise FlowConfigError(
                f"tracer.input: field {name!r} of {model.__name__} has type {exc}, which has no "
                f"form element; use {SUPPORTED}"
            ) from None
    return Model(*elements, Submit("Send"))


class _NoElement(LockstepError, TypeError):
    """The argument names the type that has no form element."""


def _element(name: str, info: FieldInfo) -> Input:
    kind, nullable = _unwrap(info.annotation)
    required = info.is_required() and not nullable
    label = info.title or name.replace("_", " ").strip().capitalize() or name
    common: dict[str, Any] = {"hint": info.description}
    default = _default(info)
    limits = _limits(info)
    options = _choices(kind)
    if options is not None:
        return Select(name, options, label, required=required, value=_text(default), **common)
    if get_origin(kind) in (list, set, frozenset, tuple) and len(get_args(kind)) >= 1:
        inner = _choices(get_args(kind)[0])
        if inner is None or (get_origin(kind) is tuple and get_args(kind)[-1] is not ...):
            raise _NoElement(_name(kind))
        chosen = [_text(v) for v in default] if isinstance(default, list | set | tuple) else None
        most = limits.get("max_length")
        return MultiSelect(name, inner, label, chosen, required, most, **common)
    if kind is bool:
        return Checkbox(name, label, label, value=default is True, **common)
    if kind in (int, float):
        step = 1 if kind is int else None
        low, high = limits.get("ge", limits.get("gt")), limits.get("le", limits.get("lt"))
        return InputNumber(
            name, label, default, required, min_value=low, max_value=high, step=step, **common
        )
    if kind is SecretStr:
        most = limits.get("max_length")
        return InputPassword(name, label, required=required, max_length=most, **common)
    if kind is str:
        most = limits.get("max_length")
        if most is not None:
            return InputArea(name, label, _text(default), required, max_length=most, **common)
        return InputText(name, label, _text(default), required, **common)
    if kind in _PICKERS:
        value = default.isoformat() if isinstance(default, date | time) else None
        return _PICKERS[kind](name, label, value, required, **common)
    raise _NoElement(_name(kind))


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _choices(kind: Any) -> list[InputOption] | None:
    """A select's options for a ``Literal`` or ``Enum`` of strings; None for anything else."""
    if get_origin(kind) is Literal:
        values = list(get_args(kind))
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        values = [m.value for m in kind]
    else:
        return None
    if not values or not all(isinstance(v, str) and v for v in values):
        raise _NoElement(_name(kind))
    return [InputOption(v, v) for v in dict.fromkeys(values)]


def _limits(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in info.metadata:
        for key in ("ge", "gt", "le", "lt", "max_length"):
            value = getattr(item, key, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.setdefault(key, value)
    return found


def _default(info: FieldInfo) -> Any:
    if info.default is PydanticUndefined or info.default_factory is not None:
        return None
    return info.default


def _text(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _name(kind: Any) -> str:
    plain = isinstance(kind, type) and not get_args(kind)
    return kind.__name__ if plain else repr(kind).replace("typing.", "")


def validate(inputs: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The built-in lease of ``tracer.input(prompt, Model)``: the model validates the parsed
    answer; each error goes back under its field. Returns the model's JSON form. (Inputs of a
    plain type have no model: the parser's checks were all.)"""
    if not isinstance(data, Mapping) or "model" not in data:
        return dict(inputs)
    model = resolve(data["model"])
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise FlowConfigError(f"{data['model']} is not a pydantic model")
    fields = model.model_fields.items()
    defaulted = {info.alias or name for name, info in fields if not info.is_required()}
    given = {k: v for k, v in inputs.items() if not (v in (None, []) and k in defaulted)}
    try:
        return model.model_validate(given).model_dump(mode="json")
    except ValidationError as exc:
        errors = InputsError()
        for error in exc.errors():
            loc = error.get("loc") or ()
            field = str(loc[0]) if loc else GLOBAL
            message = error["msg"]
            if field == GLOBAL:
                errors.flash(message)
            else:
                errors.add(**{field: message})
        raise errors from None
