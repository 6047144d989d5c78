"""kodosumi's shapes of Lockstep's things, as its routes answer them: an entry as ``/flow``
lists it, a run's events as its event streams send them, a run's status and ``final``, and its
``serialize`` of values (``{"dict": …}``, ``{"Markdown": {"body": …}}``…)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from pydantic import BaseModel

from flows import codec
from flows.app import EntrySpec
from flows.engine import Event, Execution
from flows.errors import LockExpired

RESULTS = {"markdown": "Markdown", "html": "HTML", "text": "Text"}  # a response body's type
NO_RESULT = "no result, yet. please be patient."  # kodosumi's, while a run has none
LEASED = frozenset({"lease", "quorum", "rejected", "expired"})  # what decides a lock
_PLAIN = frozenset({"dict", "list", "tuple", "int", "float", "bool", "NoneType"})  # JSON's own


def panel_url(spec: EntrySpec) -> str:
    """The entry's URL as kodosumi's ``/flow`` lists it (``/-/{host}/{port}/{prefix}/-/...``):
    the flow's name where kodosumi has the app's host, port and prefix."""
    return f"/-/lockstep/{spec.name}/-/" + (spec.path or spec.name).strip("/")


def names_entry(spec: EntrySpec, base: str) -> bool:
    """Whether a panel URL's part before ``/-/`` names this entry's flow (or its module)."""
    last = base.rsplit("/", 1)[-1]
    return (
        base == spec.name
        or base.endswith("/" + spec.name)
        or last in spec.handler.__module__.split(".")
    )


def flow_item(spec: EntrySpec) -> dict[str, Any]:
    url = panel_url(spec)
    tags = as_texts(spec.meta.get("tags"))
    deprecated = spec.meta.get("deprecated")
    item = {
        "uid": hashlib.md5(url.encode()).hexdigest(),  # an id, not a secret
        "method": "GET", "url": url, "source": f"lockstep:{spec.handler.__module__}",
        "summary": spec.summary, "description": spec.description,
        "deprecated": deprecated if isinstance(deprecated, bool) else None,
        "author": as_text(spec.meta.get("author")),
        "organization": as_text(spec.meta.get("organization")), "tags": tags,
    }  # fmt: skip
    words = [spec.name, spec.summary, spec.description or "", *tags, str(item["author"] or "")]
    return {**item, "search": " ".join(words).lower()}


def as_events(
    run: Execution, spec: EntrySpec | None, event: Event, expired: list[str]
) -> list[tuple[str, str]]:
    """One of Lockstep's events as kodosumi's (kind, message) pairs, in kodosumi's order.
    ``expired``: the ids of the run's locks that expired before this event."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    match event.kind:
        case "started":
            deprecated = spec.meta.get("deprecated") if spec else None
            meta = {
                "fid": run.id, "username": run.initiator,
                "base_url": panel_url(spec) if spec else None, "entry_point": run.runner,
                "tags": as_texts(spec.meta.get("tags")) if spec else [],
                "summary": spec.summary if spec else None,
                "description": spec.description if spec else None,
                "deprecated": deprecated if isinstance(deprecated, bool) else None,
                "author": as_text(spec.meta.get("author")) if spec else None,
                "organization": as_text(spec.meta.get("organization")) if spec else None,
                "version": as_text(spec.meta.get("version")) if spec else None,
            }  # fmt: skip
            inputs = codec.decode(run.inputs)
            return [  # in the order kodosumi's runner sends them
                ("status", "starting"),
                ("inputs", as_json(serialize(inputs))),
                ("meta", as_json(serialize(meta))),
                ("status", "running"),
            ]
        case "progress":
            level, text = str(detail.get("level", "debug")), str(detail.get("text", ""))
            if level in RESULTS:
                return [("result", as_json({RESULTS[level]: {"body": text}}))]
            if level in ("result", "action"):
                return [(level, as_json(as_output(text, detail.get("type"))))]
            return [(level, text)]
        case "lock_opened":
            lock = {"lid": event.call_id, "name": detail.get("name")}
            return [("lock", as_json(serialize(lock)))]
        case kind if kind in LEASED:
            return [("lease", as_json(serialize({"lid": event.call_id})))]
        case "status":
            return [("status", str(detail.get("status", run.status)))]
        case "finished":
            return [("final", as_final(run) or as_json(serialize(None))), ("status", "finished")]
        case "error" | "cancelled":
            why = str(detail.get("error") or detail.get("reason") or event.kind)
            if why.startswith(f"{LockExpired.__name__}:") and expired:  # as kodosumi says it
                why += f"\nTimeoutError: Lock {expired[-1]} expired"
            return [("error", why), ("status", "error")]
    return []


def as_output(text: str, of: Any) -> Any:
    """A ``result``/``action`` as kodosumi serializes the object given to it: under its type's
    name (``of``, recorded with it; a string stays a string, a model keeps its class's name)."""
    if of == "str":
        return {"str": text}
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if not isinstance(of, str) or of in _PLAIN:  # recorded before types were
        return serialize(value)
    return {of: value}


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def as_text(value: Any) -> str | None:
    """An entry's ``@app.enter(author=...)`` and the like, as kodosumi's status shows them."""
    return (
        str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    )


def as_texts(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def as_status(execution: Execution) -> Any:
    """kodosumi has no ``cancelled``: a cancelled run is an ``error`` there, so its clients,
    which wait for ``finished`` or ``error``, stop waiting."""
    return "error" if execution.status == "cancelled" else execution.status


def as_final(execution: Execution) -> str | None:
    """kodosumi's ``final``: the result wrapped under its type's name, as a JSON string; a
    failed run's error as a ``Text``."""
    if execution.status == "finished":
        return json.dumps(serialize(codec.decode(execution.result)), default=str)
    if execution.error:
        return json.dumps({"Text": {"body": execution.error}})
    return None


def serialize(value: Any) -> Any:
    """kodosumi's ``serialize``: ``{"dict": …}``, ``{"str": …}``, ``{"__list__": […]}``, a
    model (``response.Markdown`` too) as ``{"Markdown": {"body": …}}``…"""
    if isinstance(value, list | tuple):
        return {"__list__": [serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": codec.plain(codec.encode(value))}  # its values as people read them
    if isinstance(value, bool | int | float | str):
        return {type(value).__name__: value}
    if value is None:
        return {"TypeError": "None"}
    if isinstance(value, BaseModel):
        return {type(value).__name__: value.model_dump(mode="json")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {type(value).__name__: codec.plain(codec.encode(value, loose=True))}
    return {type(value).__name__: str(value)}
