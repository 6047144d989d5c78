"""What a form shows as Block Kit (pure): its text (markdown and HTML as mrkdwn sections,
breaks as dividers), its messages to the person (warnings, shown literally) and its inputs,
for ``bot.render.blocks`` to put on a message or in a modal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.htmltext import html_to_mrkdwn
from bot.render.inputs import (
    Block,
    Form,
    action_block,
    action_groups,
    form_inputs,
    initial,
    input_block,
)
from bot.render.mrkdwn import chunks, cut, literal, markdown_to_mrkdwn, mrkdwn_chunks, unmarked

SECTION = 3000  # characters of a section's text


def sections(text: str, *, verbatim: bool = False) -> list[Block]:
    """``verbatim``: the text holds what a person typed, so Slack must not link anything in it."""
    extra = {"verbatim": True} if verbatim else {}
    parts = chunks(text, SECTION) if verbatim else mrkdwn_chunks(text, SECTION)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": c, **extra}} for c in parts]


def text_blocks(form: Form) -> list[Block]:
    return [b for e in form if isinstance(e, Mapping) for b in display_blocks(e)]


def warnings(msgs: list[str]) -> list[Block]:
    """Messages for the form as a whole, shown literally: a handler may quote what was typed."""
    lines = "\n".join(f":warning: {literal(m)}" for m in msgs)
    return sections(cut(lines, SECTION), verbatim=True)


def display_blocks(element: Mapping[str, Any]) -> list[Block]:
    kind, text = element.get("type"), element.get("text")
    if kind == "errors":  # kodosumi's Errors(): the global messages it was built with
        return warnings(error_texts(element.get("error")))
    if kind in ("markdown", "html") and isinstance(text, str):
        return sections(markdown_to_mrkdwn(text) if kind == "markdown" else html_to_mrkdwn(text))
    return [{"type": "divider"}] if kind in ("break", "hr") else []


def error_texts(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [unmarked(m) for m in items if isinstance(m, str) and m.strip()]


def form_blocks(
    form: Form, *, modal: bool, values: Mapping[str, Any] | None, errors: Mapping[str, Any]
) -> list[Block]:
    blocks: list[Block] = []
    inputs = {id(e) for e in form_inputs(form)}
    groups = action_groups(form) if modal else {}
    for el in form:
        if id(el) in inputs:
            errs = error_texts(errors.get(el["name"])) or error_texts(el.get("error"))
            blocks.append(input_block(el, initial(el, values), errs, modal=modal))
        elif isinstance(el, Mapping) and el.get("name") in groups:
            actions = groups.pop(el["name"])  # a modal asks which, at the first of the group
            blocks.append(action_block(el["name"], actions, error_texts(errors.get(el["name"]))))
        elif isinstance(el, Mapping):
            blocks.extend(display_blocks(el))
    return blocks
