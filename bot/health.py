"""Health for orchestrators: ``/healthz`` says the process answers (liveness: restart it if
not); ``/readyz`` says it can do its work (readiness: send it traffic, or hold a rollout, only
if so), and when it cannot, why, in JSON with status 503.

Ready means: the store answers within ``timeout`` seconds (a SQLite file's write lock is free)
at the schema this code needs; the scheduler runs and its sweep has finished lately (within
three sweep intervals, or ``lag``, whichever is longer); the outbox's oldest waiting message
has waited at most ``lag`` seconds; this process's deliverer runs and none of its batches has
been under way longer than ``lag``; and the process is not shutting down.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.scheduler import TimerScheduler
from flows.engine import Engine

TIMEOUT = 2.0  # seconds the store has to answer a probe


async def alive(_request: web.Request) -> web.Response:
    """Liveness: the event loop answers; nothing else is asked (a store that is down is a
    reason not to be ready, not to be restarted)."""
    return web.json_response({"ok": True})


class Readiness:
    def __init__(
        self, engine: Engine, scheduler: TimerScheduler, lag: float, timeout: float = TIMEOUT
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.lag = lag
        self.timeout = timeout
        self.stopping = False  # set when shutdown begins

    async def check(self) -> dict[str, Any]:
        """``ready``, the ``reasons`` when not, and the figures they were read from."""
        health = await self.engine.health(self.timeout)
        reasons = ["shutting down"] if self.stopping else []
        if health.store:
            reasons.append(health.store)
        if health.oldest is not None and health.oldest > self.lag:
            reasons.append(
                f"outbox: {health.backlog} messages waiting, the oldest for "
                f"{health.oldest:.0f} s (more than {self.lag:g} s)"
            )
        if not health.delivering:
            reasons.append("deliverer: stopped")
        elif health.busy is not None and health.busy > self.lag:
            reasons.append(
                f"deliverer: a batch has been under way for {health.busy:.0f} s "
                f"(more than {self.lag:g} s)"
            )
        since = self.scheduler.since_sweep()
        every = self.scheduler.every
        if since is None:
            reasons.append("scheduler: not running")
        elif since > max(3 * every, self.lag):
            reasons.append(f"scheduler: no sweep for {since:.0f} s (one is due every {every:g} s)")
        return {
            "ready": not reasons,
            "reasons": reasons,
            "outbox": {"backlog": health.backlog, "oldest_seconds": _round(health.oldest)},
            "since_sweep_seconds": _round(since),
        }

    async def handle(self, _request: web.Request) -> web.Response:
        """``GET /readyz``: 200 when ready, else 503; the body says why."""
        found = await self.check()
        return web.json_response(found, status=200 if found["ready"] else 503)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
