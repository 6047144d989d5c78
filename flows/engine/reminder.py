"""When the deliverer shows a row again: after a failure (``backoff``), when the notifier asked
(``again_at``), and ``Reminder``, which calls back once each time asked for has come, one timer
for the earliest: the deliverer drains again when a row it gave back comes due, before the
periodic sweep would."""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Callable
from typing import Any

from flows.engine.ports import AGAIN_AT, Clock

MAX_BACKOFF = 600.0
LATE = 0.01  # seconds after a time asked for that the callback runs (the loop may fire early)


def again_at(where: Any) -> float | None:
    """When the notifier asked to show a row once more (``ports.AGAIN_AT``), if it did."""
    at = where.get(AGAIN_AT) if isinstance(where, dict) else None
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        return None
    return float(at)


def backoff(attempts: int) -> float:
    """Seconds before a failed row is tried again: 1 s, 2 s, 4 s ... at most 10 min."""
    return min(MAX_BACKOFF, float(2 ** max(0, min(attempts - 1, 20))))


class Reminder:
    def __init__(self, clock: Clock, callback: Callable[[], None]) -> None:
        self.clock, self.callback = clock, callback
        self._timer: asyncio.TimerHandle | None = None
        self._due: list[float] = []  # the times asked for, not yet come (a heap)

    def at(self, due_at: float) -> None:
        """Call back once ``due_at`` comes. Every time asked for is kept until it has come, so
        a later one is not forgotten when the callback runs for an earlier one."""
        heapq.heappush(self._due, due_at)
        self._arm()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        """One timer, for the earliest time asked for; a little after it, as the loop's timer
        may fire a hair early by the clock."""
        if not self._due:
            return
        delay = max(0.0, self._due[0] - self.clock.now()) + LATE
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._timer.when() <= loop.time() + delay:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(delay, self._come)

    def _come(self) -> None:
        self._timer = None
        now = self.clock.now()
        while self._due and self._due[0] <= now:
            heapq.heappop(self._due)
        self.callback()
        self._arm()
