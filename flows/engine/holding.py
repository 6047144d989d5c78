"""The held side of ``Engine``: a person's request stored the moment it arrives, before the
surface acks it, and let go once handled. A process that dies between the ack and the end of
the handling leaves the row; once its time is up (``EngineConfig.takeover``), ``held`` hands it
to the surface again (in this process after a restart, or in another), which handles it as if
it had just arrived. Nothing a person was told "received" is lost."""

from __future__ import annotations

from typing import Any

from flows.engine.ports import Clock, Store
from flows.engine.records import Held

HELD_BATCH = 100  # held requests taken over in one look
# seconds a handled request's key is kept, so the same request sent again changes nothing
# (Slack's signatures are good for five minutes)
HELD_KEPT = 600.0


class Holding:
    """Holding requests, for ``Engine`` (which sets these up)."""

    clock: Clock
    owner: str
    _store: Store
    _takeover: float

    async def hold(self, key: str, kind: str, payload: Any) -> bool:
        """Store the request (``payload``: what handling it again needs) under ``key``, this
        process's for now; False if a request with that key is held already (the same one,
        sent again while it is under way, or lately handled)."""
        now = self.clock.now()
        row = {"key": key, "kind": kind, "payload": payload, "owner": self.owner,
               "until": now + self._takeover, "attempts": 1, "created_at": now,
               "done": False}  # fmt: skip
        return await self._store.hold(row)

    async def let_go(self, key: str) -> None:
        """The request was handled (whatever came of it): the same request sent again within
        ``HELD_KEPT`` seconds is not held again."""
        await self._store.let_go(key, self.clock.now() + HELD_KEPT)

    async def held(self, limit: int = HELD_BATCH) -> list[Held]:
        """Held requests whose holder's time ran out (it died handling them), now this
        process's to handle, oldest first."""
        now = self.clock.now()
        return await self._store.take_held(self.owner, now, now + self._takeover, limit)
