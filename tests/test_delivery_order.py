"""Two delivery passes of one process that claimed rows of the same run together (a run's own
pass and a drain: on Postgres each claim can miss the other's uncommitted lease) still show the
run's messages in order: a row waits for the earlier rows the other pass holds, and a claim for
the one under way. Rows claimed with a run's change and handed over while its pass is under way
go next. And the App Homes go again once a run's message has a place to link."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pytest

from flows.app import Registry
from flows.engine import Execution, FakeClock, Show, Unavailable, delivery
from flows.engine.delivery import NO_RUN, Deliverer
from flows.engine.ports import Store
from flows.engine.records import Delivery, ShowState
from flows.engine.reminder import backoff

RUN = Execution(
    id="R1", flow="f", runner="m:f", inputs={}, status="awaiting", initiator="U", context={},
    result=None, error=None, created_at=0.0, updated_at=0.0, owner=None, heartbeat_at=None,
    wakeups=0, progress=0,
)  # fmt: skip
THREAD = {"channel": "C1", "ts": "1.0"}


def post(row_id: int) -> Delivery:
    return Delivery(
        id=row_id, key=f"p{row_id}", execution_id=RUN.id, call_id=None, kind="post",
        payload={"type": "progress"}, version=1, location=None, attempts=1, thread=THREAD,
        thread_ready=True,
    )  # fmt: skip


class TwoClaims:
    """The store's side: the run's own pass claims rows 1 and 2, a drain row 3."""

    def __init__(self) -> None:
        self.batches = {"R1": [post(1), post(2)], None: [post(3)]}

    async def claim_deliveries(
        self, owner: str, now: float, lease: float, limit: int = 50, execution: str | None = None
    ) -> tuple[list[Delivery], dict[int, ShowState]]:
        rows = self.batches.pop(execution, [])
        return rows, {r.id: ShowState(RUN, None, [], [], r.payload) for r in rows}

    async def delivered(
        self,
        owner: str,
        shown: Sequence[tuple[int, int, Any]],
        now: float,
        *,
        placed: bool,
        again: Mapping[int, float] | None = None,
    ) -> dict[int, int]:
        return {}

    async def renew_deliveries(self, row_ids: Sequence[int], owner: str, until: float) -> None:
        pass


class SlowFirst:
    """Shows in the order asked; the ``slow`` message takes a while (Slack is slow)."""

    def __init__(self, slow: str = "p1", delay: float = 0.2) -> None:
        self.shown: list[str] = []
        self.slow, self.delay = slow, delay

    async def show(self, show: Show) -> Any:
        if show.key == self.slow:
            await asyncio.sleep(self.delay)
        self.shown.append(show.key)
        return {"channel": "C1", "ts": show.key}


async def test_a_later_message_waits_for_earlier_ones_another_pass_holds() -> None:
    notifier = SlowFirst()
    store = cast(Store, TwoClaims())
    deliverer = Deliverer(store, notifier, FakeClock(), Registry([]), "me")
    deliverer.soon("R1")
    await asyncio.sleep(0)  # the run's pass claims first
    deliverer.drain()
    await deliverer.idle()
    assert notifier.shown == ["p1", "p2", "p3"]  # in the run's order, whoever claimed what
    await deliverer.close()


class SlowClaim(TwoClaims):
    """The run's own claim takes a round trip; the drain's would answer at once."""

    async def claim_deliveries(
        self, owner: str, now: float, lease: float, limit: int = 50, execution: str | None = None
    ) -> tuple[list[Delivery], dict[int, ShowState]]:
        if execution == RUN.id:
            await asyncio.sleep(0.1)
        return await super().claim_deliveries(owner, now, lease, limit, execution)


async def test_a_claim_waits_for_the_claim_under_way() -> None:
    """Claimed at once, each claim would miss the other's rows: the drain's later row would go
    before the run's earlier ones, still being claimed."""
    notifier = SlowFirst()
    deliverer = Deliverer(cast(Store, SlowClaim()), notifier, FakeClock(), Registry([]), "me")
    deliverer.soon("R1")
    await asyncio.sleep(0)  # the run's claim is under way
    deliverer.drain()
    await deliverer.idle()
    assert notifier.shown == ["p1", "p2", "p3"]
    await deliverer.close()


class PlacesARun(TwoClaims):
    """A store where the run's message is shown for the first time: recording that bumps the
    App Homes (which link it), after any pass over them may have looked."""

    def __init__(self) -> None:
        super().__init__()
        run = post(1).model_copy(update={"kind": "run", "thread": None})  # slow to show
        self.batches = {RUN.id: [run.model_copy(update={"thread_ready": False})]}
        self.said: list[str] = []

    async def claim_deliveries(
        self, owner: str, now: float, lease: float, limit: int = 50, execution: str | None = None
    ) -> tuple[list[Delivery], dict[int, ShowState]]:
        self.said.append(f"claim {execution}")
        return await super().claim_deliveries(owner, now, lease, limit, execution)

    async def delivered(
        self,
        owner: str,
        shown: Sequence[tuple[int, int, Any]],
        now: float,
        *,
        placed: bool,
        again: Mapping[int, float] | None = None,
    ) -> dict[int, int]:
        self.said.append("delivered")
        return {}


