"""The form elements, with kodosumi's names, arguments and JSON; plus MultiSelect and
UserSelect. Authors import them from ``flows.forms``, which adds ``Model``.

Elements are small dataclasses, mutable as kodosumi's are (a lock handler may set a copied
template's ``value`` before returning it). ``to_json()`` (kodosumi: ``to_dict()``) gives
kodosumi's dict, key for key and in kodosumi's key order. Keys Lockstep adds (``hint``,
``error``, a select's ``required``) appear only when set, so an element that does not use them
has exactly kodosumi's JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from flows import html
from flows.errors import GLOBAL, FlowConfigError

SPACE = '<div class="space"></div>'  # kodosumi's Break and HR carry their HTML
RULE = '<hr class="medium"/>'


def _ext(default: Any) -> Any:
    return field(default=default, metadata={"extension": True})


@dataclass
class Element:
    """``error``: messages shown with the element (kodosumi's ``error=``, on every element)."""

    type: ClassVar[str]
    input: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...] | None] = None  # kodosumi's JSON keys, in its order
    error: Sequence[str] | None = field(default=None, kw_only=True, metadata={"extension": True})

    def __post_init__(self) -> None:
        if self.error is not None:
            msgs = [self.error] if isinstance(self.error, str) else list(self.error)
            object.__setattr__(self, "error", tuple(str(m) for m in msgs) or None)

    def to_json(self) -> dict[str, Any]:
        shown = self.keys
        if shown is None:
            shown = tuple(f.name for f in fields(self) if not f.metadata.get("extension"))
        out: dict[str, Any] = {"type": self.type}
        for name in shown:
            out[name] = _jsonable(getattr(self, name))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("extension") and f.name not in shown and value not in (None, False):
                out[f.name] = _jsonable(value)  # Lockstep-only keys stay out at defaults
        return out

    def to_dict(self) -> dict[str, Any]:
        """kodosumi's name for ``to_json``."""
        return self.to_json()

    def render(self) -> str:
        """The element as HTML, as kodosumi renders its forms for a browser."""
        return html.render(self.to_json())

    def parse_value(self, value: Any) -> Any:
        """kodosumi's hook: a submitted value as the element keeps it."""
        return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [v.to_json() if isinstance(v, Element) else v for v in value]
    return value


@dataclass
class Input(Element):
    input: ClassVar[bool] = True
    name: str = ""
    hint: str | None = field(default=None, kw_only=True, metadata={"extension": True})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.name or not isinstance(self.name, str):
            raise FlowConfigError(f"{type(self).__name__} needs a name")


@dataclass
class InputText(Input):
    type: ClassVar[str] = "text"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    size: int | None = None
    pattern: str | None = None


@dataclass
class InputPassword(InputText):
    type: ClassVar[str] = "password"
    min_length: int | None = None
    max_length: int | None = None


@dataclass
class InputArea(Input):
    type: ClassVar[str] = "textarea"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    rows: int | None = None
    cols: int | None = None
    max_length: int | None = None


@dataclass
class InputNumber(InputText):
    type: ClassVar[str] = "number"
    value: Any = None
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None


@dataclass
class InputDate(Input):
    type: ClassVar[str] = "date"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    min_date: str | None = None
    max_date: str | None = None


@dataclass
class InputTime(Input):
    type: ClassVar[str] = "time"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    min_time: str | None = None
    max_time: str | None = None
    step: int | None = None


@dataclass
class InputDateTime(Input):
    type: ClassVar[str] = "datetime-local"
    label: str | None = None
    value: str | None = None
    required: bool = False
    placeholder: str | None = None
    min_datetime: str | None = None
    max_datetime: str | None = None
    step: int | None = None


@dataclass
class Checkbox(Input):
    """``option`` is the text beside the box (kodosumi: ``"on"`` when not given, which is also
    what a browser submits for a ticked box)."""

    type: ClassVar[str] = "boolean"
    keys: ClassVar[tuple[str, ...] | None] = ("name", "label", "value", "option")
    option: str | None = None
    label: str | None = None
    value: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.option is None:
            object.__setattr__(self, "option", "on")

    def parse_value(self, value: Any) -> bool:
        return value is True or value == "on"


