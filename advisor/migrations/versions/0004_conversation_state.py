"""The shopper's conversation state, stored before the reply acknowledges an answer.

Revision ID: 0004
Revises: 0003
Created: 2026-12-04 19:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from advisor.accounts import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "advisor_conversation",
        sa.Column("conversation", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("conversation"),
    )
    op.create_index(
        op.f("ix_advisor_conversation_updated_at"),
        "advisor_conversation",
        ["updated_at"],
        unique=False,
    )


def downgrade() -> None:
    """Undo this migration."""
    op.drop_index(op.f("ix_advisor_conversation_updated_at"), table_name="advisor_conversation")
    op.drop_table("advisor_conversation")