async def test_homes_go_again_once_a_run_s_message_is_placed() -> None:
    store = PlacesARun()
    deliverer = Deliverer(cast(Store, store), SlowFirst(), FakeClock(), Registry([]), "me")
    deliverer.soon(RUN.id)
    await deliverer.idle()
    assert "delivered" in store.said
    assert "claim " in store.said[store.said.index("delivered") + 1 :]  # the Homes' pass
    await deliverer.close()


async def test_rows_handed_over_while_the_run_s_pass_is_under_way_go_after_it() -> None:
    """A run changed again (its rows claimed with the change) while its pass still shows its
    rows: the pass shows the handed-over rows next (a row among them earlier than one the pass
    has yet to show does not hold that one back), then claims what is left."""
    notifier = SlowFirst(slow="p2")
    store = TwoClaims()
    store.batches = {RUN.id: [post(2), post(4)], None: []}
    deliverer = Deliverer(cast(Store, store), notifier, FakeClock(), Registry([]), "me")
    deliverer.soon(RUN.id)
    await asyncio.sleep(0.05)  # the run's pass has claimed rows 2 and 4, and shows 2 (slowly)
    assert notifier.shown == []
    store.batches[RUN.id] = [post(5)]  # due after the handed-over rows: the pass claims it
    given = [post(3).model_copy(update={"kind": "lock"})]  # an edit, earlier than row 4
    deliverer.taken(RUN.id, (given, {3: ShowState(RUN, None, [], [], given[0].payload)}))
    await asyncio.wait_for(deliverer.idle(), 5)
    assert notifier.shown == ["p2", "p4", "p3", "p5"]
    await deliverer.close()


async def test_a_run_is_claimed_again_when_its_pass_ran_during_the_change() -> None:
    """On Postgres a run parks while its pass may still show an earlier new message, which
    holds back the new lock from the claim made with the park; the pass is over by the time the
    park hands its rows over. The run is claimed again, so the lock is not left to the sweep."""
    notifier = SlowFirst(slow="p2")
    store = TwoClaims()
    store.batches = {RUN.id: [post(2)], None: []}
    deliverer = Deliverer(cast(Store, store), notifier, FakeClock(), Registry([]), "me")
    deliverer.soon(RUN.id)
    await asyncio.sleep(0.05)  # the run's pass shows row 2 (slowly)
    assert deliverer.taking(RUN.id) is not None  # the park's transaction begins
    await deliverer.idle(RUN.id)  # the pass is over before the park's commit comes back
    store.batches[RUN.id] = [post(4)]  # the row the park's claim could not take
    given = [post(3).model_copy(update={"kind": "run"})]
    deliverer.taken(RUN.id, (given, {3: ShowState(RUN, None, [], [], given[0].payload)}))
    await asyncio.wait_for(deliverer.idle(), 5)
    assert notifier.shown == ["p2", "p3", "p4"]
    await deliverer.close()


class Claims(TwoClaims):
    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []

    async def claim_deliveries(
        self, owner: str, now: float, lease: float, limit: int = 50, execution: str | None = None
    ) -> tuple[list[Delivery], dict[int, ShowState]]:
        self.said.append(f"claim {execution}")
        return await super().claim_deliveries(owner, now, lease, limit, execution)


async def test_homes_go_again_after_rows_handed_over_to_a_run_s_pass_under_way() -> None:
    """A change handed its rows to the run's pass under way (two people answering and
    cancelling at once, on Postgres) after the Homes' pass had gone: the change bumped the
    Homes, but no pass over them followed, and they listed the decided lock until the sweep."""
    notifier = SlowFirst(slow="p2", delay=delivery.HOMES_EVERY + 0.3)
    store = Claims()
    store.batches = {RUN.id: [post(2)], NO_RUN: []}
    deliverer = Deliverer(cast(Store, store), notifier, FakeClock(), Registry([]), "me")
    deliverer.soon(RUN.id)
    await asyncio.sleep(delivery.HOMES_EVERY + 0.1)  # the Homes' pass went, row 2 still shows
    assert store.said == [f"claim {RUN.id}", f"claim {NO_RUN}"]
    given = [post(3)]
    store.said.append("taken")
    deliverer.taken(RUN.id, (given, {3: ShowState(RUN, None, [], [], given[0].payload)}))
    await asyncio.wait_for(deliverer.idle(), 5)
    assert notifier.shown == ["p2", "p3"]
    assert f"claim {NO_RUN}" in store.said[store.said.index("taken") :]
    await deliverer.close()


