"""Locks that need several people (``quorum=N``): every response is an event (``approved`` or
``declined``) recorded under the lock row's write lock, so concurrent answers count each other.
These read the responses back."""

from __future__ import annotations

from flows.app import Response
from flows.codec import decode
from flows.engine.ports import Store
from flows.engine.records import Call, Event


def response(event: Event) -> Response:
    detail = event.detail if isinstance(event.detail, dict) else {}
    inputs = decode(detail.get("inputs")) or {}
    return Response(event.actor, event.kind == "approved", inputs, detail.get("comment"), event.at)


async def responses(store: Store, lock: Call) -> tuple[Response, ...]:
    """A quorum lock's responses so far, oldest first."""
    return tuple(response(e) for e in await store.votes(lock))
