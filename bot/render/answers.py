"""Answers and results as fields people read (pure): the values a lock was answered with, and
a run's result, each under the label its form gave it, two columns (label, value) per row.

Values are what people typed, so they go out as ``plain_text``: no mention, link or formatting
in them comes alive. Only the values Slack itself picked go out as mrkdwn: people chosen in a
person field (``<@U…>``, checked to be user ids) and date-times (``<!date^…>``, each reader's
own time zone).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from bot.render import messages
from bot.render.inputs import Block, Form, form_inputs, label_of, option_items
from bot.render.mrkdwn import cut, literal
from flows import codec
from flows.codec import decode

USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
PAIRS_PER_SECTION = 5  # a section holds 10 fields: 5 rows of label and value
MAX_PAIRS = 20
_VALUE_MAX = 600  # characters of a value shown; the audit trail has it all
_FIELD_MAX = 2000
_LABEL_MAX = 200
# The JSON of an answer's (or a result's) fields, at most: with the form's text, the outcome
# and the notes, a message stays under the size Slack takes (``blocks.MESSAGE_MAX_CHARS``).
# Past it, long values are cut shorter.
FIELDS_MAX_CHARS = 7000
_SHORTEST = 40


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": cut(text, _VALUE_MAX), "emoji": False}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": cut(text, _FIELD_MAX), "verbatim": True}


def _label(text: str, limit: int = _LABEL_MAX) -> Block:
    return _mrkdwn(f"*{literal(cut(text, limit))}*")


def _shortened(value: Block, limit: int) -> Block:
    """A value cut to ``limit`` characters, if it is what someone typed (a mention or a date
    token the bot wrote is kept whole)."""
    return {**value, "text": cut(value["text"], limit)} if value["type"] == "plain_text" else value


def _number(value: int | float) -> str:
    return format(Decimal(repr(value)).normalize(), "f") if isinstance(value, float) else str(value)


def _date_token(at: datetime) -> str:
    """A date-time as each reader's local time; naive ones are UTC wall time, as parsed."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short}} {{time}}|{fallback}>"


def text(value: Any) -> str:
    """Any recorded value as words: yes/no, plain numbers and dates, lists joined, the rest as
    compact JSON."""
    match value:
        case bool():
            return messages.YES if value else messages.NO
        case int() | float():
            return _number(value)
        case str():
            return value
        case bytes() | bytearray():
            return str(_jsonable(value))
        case datetime():
            return value.strftime("%Y-%m-%d %H:%M") + ("" if value.tzinfo else " UTC")
        case date():
            return f"{value:%b} {value.day}, {value.year}"
        case time():
            return value.strftime("%H:%M")
        case list() | tuple():
            return ", ".join(text(v) for v in value)
        case set() | frozenset():
            return ", ".join(text(v) for v in _in_order(value))
        case BaseModel():
            value = _jsonable(value)  # its fields, as a dict shows them
    return json.dumps(value, ensure_ascii=False, default=_jsonable, separators=(", ", ": "))


def _in_order(members: set[Any] | frozenset[Any]) -> list[Any]:
    """A set's members in their order (numbers by value, words alphabetically); members that
    do not compare, by how they read."""
    try:
        return sorted(members)
    except TypeError:
        return sorted(members, key=repr)


def _jsonable(value: Any) -> Any:
    """What ``json`` cannot write itself: a pydantic model or a dataclass as its fields, bytes
    as their text, the rest as text."""
    if isinstance(value, set | frozenset):
        return _in_order(value)
    if isinstance(value, bytes | bytearray) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return codec.plain(codec.encode(value, loose=True))
    if isinstance(value, BaseModel):
        try:
            return value.model_dump(mode="json")
        except ValueError:  # a field pydantic cannot write as JSON
            pass
    return str(value)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def value_object(element: Mapping[str, Any] | None, value: Any) -> Block | None:
    """How a field's value shows, or None when it is empty."""
    value = decode(value)
    if _blank(value):
        return None
    kind = element.get("type") if element else None
    if kind == "password":
        return _plain(messages.HIDDEN)
    many = value if isinstance(value, list) else [value]
    if kind == "user" and all(isinstance(u, str) and USER_ID.fullmatch(u) for u in many):
        return _mrkdwn(", ".join(f"<@{u}>" for u in many))
    if kind in ("select", "multiselect") and element is not None:
        names = {o["name"]: label_of(o) for o in option_items(element)}
        return _plain(", ".join(names[v] if v in names else text(v) for v in many))
    if isinstance(value, datetime):
        return _mrkdwn(_date_token(value))
    return _plain(text(value))


