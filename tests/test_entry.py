"""``flows.entry.parameters``: a handler's parameters, read once per function (a lease handler
is called on every answer), and still read for a callable that cannot be a cache key."""

from __future__ import annotations

from typing import Any

from flows.entry import bind, parameters, wants


def lease(inputs: Any, data: Any) -> None: ...


def anything(**kwargs: Any) -> None: ...


class Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def handler(self, inputs: Any) -> None: ...


def test_a_handler_s_parameters_are_read_once() -> None:
    first = parameters(lease)
    assert parameters(lease) is first  # the same answer, not read again
    assert first == (frozenset({"inputs", "data"}), False)
    assert bind(lease, {"inputs": 1, "data": 2, "request": 3}) == {"inputs": 1, "data": 2}
    assert wants(anything, "request") and not wants(lease, "request")


def test_a_method_of_an_unhashable_object_still_binds() -> None:
    handler = Unhashable().handler
    assert bind(handler, {"inputs": 1, "data": 2}) == {"inputs": 1}
