"""``/flow`` command text as a typed command (pure)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Literal

Verb = Literal["list", "start", "status", "audit", "cancel", "help"]
VERBS: frozenset[str] = frozenset({"list", "start", "status", "audit", "cancel", "help"})


@dataclass(frozen=True)
class Command:
    verb: Verb
    target: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # what could not be read; the reply says so


def parse_command(text: str) -> Command:
    """``start review doc="Q3 plan" owner=U1`` -> Command("start", "review", {...}).

    Unknown verbs, and empty text, are ``help``."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if not words or words[0].lower() not in VERBS:
        return Command("help")
    verb: Verb = words[0].lower()  # type: ignore[assignment]
    target = words[1] if len(words) > 1 else None
    values: dict[str, str] = {}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            return Command(verb, target, values, problem=word)
        values[key] = value
    return Command(verb, target, values)
