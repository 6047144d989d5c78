"""How recorded values (lease results, step results, inputs, a run's result) are stored and
replayed.

JSON plus tags for the types a form or a flow produces, so a replayed flow gets the same value
it would have got live: ``date``/``time``/``datetime``, ``set`` (kodosumi hands uploaded files
as a set of names), ``flows.response`` bodies, and pydantic models defined at module level
(found again by their path; a model defined elsewhere is recorded as its fields). A dict's
number, boolean or ``None`` keys become strings, as JSON writes them. Anything else that is not
JSON is refused when recorded, with a clear message, rather than failing later on replay.
"""

from __future__ import annotations

import importlib
import json
from datetime import date, datetime, time
from typing import Any

from flows import response
from flows.errors import NotStorable

_TAGS: dict[str, Any] = {"$date": date, "$time": time, "$datetime": datetime}
_MODEL = "$model"


def encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotStorable(f"cannot record the float {value!r}")
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [encode(v) for v in value]
        return {"$set": sorted(items, key=repr)}
    if isinstance(value, dict):
        out = {_key(k): encode(v) for k, v in value.items()}
        if len(out) < len(value):
            raise NotStorable("cannot record a dict with two keys that JSON writes alike")
        return out
    if isinstance(value, response.Body):
        return {f"${value.kind}": value.body}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        fields = encode(dump(mode="json"))
        path = f"{type(value).__module__}:{type(value).__qualname__}"
        return fields if "<" in path else {_MODEL: path, "value": fields}
    raise NotStorable(f"cannot record a value of type {type(value).__name__}")


def _key(key: Any) -> str:
    """A dict's key as JSON writes it (kodosumi's results travel as JSON): ``1`` is ``"1"``,
    ``True`` is ``"true"``, ``None`` is ``"null"``."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(encode(key))
    raise NotStorable(f"cannot record a dict key of type {type(key).__name__}")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in _TAGS and isinstance(inner, str):
                return _TAGS[key].fromisoformat(inner)
            if key == "$set" and isinstance(inner, list):
                return {_hashable(decode(v)) for v in inner}
            if key[:1] == "$" and key[1:] in response.KINDS and isinstance(inner, str):
                return response.KINDS[key[1:]](body=inner)
        if value.keys() == {_MODEL, "value"} and isinstance(value[_MODEL], str):
            return _model(value[_MODEL], decode(value["value"]))
        return {k: decode(v) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _model(path: str, fields: Any) -> Any:
    """The model again, or its fields when its class cannot be found (moved or renamed)."""
    module, _, name = path.partition(":")
    try:
        cls: Any = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        return cls.model_validate(fields)
    except Exception:
        return fields


def as_fields(value: Any) -> Any:
    """A recorded value with a pydantic model's record opened to its fields (as a dict would
    show them); anything else as it is."""
    if isinstance(value, dict) and value.keys() == {_MODEL, "value"}:
        return value["value"]
    return value


def plain(value: Any) -> Any:
    """A recorded value as plain JSON for people to read: tags become their ISO strings,
    lists, bodies and fields."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in _TAGS or (key[:1] == "$" and key[1:] in response.KINDS):
                return inner
            if key == "$set" and isinstance(inner, list):
                return plain(inner)
        if value.keys() == {_MODEL, "value"}:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    return value
