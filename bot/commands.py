"""``/flow`` command text as a typed command, and the forgiving reading of what people type
(pure): subcommands and flow names in any case, the nearest command or flow for a typo, prefill
keys matched to the form's fields (and values to a select's choices), runs named by any unique
prefix of their id."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.render import messages
from bot.render.inputs import Form, unchosen
from bot.render.mrkdwn import literal

Verb = Literal["list", "start", "status", "audit", "cancel", "help", "unknown"]
VERBS: tuple[Verb, ...] = ("list", "start", "status", "audit", "cancel", "help")
_CLOSE_ENOUGH = 0.6  # difflib's ratio: "strat" ~ "start", "reveiw" ~ "review"
# Typographic quotes, as phones and "smart quotes" type " and ': double ones are quotes; single
# ones within a word are apostrophes (it\u2019s), elsewhere quotes if they pair
_DOUBLE_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u201f", '"'))
_SINGLES = "[\u2018\u2019\u201a\u201b]"
_SINGLE_QUOTE = re.compile(rf"(?<!\w){_SINGLES}|{_SINGLES}(?!\w)")
# Spaces shlex does not split at (a no-break space: Option+Space on a Mac) and invisible ones
_SPACE = re.compile(r"[^\S \t\r\n]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


@dataclass(frozen=True)
class Command:
    """``unknown``: the first word is no subcommand; ``target`` is that word, ``rest`` the
    words after it (to suggest the whole command back)."""

    verb: Verb
    target: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # what could not be read; the reply says so
    rest: tuple[str, ...] = ()


def parse_command(text: str) -> Command:
    """``start review doc="Q3 plan" owner=U1`` -> Command("start", "review", {...}).

    Empty text is ``help``; a first word that is no subcommand is ``unknown``. Values may be
    quoted with typographic quotes too (``doc=“Q3 plan”``), as phones type them."""
    words = _words(text)
    if not words:
        return Command("help")
    verb = next((v for v in VERBS if v == words[0].casefold()), None)
    if verb is None:
        return Command("unknown", words[0], rest=tuple(words[1:]))
    target = words[1] if len(words) > 1 else None
    values: dict[str, str] = {}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            return Command(verb, target, values, problem=word)
        values[key] = value
    return Command(verb, target, values)


def _words(text: str) -> list[str]:
    """The text's words, split at any space, quotes (straight or typographic) grouping them;
    where quotes do not pair, split at spaces."""
    text = _SPACE.sub(" ", _INVISIBLE.sub("", text)).translate(_DOUBLE_QUOTES)
    for attempt in (_SINGLE_QUOTE.sub("'", text), text):
        try:
            return shlex.split(attempt)
        except ValueError:
            continue
    return text.split()


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, whatever the case, if any is close enough."""
    by_folded = {c.casefold(): c for c in choices}
    found = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=_CLOSE_ENOUGH)
    return by_folded[found[0]] if found else None


def no_such_flow(name: str, flows: Iterable[str]) -> str:
    """What to say of a flow name that names none: the nearest one, if any is near."""
    meant = nearest(name, flows)
    text = messages.UNKNOWN_FLOW.format(name=literal(name))
    return text + (" " + messages.MEANT_FLOW.format(name=meant) if meant else "")


def find_name(name: str, choices: Iterable[str]) -> str | None:
    """The choice ``name`` names (a flow, a field): exactly, else whatever the case, when that
    is one choice."""
    names = list(choices)
    if name in names:
        return name
    folded = [n for n in names if n.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def suggestion(command: Command, flows: Iterable[str]) -> str | None:
    """What an ``unknown`` command probably meant, as a whole command to type: ``strat
    review`` -> ``/flow start review``; a flow's name alone -> ``/flow start <it>``."""
    assert command.verb == "unknown" and command.target is not None
    names = list(flows)
    word, rest = command.target, " ".join(command.rest)
    flow = find_name(word, names) or (None if command.rest else nearest(word, names))
    if flow is not None:
        return " ".join(filter(None, ["/flow start", flow, rest]))
    verb = nearest(word, VERBS)
    if verb is None:
        return None
    if verb == "start" and command.rest:
        target = command.rest[0]
        known = find_name(target, names) or nearest(target, names) or target
        rest = " ".join([known, *command.rest[1:]])
    return " ".join(filter(None, ["/flow", verb, rest]))


def distinct_prefixes(ids: Iterable[str], shortest: int) -> list[str]:
    """``ids`` cut as short as they can be, but no shorter than ``shortest``, while still told
    apart: what to show when a prefix names several runs."""
    found = list(ids)
    length = shortest
    while len({i[:length] for i in found}) < len(set(found)) and length < max(map(len, found)):
        length += 1
    return [i[:length] for i in found]


@dataclass(frozen=True)
class Prefill:
    """Prefill values matched to a form's fields: ``values`` by field name, and the keys that
    name no field (``unknown``), to be reported rather than silently dropped."""

    values: dict[str, str]
    unknown: tuple[str, ...]


def prefill(values: Mapping[str, str], fields: Iterable[str]) -> Prefill:
    """``key=value`` pairs for a form: keys match field names exactly, else whatever the case."""
    names = list(fields)
    known: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in values.items():
        name = find_name(key, names)
        if name is None:
            unknown.append(key)
        else:
            known[name] = value
    return Prefill(known, tuple(unknown))


def prefill_form(
    values: Mapping[str, str], fields: list[str], form: Form
) -> tuple[dict[str, str], list[str]]:
    """The ``key=value`` pairs an entry form (``fields``, ``form``) takes, and what to tell of
    those it does not (a key no field has, a value none of a select's choices is: left out, not
    guessed at)."""
    matched = prefill(values, fields)
    notes = []
    if matched.unknown:
        unknown = ", ".join(f"`{literal(k)}`" for k in matched.unknown)
        known = ", ".join(f"`{f}`" for f in fields) or messages.NO_FIELDS
        notes.append(messages.UNKNOWN_KEYS.format(keys=unknown, fields=known))
    taken = dict(matched.values)
    for name, off in unchosen(form, taken).items():
        choices = off.choices
        listed = ", ".join(f"`{literal(c)}`" for c in choices[: messages.CHOICES_LISTED])
        more = ", …" if len(choices) > messages.CHOICES_LISTED else ""
        if off.whole:  # none of it is a choice: the form's default shows
            del taken[name]
        said = ", ".join(f"`{literal(m)}`" for m in off.missing)
        notes.append(messages.UNKNOWN_CHOICE.format(field=name, value=said, choices=listed + more))
    return taken, notes
