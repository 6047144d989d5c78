"""timer indexes: a lock's and a run's pending timers without scanning every pending timer

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_call_id")
        batch_op.create_index("ix_timers_call_status", ["call_id", "status"], unique=False)
        batch_op.create_index(
            "ix_timers_execution_status", ["execution_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_execution_status")
        batch_op.drop_index("ix_timers_call_status")
        batch_op.create_index("ix_timers_call_id", ["call_id"], unique=False)
