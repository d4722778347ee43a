"""The privacy audit: every export and erasure of a conversation (who, when, which digest).

Revision ID: 0003
Revises: 0002
Created: 2026-12-04 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from advisor.accounts import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "advisor_privacy_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "conversation_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_advisor_privacy_audit_at"), "advisor_privacy_audit", ["at"], unique=False
    )
    op.create_index(
        op.f("ix_advisor_privacy_audit_conversation_digest"),
        "advisor_privacy_audit",
        ["conversation_digest"],
        unique=False,
    )


def downgrade() -> None:
    """Undo this migration."""
    op.drop_index(
        op.f("ix_advisor_privacy_audit_conversation_digest"), table_name="advisor_privacy_audit"
    )
    op.drop_index(op.f("ix_advisor_privacy_audit_at"), table_name="advisor_privacy_audit")
    op.drop_table("advisor_privacy_audit")
