"""``InFlight``: the rows being shown by some pass of this process, by run. Two passes may
claim rows of one run together (a run's own pass and a drain, on Postgres each before the
other's lease is visible): a row waits for the run's earlier rows that another pass holds.
Direct messages, webhooks and Homes keep no order, and wait for nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from flows.engine.records import UNORDERED, Delivery


class InFlight:
    def __init__(self) -> None:
        self._rows: dict[str, set[int]] = {}
        self._landed = asyncio.Condition()

    def add(self, rows: Iterable[Delivery]) -> None:
        """These rows are being shown here: a run's later rows wait for them."""
        for row in rows:
            if row.execution_id and row.kind not in UNORDERED:
                self._rows.setdefault(row.execution_id, set()).add(row.id)

    async def after_earlier(self, row: Delivery, mine: set[int]) -> None:
        """Wait while another pass here holds an earlier row of ``row``'s run (``mine``: the
        rows of the waiting pass)."""
        run = row.execution_id
        if not run or row.kind in UNORDERED:
            return

        def clear() -> bool:
            return not any(i < row.id and i not in mine for i in self._rows.get(run, ()))

        if not clear():
            async with self._landed:
                await self._landed.wait_for(clear)

    async def landed(self, rows: Iterable[Delivery]) -> None:
        """These rows are done with (shown, or given back): rows waiting behind them go on."""
        for row in rows:
            held = self._rows.get(row.execution_id or "")
            if held is not None:
                held.discard(row.id)
                if not held:
                    del self._rows[row.execution_id or ""]
        async with self._landed:
            self._landed.notify_all()
