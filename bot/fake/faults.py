"""How the fake Slack misbehaves on request: a Web API method's next calls can be dropped
(the connection closed with no answer), hang, or call a hook (a test kills the bot there),
each before the call acts or after it acted and before it answers. With ``fail_next``'s error
answers (429 with any ``Retry-After``, 500, 503), that is every way Slack fails."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

When = Literal["before", "after"]  # acting on the call; "after": it acted, and never answers


@dataclass(frozen=True)
class Fault:
    kind: Literal["drop", "hang", "hook"]
    when: When
    seconds: float = 0.0
    hook: Callable[[], None] | None = None


class Faults:
    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault | None]] = {}

    def add(self, method: str, fault: Fault, *, times: int = 1, skip: int = 0) -> None:
        """``fault`` on the next ``times`` calls to ``method``, after ``skip`` good ones."""
        queue = self._queued.setdefault(method, deque())
        queue.extend([None] * skip + [fault] * times)

    def take(self, method: str) -> Fault | None:
        queue = self._queued.get(method)
        return queue.popleft() if queue else None

    @staticmethod
    async def act(fault: Fault, request: web.Request) -> bool:
        """Misbehave; True when the connection is gone (nothing more may be sent)."""
        if fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
            return False
        if fault.kind == "hook" and fault.hook is not None:
            fault.hook()
            return False
        if request.transport is not None:
            request.transport.close()
        return True


class RateLimit:
    """Slack's rate limits, as a token bucket over some methods: ``per_second`` calls on
    average, ``burst`` at once; past that a call is answered 429 with ``Retry-After``."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second, self.burst = per_second, burst
        self.tokens = float(burst)
        self.at = time.monotonic()
        self.refused = 0

    def take(self) -> int | None:
        """None: the call may go; else the seconds Slack asks to wait."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        self.refused += 1
        return max(1, math.ceil((1 - self.tokens) / self.per_second))
