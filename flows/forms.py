"""Forms: ``Model`` and its elements, with kodosumi's names, arguments and JSON (kodosumi's
``forms`` module; the elements themselves are defined in ``flows.elements``).

``Model(*elements).to_json()`` (kodosumi: ``get_model()``) gives kodosumi's list of element
dicts; ``Model.from_json`` reads it back (locks store their form that way, so a lock is
validated against the form it was shown with, even after a deploy changes the code).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

from flows.elements import (
    HR,
    HTML,
    Action,
    Break,
    Cancel,
    Checkbox,
    Element,
    Errors,
    Input,
    InputArea,
    InputDate,
    InputDateTime,
    InputFiles,
    InputNumber,
    InputOption,
    InputPassword,
    InputText,
    InputTime,
    Markdown,
    MultiSelect,
    Select,
    Submit,
    UserSelect,
    options_of,
)
from flows.errors import GLOBAL, FlowConfigError

log = logging.getLogger("lockstep.flows")

__all__ = [
    "ELEMENTS", "HR", "HTML", "Action", "Break", "Cancel", "Checkbox", "Element", "Errors",
    "Input", "InputArea", "InputDate", "InputDateTime", "InputFiles", "InputNumber",
    "InputOption", "InputPassword", "InputText", "InputTime", "Markdown", "Model",
    "MultiSelect", "Select", "Submit", "UserSelect", "element", "redacted",
]  # fmt: skip

ELEMENTS: dict[str, type[Element]] = {
    cls.type: cls
    for cls in (
        InputText, InputPassword, InputArea, InputNumber, InputDate, InputTime, InputDateTime,
        Checkbox, InputOption, Select, MultiSelect, UserSelect, InputFiles, Action, Markdown,
        HTML, Break, HR, Errors, Submit, Cancel,
    )
}  # fmt: skip


def element(item: Mapping[str, Any]) -> Element:
    """One element from its JSON; ``FlowConfigError`` for a type Lockstep does not know."""
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in ELEMENTS:
        raise FlowConfigError(f"unknown form element type {kind!r}")
    element_cls = ELEMENTS[kind]
    known = {f.name for f in fields(element_cls)}
    kwargs = {k: v for k, v in item.items() if k in known}
    if "option" in kwargs and element_cls is not Checkbox:
        kwargs["option"] = options_of(kwargs["option"])
    return element_cls(**kwargs)


class Model:
    """An ordered form (kodosumi's ``Model``; ``children`` are its elements). Input names must
    be unique; several ``Action`` buttons may share one name."""

    def __init__(self, *elements: Element, **_kwargs: Any) -> None:
        self.elements: list[Element] = list(elements)
        self._check()

    def _check(self) -> None:
        for e in self.elements:
            if not isinstance(e, Element):
                raise FlowConfigError(f"not a form element: {e!r}")
        names = Counter(e.name for e in self.elements if isinstance(e, Input))
        if dupes := sorted(n for n, seen in names.items() if seen > 1):
            raise FlowConfigError(f"form field names must be unique: {', '.join(dupes)}")

    def __iter__(self) -> Iterator[Element]:
        return iter(self.elements)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.elements == other.elements

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Model{self.elements!r}"

    @property
    def children(self) -> list[Element]:
        """The elements, as kodosumi's list: a lock handler may change them (``.value``,
        ``append``) before it returns the form; they are checked again as it is stored. As in
        kodosumi, ``children`` may be assigned (checked as ``Model(...)`` checks them)."""
        return self.elements

    @children.setter
    def children(self, elements: Iterable[Element]) -> None:
        self.elements = Model(*elements).elements

    @property
    def inputs(self) -> list[Input]:
        return [e for e in self.elements if isinstance(e, Input)]

    @property
    def actions(self) -> dict[str, list[Action]]:
        """Named ``Action`` buttons by name: each name is one field whose value is the value of
        the button pressed."""
        found: dict[str, list[Action]] = {}
        for e in self.elements:
            if isinstance(e, Action) and e.name:
                found.setdefault(e.name, []).append(e)
        return found

    def get(self, name: str) -> Input | None:
        return next((e for e in self.inputs if e.name == name), None)

    def to_json(self) -> list[dict[str, Any]]:
        self._check()  # a handler may have changed the elements since
        return [e.to_json() for e in self.elements]

    def get_model(self) -> list[dict[str, Any]]:
        """kodosumi's name for ``to_json``: the wire form, a list of element dicts."""
        return self.to_json()

    def get_model_json(self) -> str:
        """``{"elements": [...]}`` as a JSON string, as kodosumi's ``get_model_json``."""
        return json.dumps({"elements": self.to_json()}, ensure_ascii=False, separators=(",", ":"))

    def render(self) -> str:
        """The form as HTML, element by element."""
        return "\n".join(e.render() for e in self.elements)

    @classmethod
    def from_json(cls, items: list[dict[str, Any]]) -> Model:
        return cls(*(element(item) for item in items))

    @classmethod
    def model_validate(
        cls,
        elms: Sequence[Mapping[str, Any]],
        errors: Mapping[str, Sequence[str]] | None = None,
        **_kwargs: Any,
    ) -> Model:
        """kodosumi's rebuild from JSON, lenient: an unknown element type is logged and
        dropped. ``errors`` (InputsError's wire form) go to their elements, the global ones to
        ``Errors()``. The dicts given are not changed."""
        children = []
        for item in elms:
            try:
                built = element(item)
            except FlowConfigError as exc:
                log.warning("form element dropped: %s", exc)
                continue
            name = GLOBAL if isinstance(built, Errors) else getattr(built, "name", None)
            if errors and name and errors.get(name):
                built = replace(built, error=tuple(errors[name]))
            children.append(built)
        return cls(*children)

    def set_data(self, data: Mapping[str, Any] | None) -> None:
        """Put submitted values back into the form (after an error), as kodosumi does: a
        checkbox is ticked by ``"on"`` (or ``True``), a select marks the chosen option."""
        updated = []
        for e in self.elements:
            if isinstance(e, Checkbox):
                ticked = e.parse_value(data.get(e.name, "off")) if data else False
                e = replace(e, value=ticked)
            elif data and isinstance(e, Input | Action) and e.name and e.name in data:
                e = replace(e, value=e.parse_value(data[e.name]))
            updated.append(e)
        self.elements = updated


def redacted(form: Model | None, values: Any) -> Any:
    """``values`` with every password field's value as ``***``: for the audit trail."""
    if form is None or not isinstance(values, dict):
        return values
    secret = {e.name for e in form.inputs if isinstance(e, InputPassword)}
    return {k: ("***" if k in secret else v) for k, v in values.items()}
