"""held requests: a person's click stored before it is acked, until it has been handled

Revision ID: 0009_held
Revises: 0008_home
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_held"
down_revision: str | None = "0008_home"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("held")