def _sections(
    pairs: list[tuple[str, Block]], last: Sequence[tuple[str, Block]] = ()
) -> list[Block]:
    """Rows of label and value, then ``last`` (always shown: past ``MAX_PAIRS``, the values
    make room); many long values are cut shorter, to ``FIELDS_MAX_CHARS``."""
    room = MAX_PAIRS - len(last)
    shown, hidden = pairs[:room] + list(last), len(pairs) - room
    limit = _VALUE_MAX
    while True:
        label = min(_LABEL_MAX, max(limit, _SHORTEST))
        blocks: list[Block] = []
        for at in range(0, len(shown), PAIRS_PER_SECTION):
            row = shown[at : at + PAIRS_PER_SECTION]
            fields = [f for lb, v in row for f in (_label(lb, label), _shortened(v, limit))]
            blocks.append({"type": "section", "fields": fields})
        if limit <= _SHORTEST or len(json.dumps(blocks, ensure_ascii=False)) <= FIELDS_MAX_CHARS:
            break
        limit = max(_SHORTEST, limit // 2)
    if hidden > 0:
        more = {"type": "mrkdwn", "text": messages.MORE_FIELDS.format(count=hidden)}
        blocks.append({"type": "context", "elements": [more]})
    return blocks


def _pairs(
    values: Any, inputs: Mapping[str, Mapping[str, Any]], single: str, *, one_field: bool
) -> list[tuple[str, Block]]:
    """(label, value) for each non-empty value: a dict's keys by their fields' labels (or the
    key, readable); anything else under ``single``, or (``one_field``) under the one field. A
    pydantic model shows its fields, as a dict would."""
    values = codec.as_fields(values)
    if not isinstance(values, dict) or not isinstance(decode(values), dict):  # one value, tagged
        only = next(iter(inputs.values())) if one_field and len(inputs) == 1 else None
        shown = value_object(only, values)
        return [(label_of(only) if only else single, shown)] if shown else []
    pairs = []
    for key, value in values.items():
        element = inputs.get(key)
        shown = value_object(element, value)
        if shown is not None:
            pairs.append((label_of(element) if element else messages.title(key), shown))
    return pairs


def _inputs(forms: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for form in forms:
        for element in form_inputs(form if isinstance(form, list) else []):
            found.setdefault(element["name"], element)
    return found


def notes(labelled: Sequence[tuple[str, str | None]]) -> list[Block]:
    """Texts under the bot's own labels (a comment, a reason), as fields; blank ones left out."""
    return _sections([(label, _plain(t.strip())) for label, t in labelled if t and t.strip()])


def answer_blocks(form: Form, value: Any, comment: str | None = None) -> list[Block]:
    """A closed lock's answer: the values it was answered with, labelled by its form, and the
    comment given with it."""
    pairs = _pairs(value, _inputs([form]), messages.ANSWER_LABEL, one_field=True)
    said = (
        [(messages.COMMENT_LABEL, _plain(comment.strip()))] if comment and comment.strip() else []
    )
    return _sections(pairs, said)


def result_blocks(result: Any, forms: Sequence[Any]) -> list[Block]:
    """A run's result. Keys named like a field of one of the run's forms (``forms``: its entry
    form and its locks' forms) take that field's label and kind: only a person field's user ids
    become mentions, never a value that merely looks like one."""
    return _sections(_pairs(result, _inputs(forms), messages.RESULT_LABEL, one_field=False))
