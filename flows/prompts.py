"""Typed prompts: the tracer builds the form, parses the answer and returns a typed value.

Each prompt is a lock named ``prompt.<kind>`` whose form is built here rather than by an
``@app.lock``; it takes the same options as ``tracer.lock`` (timeout, approvers, reminders...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from flows.errors import FlowConfigError, LockRejected
from flows.forms import (
    Cancel,
    Checkbox,
    Element,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputText,
    Markdown,
    Model,
    MultiSelect,
    Select,
    Submit,
)
from flows.typed import form_for, model_path

T = TypeVar("T")
PREFIX = "prompt."
_FIELDS: dict[type, Any] = {
    int: lambda label: InputNumber("value", label, required=True, step=1),
    float: lambda label: InputNumber("value", label, required=True),
    str: lambda label: InputText("value", label, required=True),
    bool: lambda label: Checkbox("value", "Yes", label),
    date: lambda label: InputDate("value", label, required=True),
    datetime: lambda label: InputDateTime("value", label, required=True),
}


def _options(options: Sequence[str]) -> list[InputOption]:
    if not options or not all(isinstance(o, str) and o for o in options):
        raise FlowConfigError("choices must be a non-empty list of strings")
    return [InputOption(o, o) for o in options]


class Prompts:
    """Mixed into ``Tracer``; ``_prompt`` waits at a lock with a ready-made form."""

    async def _prompt(
        self, kind: str, form: Model, options: dict[str, Any], data: dict[str, Any] | None = None
    ) -> Any:
        raise NotImplementedError

    async def approve(self, prompt: str, *, comment: bool = True, **options: Any) -> bool:
        """Approve (True) or Reject (False); the optional comment is kept in the audit trail."""
        elements: list[Element] = [Markdown(prompt)]
        if comment:
            elements.append(InputText("comment", "Comment"))
        form = Model(*elements, Submit("Approve"), Cancel("Reject"))
        try:
            await self._prompt("approval", form, options)
        except LockRejected:
            return False
        return True

    async def ask(self, prompt: str, **options: Any) -> str:
        answer: str = await self.input(prompt, str, **options)
        return answer

    async def choose(self, prompt: str, choices: Sequence[str], **options: Any) -> str:
        form = Model(Select("value", _options(choices), prompt, required=True), Submit("Choose"))
        chosen: str = (await self._prompt("choice", form, options))["value"]
        return chosen

    async def choose_many(self, prompt: str, choices: Sequence[str], **options: Any) -> list[str]:
        form = Model(
            MultiSelect("value", _options(choices), prompt, required=True), Submit("Choose")
        )
        chosen: list[str] = (await self._prompt("choices", form, options))["value"]
        return chosen

    async def input(self, prompt: str, kind: type[T], **options: Any) -> T:
        """Ask for one value of ``kind``: int, float, str, bool, date or datetime; or for a
        pydantic model, whose fields make the form (see ``flows.typed``) and which validates
        the answer: the flow gets a model instance."""
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            form = form_for(kind, prompt)
            data = {"model": model_path(kind)}
            answer = await self._prompt("input", form, options, data)
            return kind.model_validate(answer)
        build = _FIELDS.get(kind)
        if build is None:
            names = ", ".join(t.__name__ for t in _FIELDS)
            raise FlowConfigError(f"tracer.input takes one of {names}, not {kind!r}")
        form = Model(build(prompt), Submit("Send"))
        value: T = (await self._prompt("input", form, options))["value"]
        return kind(value) if kind is float else value  # type: ignore[call-arg]
