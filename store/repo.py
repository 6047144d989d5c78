"""The async repository. Every write that decides something is a compare-and-set (a conditional
UPDATE whose row count says who won), so any number of processes can race on one database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.db import connect, migrate
from store.models import TERMINAL, Call, Event, Execution, NewEvent, Timer
from store.tables import calls, events, executions, timers

_LIVE = executions.c.status.not_in(TERMINAL)
_RUNNABLE = ("starting", "running")


def _events(execution_id: str, at: float, new: Iterable[NewEvent]) -> list[dict[str, Any]]:
    return [{"execution_id": execution_id, "at": at, **e.model_dump()} for e in new]


def _execution(row: Row[Any]) -> Execution:
    return Execution.model_validate({**row._mapping, "context": row.context or {}})


def _call(row: Row[Any]) -> Call:
    return Call.model_validate(row._mapping)


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(cls, url: str | None = None, **kwargs: Any) -> Store:
        engine = connect(url, **kwargs)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # executions -----------------------------------------------------------------------------

    async def create_execution(self, row: dict[str, Any], event: NewEvent) -> bool:
        """Insert a new execution; False if one with that id exists (idempotent starts)."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(executions).values(**row))
                await conn.execute(insert(events), _events(row["id"], row["created_at"], [event]))
        except IntegrityError:
            return False
        return True

    async def execution(self, execution_id: str) -> Execution | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(executions).where(executions.c.id == execution_id))
            ).first()
        return _execution(row) if row else None

    async def executions(
        self, *, initiator: str | None = None, status: Sequence[str] = (), limit: int = 20
    ) -> list[Execution]:
        query = select(executions).order_by(executions.c.created_at.desc()).limit(limit)
        if initiator is not None:
            query = query.where(executions.c.initiator == initiator)
        if status:
            query = query.where(executions.c.status.in_(status))
        async with self.engine.connect() as conn:
            return [_execution(r) for r in await conn.execute(query)]

    async def claim(
        self, execution_id: str, owner: str, now: float, stale_before: float
    ) -> tuple[Execution, list[Call]] | None:
        """Take the right to run an execution that has work to do; None if it has none or a
        live process holds it. Returns the execution and its recorded calls."""
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                update(executions)
                .where(
                    executions.c.id == execution_id,
                    executions.c.status.in_(_RUNNABLE),
                    or_(
                        executions.c.owner.is_(None),
                        executions.c.owner == owner,
                        executions.c.heartbeat_at < stale_before,
                    ),
                )
                .values(owner=owner, heartbeat_at=now, status="running", updated_at=now)
            )
            if claimed.rowcount != 1:
                return None
            row = (
                await conn.execute(select(executions).where(executions.c.id == execution_id))
            ).one()
            recorded = await conn.execute(
                select(calls).where(calls.c.execution_id == execution_id).order_by(calls.c.seq)
            )
            return _execution(row), [_call(r) for r in recorded]

    async def heartbeat(self, execution_id: str, owner: str, now: float) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(executions)
                .where(executions.c.id == execution_id, executions.c.owner == owner)
                .values(heartbeat_at=now)
            )
        return result.rowcount == 1

    async def runnable(self, stale_before: float, limit: int = 500) -> list[str]:
        """Executions with work and no live owner: crashed runs and unclaimed resolutions."""
        query = (
            select(executions.c.id)
            .where(
                executions.c.status.in_(_RUNNABLE),
                or_(executions.c.owner.is_(None), executions.c.heartbeat_at < stale_before),
            )
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

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
    ) -> bool:
        """Record the calls a run opened and, if nothing woke the execution meanwhile, mark it
        awaiting and release it. False: it was woken (or cancelled), so the caller runs it again."""
        async with self.engine.begin() as conn:
            await self._add(conn, execution_id, now, new_calls, new_timers, new_events)
            released = await conn.execute(
                update(executions)
                .where(
                    executions.c.id == execution_id,
                    executions.c.owner == owner,
                    executions.c.wakeups == wakeups,
                    executions.c.status == "running",
                )
                .values(status="awaiting", owner=None, updated_at=now)
            )
            if released.rowcount == 1:
                await conn.execute(insert(events), _events(execution_id, now, [awaiting]))
                return True
            ended = await conn.execute(
                select(executions.c.id).where(executions.c.id == execution_id, ~_LIVE)
            )
            if ended.first():  # cancelled while this run was going: what it opened closes too
                await self._close_open(conn, execution_id, now)
        return False

    async def finish(
        self,
        execution_id: str,
        owner: str,
        now: float,
        status: str,
        result: Any,
        error: str | None,
        event: NewEvent,
    ) -> bool:
        """End an execution; its open locks and pending timers end with it."""
        async with self.engine.begin() as conn:
            ended = await conn.execute(
                update(executions)
                .where(executions.c.id == execution_id, executions.c.owner == owner, _LIVE)
                .values(status=status, result=result, error=error, owner=None, updated_at=now)
            )
            if ended.rowcount != 1:
                return False
            await self._close_open(conn, execution_id, now)
            await conn.execute(insert(events), _events(execution_id, now, [event]))
        return True

    async def release(self, execution_id: str, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(executions)
                .where(executions.c.id == execution_id, executions.c.owner == owner)
                .values(owner=None)
            )

    async def cancel(self, execution_id: str, now: float, reason: str, event: NewEvent) -> bool:
        async with self.engine.begin() as conn:
            ended = await conn.execute(
                update(executions)
                .where(executions.c.id == execution_id, _LIVE)
                .values(status="cancelled", error=reason, updated_at=now)
            )
            if ended.rowcount != 1:
                return False
            await self._close_open(conn, execution_id, now)
            await conn.execute(insert(events), _events(execution_id, now, [event]))
        return True

    @staticmethod
    async def _close_open(conn: AsyncConnection, execution_id: str, now: float) -> None:
        await conn.execute(
            update(calls)
            .where(calls.c.execution_id == execution_id, calls.c.status == "open")
            .values(status="cancelled", decided_at=now)
        )
        await conn.execute(
            update(timers)
            .where(timers.c.execution_id == execution_id, timers.c.status == "pending")
            .values(status="cancelled")
        )

    # calls ----------------------------------------------------------------------------------

    async def add(
        self,
        execution_id: str,
        now: float,
        new_calls: Sequence[dict[str, Any]] = (),
        new_timers: Sequence[dict[str, Any]] = (),
        new_events: Sequence[NewEvent] = (),
        progress: int = 0,
    ) -> None:
        """Record facts of a running execution in one transaction (steps, progress, locks)."""
        async with self.engine.begin() as conn:
            await self._add(conn, execution_id, now, new_calls, new_timers, new_events)
            if progress:
                await conn.execute(
                    update(executions)
                    .where(executions.c.id == execution_id)
                    .values(progress=executions.c.progress + progress)
                )

    @staticmethod
    async def _add(
        conn: AsyncConnection,
        execution_id: str,
        now: float,
        new_calls: Sequence[dict[str, Any]],
        new_timers: Sequence[dict[str, Any]],
        new_events: Sequence[NewEvent],
    ) -> None:
        if new_calls:
            await conn.execute(insert(calls), list(new_calls))
        if new_timers:
            await conn.execute(insert(timers), list(new_timers))
        if new_events:
            await conn.execute(insert(events), _events(execution_id, now, new_events))

    async def call(self, call_id: str) -> Call | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(calls).where(calls.c.id == call_id))).first()
        return _call(row) if row else None

    async def calls(self, execution_id: str, *, open_only: bool = False) -> list[Call]:
        query = select(calls).where(calls.c.execution_id == execution_id).order_by(calls.c.seq)
        if open_only:
            query = query.where(calls.c.status == "open")
        async with self.engine.connect() as conn:
            return [_call(r) for r in await conn.execute(query)]

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
    ) -> bool:
        """Close an open call (lock answered, rejected or expired; sleep woken) and wake its
        execution. Exactly one caller wins; the rest get False."""
        async with self.engine.begin() as conn:
            return await self._decide(conn, call_id, now, status, result, actor, comment, event)

    @staticmethod
    async def _decide(
        conn: AsyncConnection,
        call_id: str,
        now: float,
        status: str,
        result: Any,
        actor: str | None,
        comment: str | None,
        event: NewEvent,
    ) -> bool:
        won = await conn.execute(
            update(calls)
            .where(calls.c.id == call_id, calls.c.status == "open")
            .values(status=status, result=result, actor=actor, comment=comment, decided_at=now)
            .returning(calls.c.execution_id)
        )
        execution_id = won.scalar()
        if execution_id is None:
            return False
        await conn.execute(
            update(timers)
            .where(timers.c.call_id == call_id, timers.c.status == "pending")
            .values(status="cancelled")
        )
        await conn.execute(
            update(executions)
            .where(executions.c.id == execution_id, _LIVE)
            .values(status="running", wakeups=executions.c.wakeups + 1, updated_at=now)
        )
        await conn.execute(insert(events), _events(execution_id, now, [event]))
        return True

    async def mark_posted(self, call_id: str, message: Any) -> None:
        """Outbox: the surface has shown this lock; the sweep will not post it again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(calls).where(calls.c.id == call_id).values(posted=True, message=message)
            )

    async def unposted_locks(self, limit: int = 100) -> list[Call]:
        query = (
            select(calls)
            .where(calls.c.kind == "lock", calls.c.status == "open", calls.c.posted.is_(False))
            .order_by(calls.c.created_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_call(r) for r in await conn.execute(query)]

    # events ---------------------------------------------------------------------------------

    async def append(self, execution_id: str, now: float, *new: NewEvent) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(events), _events(execution_id, now, new))

    async def events(self, execution_id: str) -> list[Event]:
        query = select(events).where(events.c.execution_id == execution_id).order_by(events.c.id)
        async with self.engine.connect() as conn:
            return [Event.model_validate(r._mapping) for r in await conn.execute(query)]

    # timers ---------------------------------------------------------------------------------

    async def due_timers(self, now: float, limit: int = 500) -> list[Timer]:
        query = (
            select(timers)
            .where(timers.c.status == "pending", timers.c.due_at <= now)
            .order_by(timers.c.due_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [Timer.model_validate(r._mapping) for r in await conn.execute(query)]

    async def fire_timer(self, timer: Timer, now: float, *, status: str, event: NewEvent) -> bool:
        """Fire a timer exactly once: the timer's own compare-and-set, then the call it closes,
        in one transaction."""
        async with self.engine.begin() as conn:
            fired = await conn.execute(
                update(timers)
                .where(timers.c.id == timer.id, timers.c.status == "pending")
                .values(status="fired", fired_at=now, attempts=timers.c.attempts + 1)
            )
            if fired.rowcount != 1 or timer.call_id is None:
                return False
            return await self._decide(conn, timer.call_id, now, status, None, None, None, event)

    async def counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            out = {}
            for name, table in (("executions", executions), ("calls", calls), ("events", events)):
                out[name] = (
                    await conn.execute(select(func.count()).select_from(table))
                ).scalar_one()
        return out
