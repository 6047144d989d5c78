"""``SQLStore``: the engine's store port (``flows.engine.ports.Store``) on SQLAlchemy. Each
method runs one transaction of ``store.transactions`` (or ``store.timer_transactions``) whole:
inline on SQLite, through the asyncpg pool on Postgres (``store.transactor``). On Postgres a
few run as single statements outside a transaction instead (``single``): reading a lock with
its run, deciding it (``store.at_once``), recording what a delivery showed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.engine.records import (
    ApiToken,
    Call,
    Claim,
    Claimed,
    Closing,
    Delivery,
    Event,
    Execution,
    Held,
    NewEvent,
    Post,
    RunQuery,
    ShowState,
    Subscription,
    Take,
    Timer,
    Trail,
    Workspace,
)
from store import api_transactions as aq
from store import at_once, health, searches
from store import deliveries as dq
from store import endings as en
from store import event_transactions as eq
from store import held as hq
from store import outbox as ob
from store import timer_transactions as tq
from store import transactions as q
from store.database import connect, migrate
from store.transactor import Transactor


class SQLStore(Transactor):
    """The store port; ``db`` is SQLAlchemy's engine (see ``Transactor``)."""

    @classmethod
    async def open(cls, url: str | None = None, **kwargs: Any) -> SQLStore:
        """Connect to ``url`` (default: ``./lockstep.db``) and migrate the schema to head."""
        db = connect(url, **kwargs)
        await migrate(db)
        return cls(db)

    # executions -----------------------------------------------------------------------------

    async def create_execution(self, row: dict[str, Any], event: NewEvent) -> Execution | None:
        """Insert a new execution; None if one with that id exists (idempotent starts)."""
        try:
            return await self.run(q.create_execution, row, event)
        except IntegrityError:
            return None

    async def execution(self, execution_id: str) -> Execution | None:
        return await self.run(q.execution, execution_id)

    async def executions(
        self,
        *,
        initiator: str | None = None,
        status: Sequence[str] = (),
        limit: int = 20,
        workspace: Workspace | None = None,
    ) -> list[Execution]:
        return await self.run(searches.list_executions, initiator, status, limit, workspace)

    async def search(self, query: RunQuery) -> list[Execution]:
        return await self.run(searches.search, query)

    async def find_executions(
        self, prefix: str, limit: int = 5, workspace: Workspace | None = None
    ) -> list[str]:
        return await self.run(searches.find_executions, prefix, limit, workspace)

    async def claim(self, execution_id: str, claim: Claim) -> tuple[Execution, list[Call]] | None:
        """Take the right to run an execution that has work to do; None if it has none or a
        live process holds it. Returns the execution and its recorded calls."""
        return await self.run(q.claim, execution_id, claim)

    async def heartbeat(self, execution_id: str, owner: str, now: float) -> bool:
        return await self.run(q.heartbeat, execution_id, owner, now)

    async def runnable(self, stale_before: float, limit: int = 500) -> list[str]:
        """Executions with work and no live owner: crashed runs and unclaimed resolutions."""
        return await self.run(q.runnable, stale_before, limit)

    async def suspend(
        self,
        execution_id: str,
        owner: str,
        wakeups: int,
        now: float,
        new_calls: Sequence[dict[str, Any]],
        new_timers: Sequence[dict[str, Any]],
        new_events: Sequence[NewEvent],
        awaiting: NewEvent,
        take: Take | None = None,
    ) -> tuple[bool, Claimed | None]:
        """Record the calls a run opened and, if nothing woke the execution meanwhile, mark it
        awaiting and release it. False: it was woken (or cancelled), so the caller runs it again.
        With ``take``, the run's due rows claimed for that deliverer, in this transaction."""
        opened = (new_calls, new_timers, new_events, awaiting)
        return await self.run(dq.park, take, execution_id, owner, wakeups, now, *opened)

    async def finish(
        self,
        execution_id: str,
        owner: str,
        now: float,
        status: str,
        result: Any,
        error: str | None,
        event: NewEvent,
        posts: Sequence[Post] = (),
        take: Take | None = None,
    ) -> tuple[bool, Claimed | None]:
        ending = (status, result, error, event, posts)
        return await self.run(dq.end, take, execution_id, owner, now, *ending)

    async def cancel(
        self,
        execution_id: str,
        now: float,
        reason: str,
        event: NewEvent,
        posts: Sequence[Post] = (),
        *,
        expire: bool = False,
    ) -> bool:
        return await self.run(en.cancel, execution_id, now, reason, event, posts, expire)

    # calls ----------------------------------------------------------------------------------

    async def add(
        self,
        execution_id: str,
        now: float,
        new_calls: Sequence[dict[str, Any]] = (),
        new_timers: Sequence[dict[str, Any]] = (),
        new_events: Sequence[NewEvent] = (),
        progress: int = 0,
        posts: Sequence[Post] = (),
    ) -> None:
        await self.run(q.add, execution_id, now, new_calls, new_timers, new_events, progress, posts)

    async def call(self, call_id: str) -> Call | None:
        return await self.run(q.call, call_id)

    async def call_and_run(self, call_id: str) -> tuple[Call, Execution] | None:
        return await self.single(q.call_and_run, call_id)

    async def calls_by_id(self, call_ids: Sequence[str]) -> list[Call]:
        return await self.run(q.calls_by_id, call_ids) if call_ids else []

    async def calls(self, execution_id: str, *, open_only: bool = False) -> list[Call]:
        return await self.run(q.list_calls, execution_id, open_only)

    async def open_locks_of(self, execution_ids: Sequence[str]) -> dict[str, list[Call]]:
        return await self.run(q.open_locks_of, execution_ids) if execution_ids else {}

    async def decide(
        self,
        call_id: str,
        now: float,
        *,
        status: str,
        result: Any = None,
        actor: str | None = None,
        comment: str | None = None,
        event: NewEvent,
        claim: Claim | None = None,
        votes: int | None = None,
    ) -> tuple[Execution, list[Call] | None] | None:
        decision = (call_id, now, status, result, actor, comment, event, claim)
        if votes is not None:  # a quorum's: under the row lock its votes take
            return await self.run(eq.decide_counted, *decision, votes)
        if isinstance(self.db, AsyncEngine):  # one statement (and a read), not a transaction
            return await self.single(at_once.decide, *decision)
        return await self.run(q.decide, *decision)

    # events ---------------------------------------------------------------------------------

    async def append(self, execution_id: str, now: float, *new: NewEvent) -> None:
        await self.run(eq.append, execution_id, now, new)

    async def refuse(
        self, execution_id: str, now: float, event: NewEvent, call_id: str, draft: Any
    ) -> bool:
        return await self.run(eq.refuse, execution_id, now, event, call_id, draft)

    async def events(self, execution_id: str, after: int = 0) -> list[Event]:
        return await self.run(eq.list_events, execution_id, after)

    async def trail(self, execution_id: str) -> Trail | None:
        return await self.run(eq.trail, execution_id)

    async def votes(self, lock: Call) -> list[Event]:
        return await self.run(eq.list_votes, lock.execution_id, lock.id)

    async def stalled_quorums(self, before: float, limit: int = 100) -> list[Call]:
        return await self.run(eq.stalled_quorums, before, limit)

    async def vote(
        self, call_id: str, now: float, event: NewEvent
    ) -> tuple[bool, list[Event]] | None:
        return await self.run(eq.vote, call_id, now, event)

    # timers ---------------------------------------------------------------------------------

    async def due_timers(self, now: float, limit: int = 500) -> list[Timer]:
        return await self.run(tq.due_timers, now, limit)

    async def fire_closing(
        self, closing: Sequence[Closing], now: float, claim: Claim
    ) -> dict[int, Execution]:
        return await self.run(tq.fire_closing, closing, now, claim)

    async def fire_only(
        self,
        timer: Timer,
        now: float,
        posts: Sequence[Post] = (),
        new_events: Sequence[NewEvent] = (),
        new_timers: Sequence[dict[str, Any]] = (),
    ) -> bool:
        return await self.run(tq.fire_only, timer.id, now, posts, new_events, new_timers)

    async def snooze(
        self,
        call_id: str,
        by: float,
        now: float,
        event: NewEvent,
        posts: Sequence[Post] = (),
        reminders: Callable[[float], Sequence[float]] | None = None,
    ) -> Call | None:
        return await self.run(tq.snooze, call_id, by, now, event, posts, reminders)

    # the outbox -----------------------------------------------------------------------------

    async def claim_deliveries(
        self, owner: str, now: float, lease: float, limit: int = 50, execution: str | None = None
    ) -> tuple[list[Delivery], dict[int, ShowState]]:
        return await self.run(dq.claim_deliveries, owner, now, lease, limit, execution)

    async def show_states(
        self, rows: Sequence[tuple[int, str | None, str | None]]
    ) -> dict[int, ShowState]:
        return await self.run(dq.show_states, rows) if rows else {}

    async def delivered(
        self,
        owner: str,
        shown: Sequence[tuple[int, int, Any]],
        now: float,
        *,
        placed: bool,
        again: Mapping[int, float] | None = None,
    ) -> dict[int, int]:
        if not shown:
            return {}
        alone = not placed and not again  # one statement, unless Homes are bumped or rows kept
        record = self.single if alone else self.run
        return await record(dq.delivered, owner, shown, now, placed, again)

    async def retry_delivery(
        self, row_id: int, owner: str, due_at: float, error: str | None, tried: bool, now: float
    ) -> None:
        await self.run(dq.retry, row_id, owner, due_at, error, tried, now)

    async def run_shown_at(self, execution_id: str) -> Any:
        return await self.run(dq.location, ob.run_key(execution_id))

    async def lock_shown_at(self, call_id: str) -> Any:
        return await self.run(dq.location, ob.lock_key(call_id))

    async def renew_deliveries(self, row_ids: Sequence[int], owner: str, until: float) -> None:
        await self.run(dq.renew, row_ids, owner, until)

    async def backlog(self, now: float) -> tuple[int, float | None]:
        return await self.run(dq.backlog, now)

    async def open_home(self, user: str, workspace: Workspace, now: float) -> None:
        await self.run(ob.open_home, user, workspace, now)

    async def refresh_homes(self, users: Sequence[str], workspace: Workspace, now: float) -> None:
        await self.run(ob.refresh_homes, users, workspace, now)

    async def reshow(self, now: float) -> int:
        """Local mode starts its fake Slack empty: every live run's messages, and every App
        Home, are shown again from scratch. Not part of the port."""
        return await self.run(ob.reshow, q.LIVE_IDS, now)

    # operations -----------------------------------------------------------------------------

    async def health(self, timeout: float) -> str | None:
        return await health.check(self.db, timeout)

    async def open_locks(self) -> dict[str, int]:
        return await self.run(health.open_locks)

    # the HTTP API's tokens and webhooks (not the engine's: the adapter's) ---------------------

    async def create_token(self, row: dict[str, Any]) -> ApiToken | None:
        """Insert a token; None if a live token already has its name."""
        return await self.run(aq.create_token, row)

    async def token(self, token_id: str) -> ApiToken | None:
        return await self.run(aq.token, token_id)

    async def token_named(self, name: str) -> ApiToken | None:
        return await self.run(aq.token_named, name)

    async def tokens(self, *, revoked: bool = False) -> list[ApiToken]:
        return await self.run(aq.tokens, revoked)

    async def any_token(self) -> bool:
        return await self.run(aq.any_token)

    async def revoke_token(self, name: str, now: float) -> bool:
        return await self.run(aq.revoke_token, name, now)

    async def add_webhook(self, url: str, secret: str, events: list[str], now: float) -> int:
        return await self.run(aq.add_webhook, url, secret, events, now)

    async def webhook(self, subscription: int) -> Subscription | None:
        return await self.run(aq.webhook, subscription)

    async def webhooks(self) -> list[Subscription]:
        return await self.run(aq.list_webhooks)

    async def remove_webhook(self, subscription: int, now: float) -> bool:
        return await self.run(aq.remove_webhook, subscription, now)

    # held requests

    async def hold(self, row: dict[str, Any]) -> bool:
        try:
            return await self.run(hq.hold, row)
        except IntegrityError:  # another process held the same request a moment before
            return False

    async def let_go(self, key: str, kept_until: float) -> None:
        await self.run(hq.let_go, key, kept_until)

    async def take_held(self, owner: str, now: float, until: float, limit: int) -> list[Held]:
        return await self.run(hq.take, owner, now, until, limit)
