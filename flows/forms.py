"""Form elements with kodosumi's names, arguments and JSON; plus MultiSelect and UserSelect.

Elements are small frozen values. ``Model(*elements).to_json()`` gives kodosumi's list of
element dicts; ``Model.from_json`` reads it back (locks store their form that way, so a lock is
validated against the form it was shown with, even after a deploy changes the code).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from flows.errors import FlowConfigError


@dataclass(frozen=True)
class Element:
    type: ClassVar[str]
    input: ClassVar[bool] = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("extension") and value in (None, False):
                continue  # Lockstep-only keys stay out at defaults: exact kodosumi JSON
            out[f.name] = (
                [o.to_json() for o in value]
                if f.name == "option" and isinstance(value, tuple)
                else value
            )
        return out


def _ext(default: Any) -> Any:
    return field(default=default, metadata={"extension": True})


@dataclass(frozen=True)
class Input(Element):
    input: ClassVar[bool] = True
    name: str = ""
    hint: str | None = field(default=None, kw_only=True, metadata={"extension": True})

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise FlowConfigError(f"{type(self).__name__} needs a name")


@dataclass(frozen=True)
class InputText(Input):
    type: ClassVar[str] = "text"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    size: int | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class InputPassword(InputText):
    type: ClassVar[str] = "password"
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class InputArea(Input):
    type: ClassVar[str] = "textarea"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    rows: int | None = None
    cols: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class InputNumber(InputText):
    type: ClassVar[str] = "number"
    value: Any = None
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None


@dataclass(frozen=True)
class InputDate(Input):
    type: ClassVar[str] = "date"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    min_date: str | None = None
    max_date: str | None = None


@dataclass(frozen=True)
class InputTime(Input):
    type: ClassVar[str] = "time"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    min_time: str | None = None
    max_time: str | None = None
    step: int | None = None


@dataclass(frozen=True)
class InputDateTime(Input):
    type: ClassVar[str] = "datetime-local"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    min_datetime: str | None = None
    max_datetime: str | None = None
    step: int | None = None


@dataclass(frozen=True)
class Checkbox(Input):
    type: ClassVar[str] = "boolean"
    option: str | None = None
    label: str | None = None
    value: bool = False


@dataclass(frozen=True)
class InputOption(Element):
    type: ClassVar[str] = "option"
    name: str = ""
    label: str | None = None
    value: bool = False


def _options(option: Any) -> tuple[InputOption, ...]:
    items = tuple(
        o
        if isinstance(o, InputOption)
        else InputOption(**{k: v for k, v in o.items() if k != "type"})
        for o in (option or ())
    )
    if not items:
        raise FlowConfigError("a select needs at least one InputOption")
    return items


@dataclass(frozen=True)
class Select(Input):
    type: ClassVar[str] = "select"
    option: Sequence[InputOption] = ()
    label: str | None = None
    value: str | None = None
    required: bool = _ext(False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "option", _options(self.option))


@dataclass(frozen=True)
class MultiSelect(Input):
    type: ClassVar[str] = "multiselect"
    option: Sequence[InputOption] = ()
    label: str | None = None
    value: list[str] | None = None
    required: bool = False
    max_selected: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "option", _options(self.option))


@dataclass(frozen=True)
class UserSelect(Input):
    """A Slack user picker; the value is a user id (``U…``/``W…``), a list when ``multiple``."""

    type: ClassVar[str] = "user"
    label: str | None = None
    value: Any = None
    required: bool = False
    multiple: bool = False


@dataclass(frozen=True)
class Markdown(Element):
    type: ClassVar[str] = "markdown"
    text: str = ""


@dataclass(frozen=True)
class HTML(Markdown):
    type: ClassVar[str] = "html"


@dataclass(frozen=True)
class Break(Element):
    type: ClassVar[str] = "break"
    text: str | None = None


@dataclass(frozen=True)
class HR(Break):
    type: ClassVar[str] = "hr"


@dataclass(frozen=True)
class Errors(Element):
    type: ClassVar[str] = "errors"


@dataclass(frozen=True)
class Submit(Element):
    type: ClassVar[str] = "submit"
    text: str = "Submit"


@dataclass(frozen=True)
class Cancel(Element):
    type: ClassVar[str] = "cancel"
    text: str = "Cancel"


ELEMENTS: dict[str, type[Element]] = {
    cls.type: cls
    for cls in (
        InputText,
        InputPassword,
        InputArea,
        InputNumber,
        InputDate,
        InputTime,
        InputDateTime,
        Checkbox,
        InputOption,
        Select,
        MultiSelect,
        UserSelect,
        Markdown,
        HTML,
        Break,
        HR,
        Errors,
        Submit,
        Cancel,
    )
}


class Model:
    """An ordered form. Input names must be unique."""

    def __init__(self, *elements: Element) -> None:
        names = [e.name for e in elements if isinstance(e, Input)]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise FlowConfigError(f"form field names must be unique: {', '.join(sorted(dupes))}")
        for e in elements:
            if not isinstance(e, Element):
                raise FlowConfigError(f"not a form element: {e!r}")
        self.elements: tuple[Element, ...] = elements

    def __iter__(self) -> Iterator[Element]:
        return iter(self.elements)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.elements == other.elements

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Model{self.elements!r}"

    @property
    def inputs(self) -> list[Input]:
        return [e for e in self.elements if isinstance(e, Input)]

    def get(self, name: str) -> Input | None:
        return next((e for e in self.inputs if e.name == name), None)

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.elements]

    @classmethod
    def from_json(cls, items: list[dict[str, Any]]) -> Model:
        elements = []
        for item in items:
            kind = item.get("type")
            if kind not in ELEMENTS:
                raise FlowConfigError(f"unknown form element type {kind!r}")
            element_cls = ELEMENTS[kind]
            known = {f.name for f in fields(element_cls)}
            kwargs = {k: v for k, v in item.items() if k in known}
            if "option" in kwargs and element_cls is not Checkbox:
                kwargs["option"] = _options(kwargs["option"])
            elements.append(element_cls(**kwargs))
        return cls(*elements)


def redacted(form: Model | None, values: Any) -> Any:
    """``values`` with every password field's value as ``***``: for the audit trail."""
    if form is None or not isinstance(values, dict):
        return values
    secret = {e.name for e in form.inputs if isinstance(e, InputPassword)}
    return {k: ("***" if k in secret else v) for k, v in values.items()}
