"""Form elements as HTML (pure), for code that calls kodosumi's ``Model.render()``: Lockstep
itself shows forms in Slack. Works on an element's JSON, so it needs nothing of ``forms``.
Every value is escaped; markdown gets headings, paragraphs, emphasis, code and lists."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

Item = Mapping[str, Any]
_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])"), r"<em>\1</em>"),
]
_BULLET = re.compile(r"^\s*[-*]\s+")
_INPUT_ATTRS = {
    "placeholder": "placeholder", "size": "size", "pattern": "pattern", "min_value": "min",
    "max_value": "max", "step": "step", "min_length": "minlength", "max_length": "maxlength",
    "min_date": "min", "max_date": "max", "min_time": "min", "max_time": "max",
    "min_datetime": "min", "max_datetime": "max",
}  # fmt: skip


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _inline(text: str) -> str:
    out = escape(text)
    for pattern, replacement in _INLINE:
        out = pattern.sub(replacement, out)
    return out


def markdown(text: str) -> str:
    """A small, safe subset of Markdown: enough for form texts."""
    blocks, out = re.split(r"\n\s*\n", textwrap.dedent(text).strip()), []
    for block in filter(None, (b.strip("\n") for b in blocks)):
        lines = block.splitlines()
        heading = re.match(r"^(#{1,6})\s+(.*)$", lines[0].strip())
        if heading and len(lines) == 1:
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif all(_BULLET.match(line) for line in lines):
            items = "".join(f"<li>{_inline(_BULLET.sub('', x))}</li>" for x in lines)
            out.append(f"<ul>{items}</ul>")
        elif lines[0].strip().startswith("```"):
            code = "\n".join(x for x in lines if not x.strip().startswith("```"))
            out.append(f"<pre><code>{escape(code)}</code></pre>")
        else:
            out.append(f"<p>{'<br/>'.join(_inline(x.strip()) for x in lines)}</p>")
    return "\n".join(out)


def _error(item: Item) -> str:
    msgs = item.get("error") or []
    return f'<span class="error">{_e(" ".join(map(str, msgs)))}</span>' if msgs else ""


def _label(item: Item) -> str:
    return f'<label for="{_e(item["name"])}">{_e(item.get("label") or "")}</label>'


def _input(item: Item) -> str:
    attrs = [f'type="{_e(item["type"])}"', f'name="{_e(item["name"])}"', f'id="{_e(item["name"])}"']
    if item.get("required"):
        attrs.append("required")
    if item.get("value") not in (None, ""):
        attrs.append(f'value="{_e(item["value"])}"')
    for key, attr in _INPUT_ATTRS.items():
        if item.get(key) is not None:
            attrs.append(f'{attr}="{_e(item[key])}"')
    return f"{_label(item)}\n<input {' '.join(attrs)}>{_error(item)}"


def _textarea(item: Item) -> str:
    attrs = [f'name="{_e(item["name"])}"', f'id="{_e(item["name"])}"']
    attrs += ["required"] if item.get("required") else []
    for key, attr in (("rows", "rows"), ("cols", "cols"), ("max_length", "maxlength")):
        if item.get(key) is not None:
            attrs.append(f'{attr}="{_e(item[key])}"')
    body = f"<textarea {' '.join(attrs)}>{_e(item.get('value'))}</textarea>"
    return f"{_label(item)}\n{body}{_error(item)}"


def _checkbox(item: Item) -> str:
    checked = " checked" if item.get("value") else ""
    legend = f"<legend>{_e(item['label'])}</legend>\n" if item.get("label") else ""
    box = f'<input type="checkbox" name="{_e(item["name"])}"{checked}>'
    return f"{legend}<label>{box} {_e(item.get('option'))}</label>{_error(item)}"


def _select(item: Item) -> str:
    options = "".join(
        f'<option value="{_e(o.get("name"))}"{" selected" if o.get("value") else ""}>'
        f"{_e(o.get('label') if o.get('label') is not None else o.get('name'))}</option>"
        for o in item.get("option") or []
    )
    multiple = " multiple" if item["type"] == "multiselect" else ""
    body = f'<select name="{_e(item["name"])}"{multiple}>{options}</select>'
    return f"{_label(item)}\n{body}{_error(item)}"


def _files(item: Item) -> str:
    attrs = [f'type="file" name="{_e(item["name"])}"']
    attrs += [flag for flag in ("required", "multiple") if item.get(flag)]
    attrs += ["webkitdirectory"] if item.get("directory") else []
    return f"{_label(item)}\n<input {' '.join(attrs)}>{_error(item)}"


def _action(item: Item) -> str:
    name = f' name="{_e(item["name"])}"' if item.get("name") else ""
    value = f' value="{_e(item["value"])}"' if item.get("value") else ""
    return f'<button type="submit"{name}{value}>{_e(item.get("text"))}</button>'


def _errors(item: Item) -> str:
    msgs = item.get("error") or []
    return f'<div class="errors">{"<br/>".join(map(_e, msgs))}</div>' if msgs else ""


_RENDER: dict[str, Callable[[Item], str]] = {
    "markdown": lambda i: markdown(i.get("text") or ""),
    "html": lambda i: str(i.get("text") or ""),  # the author's HTML, as kodosumi shows it
    "break": lambda i: str(i.get("text") or ""),
    "hr": lambda i: str(i.get("text") or ""),
    "textarea": _textarea,
    "boolean": _checkbox,
    "select": _select,
    "multiselect": _select,
    "file": _files,
    "action": _action,
    "errors": _errors,
    "submit": lambda i: f'<button type="submit">{_e(i.get("text"))}</button>',
    "cancel": lambda i: f'<button type="button" name="__cancel__">{_e(i.get("text"))}</button>',
    "option": lambda i: f'<option value="{_e(i.get("name"))}">{_e(i.get("label"))}</option>',
}


def render(item: Item) -> str:
    """One element's JSON as HTML; inputs without a renderer of their own are ``<input>``s."""
    return _RENDER.get(str(item.get("type")), _input)(item)
