"""Catalogue import: products that left the feed stay, marked unavailable.

``product.available`` (true for every existing row) is what ``catalog import`` sets to
false for a product its feed no longer lists; the engine offers only available products.
The column closes the four indexes the engine reads, so the filter is answered from the
index (PostgreSQL keeps its index-only scans); those indexes are rebuilt with it.

Revision ID: 0002
Revises: 0001
Created: 2026-12-04 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RANK = ["pedals_included", "stock", "margin_pct", "geometry", "brake_type"]
#: The engine's indexes before this migration: name -> columns.
_BEFORE: dict[str, list[str]] = {
    "ix_product_category_cleat_price": ["category", "cleat_system", "price"],
    "ix_product_rank_size": ["category", "frame_size_cm", "price", *_RANK],
    "ix_product_rank_price": ["category", "price", *_RANK],
    "ix_product_category_stock_margin": ["category", "stock", "margin_pct"],
}
_INCLUDE_ID = {"ix_product_rank_size", "ix_product_rank_price"}


def _create(name: str, columns: list[str]) -> None:
    extra = {"postgresql_include": ["id"]} if name in _INCLUDE_ID else {}
    op.create_index(name, "product", columns, unique=False, **extra)


def upgrade() -> None:
    """Apply this migration."""
    op.add_column(
        "product",
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    for name, columns in _BEFORE.items():
        op.drop_index(name, table_name="product")
        _create(name, [*columns, "available"])


def downgrade() -> None:
    """Take this migration back."""
    for name, columns in _BEFORE.items():
        op.drop_index(name, table_name="product")
        _create(name, columns)
    with op.batch_alter_table("product") as batch:
        batch.drop_column("available")
