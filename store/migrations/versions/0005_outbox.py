"""the outbox: every message Lockstep shows is a row, versioned with the state it shows

Runs and locks already shown keep their messages: each becomes a row that is up to date; a lock
that was never shown becomes a pending row, so the deliverer shows it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import json
import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("location", sa.JSON(), nullable=True),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_outbox_pending_due", "outbox", ["pending", "due_at"])
    op.create_index("ix_outbox_execution", "outbox", ["execution_id", "id"])
    _carry_over(op.get_bind())
    op.drop_index("ix_calls_unposted", table_name="calls")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("posted")
        batch_op.drop_column("message")


def _carry_over(conn: sa.Connection) -> None:
    """Rows for what earlier versions showed (or failed to show)."""
    now = time.time()
    rows = []
    found = conn.execute(sa.text("SELECT id, context, created_at FROM executions"))
    for eid, context, created in found:
        context = json.loads(context) if isinstance(context, str) else context or {}
        channel, ts = context.get("channel"), context.get("thread_ts")
        shown = isinstance(channel, str) and isinstance(ts, str)
        where = {"channel": channel, "ts": ts} if shown else None
        rows.append(_row(f"run:{eid}", eid, None, "run", where, shown, created, now))
    locks = conn.execute(
        sa.text("SELECT id, execution_id, posted, message, created_at FROM calls WHERE kind = 'lock'")
    )
    for cid, eid, posted, message, created in locks:
        message = json.loads(message) if isinstance(message, str) else message
        rows.append(_row(f"lock:{cid}", eid, cid, "lock", message, bool(posted), created, now))
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO outbox (key, execution_id, call_id, kind, payload, version, shown, "
                "pending, location, due_at, attempts, created_at, updated_at) VALUES (:key, "
                ":execution_id, :call_id, :kind, NULL, 1, :shown, :pending, :location, :due_at, "
                "0, :created_at, :updated_at)"
            ),
            rows,
        )


def _row(
    key: str, eid: str, cid: str | None, kind: str, where: object, shown: bool, at: float, now: float
) -> dict[str, object]:
    return {
        "key": key, "execution_id": eid, "call_id": cid, "kind": kind, "shown": int(shown),
        "pending": not shown, "location": json.dumps(where) if where is not None else None,
        "due_at": now, "created_at": at, "updated_at": now,
    }  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("posted", sa.Boolean(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("message", sa.JSON(), nullable=True))
    op.create_index("ix_calls_unposted", "calls", ["kind", "status", "posted"])
    op.drop_index("ix_outbox_execution", table_name="outbox")
    op.drop_index("ix_outbox_pending_due", table_name="outbox")
    op.drop_table("outbox")
