"""a run's due outbox rows found by one index: its claims no longer scan every pending row

Revision ID: 0010_outbox_run_due
Revises: 0009_held
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_outbox_run_due"
down_revision: str | None = "0009_held"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_run_due", "outbox", ["execution_id", "pending", "due_at"])
    op.drop_index("ix_outbox_execution", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_execution", "outbox", ["execution_id", "id"])
    op.drop_index("ix_outbox_run_due", table_name="outbox")
