"""How recorded values (lease results, step results, inputs, a run's result) are stored and
replayed.

JSON plus tags for the types a form or a flow produces, so a replayed flow gets the same value
it would have got live: ``date``/``time``/``datetime``, ``set`` (kodosumi hands uploaded files
as a set of names), ``bytes``, ``flows.response`` bodies, and pydantic models and dataclasses
defined at module level (found again by their path; one defined elsewhere is recorded as its
fields). A dict's number, boolean or ``None`` keys become strings, as JSON writes them. Anything
else that is not JSON is refused when recorded, with a clear message, rather than failing later
on replay; ``loose=True`` (a run's result, never replayed) records it as its text instead.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
from datetime import date, datetime, time
from typing import Any

from flows import response
from flows.errors import NotStorable

_TAGS: dict[str, Any] = {"$date": date, "$time": time, "$datetime": datetime}
_MODEL = "$model"
_DATACLASS = "$dataclass"
_BYTES = "$bytes"
_DICT = "$dict"  # a dict of the flow's that reads like one of these tags, kept a dict


def encode(value: Any, loose: bool = False) -> Any:
    """``value`` as recorded. ``loose``: what cannot be recorded becomes its text (for a value
    only shown, never handed back to a flow)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            if loose:
                return str(value)
            raise NotStorable(f"cannot record the float {value!r}")
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode(v, loose) for v in value]
    if isinstance(value, set | frozenset):
        items = [encode(v, loose) for v in value]
        return {"$set": sorted(items, key=repr)}
    if isinstance(value, dict):
        out = {_key(k, loose): encode(v, loose) for k, v in value.items()}
        if len(out) < len(value):
            raise NotStorable("cannot record a dict with two keys that JSON writes alike")
        return {_DICT: out} if _looks_tagged(out) else out
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, response.Body):
        return {f"${value.kind}": value.body}
    path = f"{type(value).__module__}:{type(value).__qualname__}"
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        fields = encode(dump(mode="json"), loose)
        return fields if "<" in path else {_MODEL: path, "value": fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), loose) for f in dataclasses.fields(value)}
        return fields if "<" in path else {_DATACLASS: path, "value": fields}
    if loose:
        return str(value)
    raise NotStorable(f"cannot record a value of type {type(value).__name__}")


def _key(key: Any, loose: bool = False) -> str:
    """A dict's key as JSON writes it (kodosumi's results travel as JSON): ``1`` is ``"1"``,
    ``True`` is ``"true"``, ``None`` is ``"null"``."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(encode(key, loose))
    if loose:
        return str(key)
    raise NotStorable(f"cannot record a dict key of type {type(key).__name__}")


def _looks_tagged(value: dict[str, Any]) -> bool:
    """Would ``decode`` read this dict as a tag (a date, a model...)? Then it is recorded inside
    one of its own, so what someone typed (``{"$date": "2020-01-01"}`` in an API's inputs, say)
    comes back as the dict it was, never as a date, a model or an import of their choosing."""
    return (len(value) == 1 and next(iter(value))[:1] == "$") or _opened(value)


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == _DICT and isinstance(inner, dict):
                return {k: decode(v) for k, v in inner.items()}
            if key in _TAGS and isinstance(inner, str):
                return _TAGS[key].fromisoformat(inner)
            if key == "$set" and isinstance(inner, list):
                return {_hashable(decode(v)) for v in inner}
            if key == _BYTES and isinstance(inner, str):
                return base64.b64decode(inner)
            if key[:1] == "$" and key[1:] in response.KINDS and isinstance(inner, str):
                return response.KINDS[key[1:]](body=inner)
        if value.keys() == {_MODEL, "value"} and isinstance(value[_MODEL], str):
            return _model(value[_MODEL], decode(value["value"]))
        if value.keys() == {_DATACLASS, "value"} and isinstance(value[_DATACLASS], str):
            return _dataclass(value[_DATACLASS], decode(value["value"]))
        return {k: decode(v) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _found(path: str) -> Any:
    module, _, name = path.partition(":")
    cls: Any = importlib.import_module(module)
    for part in name.split("."):
        cls = getattr(cls, part)
    return cls


def _model(path: str, fields: Any) -> Any:
    """The model again, or its fields when its class cannot be found (moved or renamed)."""
    try:
        return _found(path).model_validate(fields)
    except Exception:
        return fields


def _dataclass(path: str, fields: Any) -> Any:
    """The dataclass again (its ``init=False`` fields set after), or its fields when its class
    cannot be found or no longer takes them."""
    try:
        cls = _found(path)
        kinds = {f.name: f.init for f in dataclasses.fields(cls)}
        if not isinstance(fields, dict) or fields.keys() != kinds.keys():
            return fields
        made = cls(**{k: v for k, v in fields.items() if kinds[k]})
        for k, v in fields.items():
            if not kinds[k]:
                object.__setattr__(made, k, v)
        return made
    except Exception:
        return fields


def _opened(value: Any) -> bool:
    """Is ``value`` the record of a pydantic model or a dataclass?"""
    return isinstance(value, dict) and (
        value.keys() == {_MODEL, "value"} or value.keys() == {_DATACLASS, "value"}
    )


def as_fields(value: Any) -> Any:
    """A recorded value with a pydantic model's or a dataclass's record opened to its fields
    (as a dict would show them), a dict kept from reading as a tag opened too; anything else
    as it is."""
    if isinstance(value, dict) and value.keys() == {_DICT} and isinstance(value[_DICT], dict):
        return value[_DICT]
    return value["value"] if _opened(value) else value


def plain(value: Any) -> Any:
    """A recorded value as plain JSON for people to read: tags become their ISO strings,
    lists, bodies and fields."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == _DICT and isinstance(inner, dict):
                return {k: plain(v) for k, v in inner.items()}
            if key in _TAGS or (key[:1] == "$" and key[1:] in response.KINDS):
                return inner
            if key == "$set" and isinstance(inner, list):
                return plain(inner)
            if key == _BYTES and isinstance(inner, str):
                return _readable(inner)
        if _opened(value):
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    return value


def _readable(encoded: str) -> str:
    """Recorded bytes for people: their text when they are UTF-8, else as recorded (base64)."""
    try:
        return base64.b64decode(encoded).decode("utf-8")
    except ValueError:
        return encoded
