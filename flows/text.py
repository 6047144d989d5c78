"""Text that people type, and text that flow authors write (pure).

What a person types is cleaned once where it comes in (``clean``): control characters (NUL,
which Postgres refuses, and the rest of C0 and C1 but tab and line breaks), unpaired
surrogates (which no UTF-8 database can store) and Unicode noncharacters go; nothing else
changes. Everything Lockstep shows of it is literal: no mention, broadcast or link written in it
comes alive, wherever it is shown.

A flow author's own text is literal too, unless the author asks otherwise, explicitly:

- ``mention("U012LEAD")`` (a user), ``mention("S0OPS")`` (a user group), ``mention("here")``
  or ``mention("channel")`` is a mention in a ``Markdown`` element or ``tracer.markdown``;
  ``<@U012LEAD>`` typed into the same text shows as typed. The mark it makes is built of
  noncharacters, which ``clean`` takes out of everything people type, so no answer, comment or
  value can forge one.
- ``quote(value)`` puts a value into Markdown as plain words: a ``[label](url)`` or
  ``**bold**`` a person typed shows as typed instead of becoming a link or bold text. Quote
  every value people gave when a flow writes it into its Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MENTION_OPEN, MENTION_CLOSE = "\ufdd0", "\ufdd1"  # noncharacters: never in text people type
MENTIONABLE = re.compile(r"[UW][A-Z0-9]{2,30}|S[A-Z0-9]{2,30}|here|channel|everyone")
_UNWANTED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)
_MARKDOWN = re.compile(r"([\\`*_\[\]()#<&])")  # what Lockstep's Markdown reads: links, bold,
# code, and HTML's line break


def clean(text: str) -> str:
    """``text`` without the characters no one means to type (see the module's docstring);
    line breaks made ``\\n``."""
    if text.isascii() and text.isprintable():
        return text
    return _UNWANTED.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def cleaned(value: Any) -> Any:
    """``value`` with every text in it (keys too, in lists and mappings) ``clean``."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {cleaned(k): cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [cleaned(v) for v in value]
    return value


def mention(target: str) -> str:
    """A mention in a flow's Markdown: a user (``U…``/``W…``), a user group (``S…``), or
    ``"here"``/``"channel"``/``"everyone"`` (a broadcast). Anything else is a ValueError."""
    if not isinstance(target, str) or not MENTIONABLE.fullmatch(target):
        raise ValueError(f"cannot mention {target!r}: give a user id, a group id, or 'here'")
    return f"{MENTION_OPEN}{target}{MENTION_CLOSE}"


def quote(value: object) -> str:
    """``value`` as words in Markdown: every Markdown mark in it escaped with a backslash."""
    return _MARKDOWN.sub(r"\\\1", str(value))
