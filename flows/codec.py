"""How recorded values (lease results, step results, inputs) are stored and replayed.

JSON plus tags for the types a form produces, so a replayed flow gets the same ``date`` it would
have got live. Anything else that is not JSON is refused when recorded, with a clear message,
rather than failing later on replay.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flows.errors import NotStorable

_TAGS: dict[str, Any] = {"$date": date, "$time": time, "$datetime": datetime}


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
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotStorable("cannot record a dict whose keys are not all strings")
        return {k: encode(v) for k, v in value.items()}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return encode(dump(mode="json"))
    raise NotStorable(f"cannot record a value of type {type(value).__name__}")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in _TAGS and isinstance(inner, str):
                return _TAGS[key].fromisoformat(inner)
        return {k: decode(v) for k, v in value.items()}
    return value
