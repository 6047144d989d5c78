"""``NullObserver``: the ``ports.Observer`` for an engine nobody counts (tests, scripts)."""

from __future__ import annotations


class NullObserver:
    def run_started(self, flow: str) -> None:
        pass

    def run_ended(self, flow: str, status: str) -> None:
        pass

    def lock_decided(self, flow: str, outcome: str, waited: float) -> None:
        pass

    def timer_fired(self, kind: str, lag: float) -> None:
        pass

    def delivered(self, kind: str, ok: bool) -> None:
        pass