@dataclass
class InputOption(Element):
    """One choice of a select: ``name`` is what is submitted, ``value`` marks it chosen."""

    type: ClassVar[str] = "option"
    name: str | None = None
    label: str | None = None
    value: bool = False


def options_of(option: Any) -> tuple[InputOption, ...]:
    items = tuple(
        o
        if isinstance(o, InputOption)
        else InputOption(**{k: v for k, v in o.items() if k != "type"})
        for o in (option or ())
    )
    if not items:
        raise FlowConfigError("a select needs at least one InputOption")
    return items


@dataclass
class Select(Input):
    """As in kodosumi, a ``value`` marks its option chosen and the others not; with no
    ``value``, options keep their own marks (kodosumi clears them)."""

    type: ClassVar[str] = "select"
    keys: ClassVar[tuple[str, ...] | None] = ("name", "label", "value", "option", "error")
    option: Sequence[InputOption] = ()
    label: str | None = None
    value: str | None = None
    required: bool = _ext(False)

    def __post_init__(self) -> None:
        super().__post_init__()
        options = options_of(self.option)
        if self.value:
            options = tuple(replace(o, value=o.name == self.value) for o in options)
        object.__setattr__(self, "option", options)


@dataclass
class MultiSelect(Input):
    type: ClassVar[str] = "multiselect"
    option: Sequence[InputOption] = ()
    label: str | None = None
    value: list[str] | None = None
    required: bool = False
    max_selected: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "option", options_of(self.option))


@dataclass
class UserSelect(Input):
    """A Slack user picker; the value is a user id (``U…``/``W…``), a list when ``multiple``."""

    type: ClassVar[str] = "user"
    label: str | None = None
    value: Any = None
    required: bool = False
    multiple: bool = False


@dataclass
class InputFiles(Input):
    """Files people upload with the form (Slack: a file input, which only a modal has). The
    handler gets their names; the run reads them with ``tracer.fs()``."""

    type: ClassVar[str] = "file"
    label: str | None = None
    value: str | None = None
    required: bool = False
    multiple: bool = False
    directory: bool = False


@dataclass
class Action(Element):
    """A button that submits the form with ``name`` set to ``value`` (kodosumi's third
    argument is ``required``, which it ignores: pass ``text`` by keyword)."""

    type: ClassVar[str] = "action"
    keys: ClassVar[tuple[str, ...] | None] = ("name", "value", "text")
    name: str | None = None
    value: str | None = None
    required: bool = False
    text: str | None = None


@dataclass
class Markdown(Element):
    type: ClassVar[str] = "markdown"
    text: str | None = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.text is None and type(self) is Markdown:
            object.__setattr__(self, "text", "")


@dataclass
class HTML(Markdown):
    type: ClassVar[str] = "html"
    text: str | None = None


@dataclass(init=False)
class Break(Element):
    """Arguments are ignored, as in kodosumi; the JSON carries its HTML."""

    type: ClassVar[str] = "break"
    text: str = SPACE

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        object.__setattr__(self, "error", None)
        object.__setattr__(self, "text", type(self).text)


@dataclass(init=False)
class HR(Break):
    type: ClassVar[str] = "hr"
    text: str = RULE


@dataclass
class Errors(Element):
    """Where the form's global messages (``_global_``) show. A form with ``Errors()`` hands
    kodosumi-style handlers ``inputs["_global_"] = None``."""

    type: ClassVar[str] = "errors"
    name: ClassVar[str] = GLOBAL


@dataclass
class Submit(Element):
    type: ClassVar[str] = "submit"
    text: str = "Submit"


@dataclass
class Cancel(Element):
    type: ClassVar[str] = "cancel"
    text: str = "Cancel"
