"""``Every``: an async job run every so many seconds while some work goes on (a run's heartbeat,
a delivery's lease renewal). Between its turns no task exists, only a timer: most work ends
before the first turn is due, and then never makes one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("lockstep.engine")


class Every:
    def __init__(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        """Start: ``job`` runs ``seconds`` from now, then ``seconds`` after each turn ends,
        until ``stop``. A turn that fails is logged; the next one is due all the same."""
        self.seconds, self.job = seconds, job
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(seconds, self._due)
        self._turn: asyncio.Task[None] | None = None

    def _due(self) -> None:
        self._timer = None
        self._turn = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.job()
        except Exception:
            log.exception("a periodic job failed; it runs again in %g s", self.seconds)
        self._turn = None
        self._timer = self._loop.call_later(self.seconds, self._due)

    def stop(self) -> None:
        """No more turns; a turn under way is cancelled."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._turn is not None:
            self._turn.cancel()
            self._turn = None
