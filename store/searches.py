"""The runs people look for: listings, the HTTP API's search, and ids typed in part. Reads
only, built per call (their filters vary); none is on a run's hot path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from flows.engine.records import Execution, RunQuery, Workspace
from store.tables import executions
from store.transactions import execution_row


def _in(workspace: Workspace) -> Any:
    return and_(
        executions.c.team_id == workspace.team_id,
        executions.c.enterprise_id == workspace.enterprise_id,
    )


def list_executions(
    conn: Connection,
    initiator: str | None,
    status: Sequence[str],
    limit: int,
    workspace: Workspace | None = None,
) -> list[Execution]:
    query = select(executions).order_by(executions.c.created_at.desc()).limit(limit)
    if workspace is not None:
        query = query.where(_in(workspace))
    if initiator is not None:
        query = query.where(executions.c.initiator == initiator)
    if status:
        query = query.where(executions.c.status.in_(status))
    return [execution_row(r) for r in conn.execute(query)]


def search(conn: Connection, query: RunQuery) -> list[Execution]:
    """A page of runs, newest first; see ``ports.Store.search``."""
    order = (executions.c.created_at.desc(), executions.c.id.desc())
    found = select(executions).order_by(*order).limit(query.limit)
    if query.workspace is not None:
        found = found.where(_in(query.workspace))
    if query.flow is not None:
        found = found.where(executions.c.flow == query.flow)
    if query.flows is not None:
        found = found.where(executions.c.flow.in_(query.flows))
    if query.status:
        found = found.where(executions.c.status.in_(query.status))
    if query.initiator is not None:
        found = found.where(executions.c.initiator == query.initiator)
    if query.channel is not None:
        found = found.where(executions.c.context["channel"].as_string() == query.channel)
    if query.before is not None:
        at, eid = query.before
        found = found.where(
            or_(
                executions.c.created_at < at,
                and_(executions.c.created_at == at, executions.c.id < eid),
            )
        )
    return [execution_row(r) for r in conn.execute(found)]


def find_executions(
    conn: Connection, prefix: str, limit: int, workspace: Workspace | None = None
) -> list[str]:
    """A scan: it serves a person typing a short id, not a hot path."""
    matches = func.lower(executions.c.id).startswith(prefix.lower(), autoescape=True)
    query = select(executions.c.id).where(matches).order_by(executions.c.id).limit(limit)
    if workspace is not None:
        query = query.where(_in(workspace))
    return list(conn.scalars(query))