class Renewals(TwoClaims):
    def __init__(self) -> None:
        super().__init__()
        self.renewed: list[list[int]] = []

    async def renew_deliveries(self, row_ids: Sequence[int], owner: str, until: float) -> None:
        self.renewed.append(list(row_ids))


async def test_rows_handed_over_keep_their_lease_while_the_run_s_pass_is_slow() -> None:
    """Slack keeps the run's pass longer than a lease: the rows handed over meanwhile keep
    theirs, so no other process takes them and shows them too."""
    notifier = SlowFirst(slow="p2")  # 0.2 s: longer than the lease below
    store = Renewals()
    store.batches = {RUN.id: [post(2)], None: []}
    deliverer = Deliverer(cast(Store, store), notifier, FakeClock(), Registry([]), "me", 0.09)
    deliverer.soon(RUN.id)
    await asyncio.sleep(0.01)  # the run's pass shows row 2 (slowly)
    given = [post(3)]
    deliverer.taken(RUN.id, (given, {3: ShowState(RUN, None, [], [], given[0].payload)}))
    await asyncio.wait_for(deliverer.idle(), 5)
    assert notifier.shown == ["p2", "p3"]
    assert [3] in store.renewed  # while it waited
    await deliverer.close()


async def test_rows_handed_over_by_two_changes_go_in_the_run_s_order() -> None:
    """Two changes of the run while its pass is slow hand over rows 5, then 3; a drain holds
    row 4 meanwhile. The pass shows 3 before 5, so neither pass waits for the other."""
    notifier = SlowFirst(slow="p1")

    def edit(row_id: int) -> Delivery:
        return post(row_id).model_copy(update={"kind": "lock", "location": THREAD})

    store = TwoClaims()
    store.batches = {RUN.id: [post(1).model_copy(update={"kind": "run"})], None: [edit(4)]}
    deliverer = Deliverer(cast(Store, store), notifier, FakeClock(), Registry([]), "me")
    deliverer.soon(RUN.id)
    await asyncio.sleep(0.01)  # the run's pass shows row 1 (slowly)
    for row_id in (5, 3):
        given = [edit(row_id)]
        deliverer.taken(RUN.id, (given, {row_id: ShowState(RUN, None, [], [], {})}))
    deliverer.drain()  # claims row 4, which waits for row 3
    await asyncio.wait_for(deliverer.idle(), 5)
    assert notifier.shown == ["p1", "p3", "p4", "p5"]
    await deliverer.close()


class GivesBack(TwoClaims):
    def __init__(self) -> None:
        super().__init__()
        self.given: list[tuple[int, float, bool]] = []
        self.errors: list[str | None] = []

    async def retry_delivery(
        self, row_id: int, owner: str, due_at: float, error: str | None, tried: bool, now: float
    ) -> None:
        self.given.append((row_id, due_at, tried))
        self.errors.append(error)


class Refuses:
    """Slack's rate limit on the first row (it says how long to wait); a failure on the next."""

    async def show(self, show: Show) -> Any:
        if show.key == "p1":
            raise Unavailable("rate limited", 30.0)
        raise ConnectionError("dropped")


async def test_a_wait_the_surface_asks_for_is_not_counted_as_a_failed_attempt() -> None:
    """Else a run of rate limits grows the backoff of the next real failure to minutes."""
    store = GivesBack()
    clock = FakeClock(1000.0)
    deliverer = Deliverer(cast(Store, store), Refuses(), clock, Registry([]), "me")
    deliverer.soon("R1")  # rows 1 and 2 of the run (2 waits for 1)
    await asyncio.sleep(0)
    deliverer.drain()  # row 3
    await deliverer.idle()
    given = {row_id: (due_at, tried) for row_id, due_at, tried in store.given}
    assert given[1] == (1030.0, False)  # as Slack asked; the attempt not counted
    assert given[3] == (1000.0 + backoff(1), True)  # a failure: counted, backed off
    await deliverer.close()


class TimesOut:
    async def show(self, show: Show) -> Any:
        raise TimeoutError  # no text of its own, as an HTTP client's timeout


async def test_a_failure_without_text_is_named_by_its_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The log line and the row's error say what failed, even when the error has no text."""
    store = GivesBack()
    deliverer = Deliverer(cast(Store, store), TimesOut(), FakeClock(1000.0), Registry([]), "me")
    caplog.set_level(logging.WARNING)
    deliverer.drain()
    await deliverer.idle()
    assert store.errors and set(store.errors) == {"TimeoutError"}
    lines = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert lines and all(line.endswith("): TimeoutError") for line in lines)
    await deliverer.close()
