"""Staging table and the one switching transaction (SQLite and PostgreSQL alike).

Mapped rows go in batches into a temporary table of the import's own connection, which
no other connection can see; each batch is its own short transaction, so a large feed
never holds a long write lock. Then one transaction switches the catalogue:

1. products whose columns differ from their staged row are updated (by SKU),
2. staged SKUs the catalogue lacks are inserted,
3. available products the feed no longer lists are marked unavailable (never deleted:
   offers, share links and relations may still name them),
4. the relations are replaced when the mapping declares any.

Readers (the running advisor) see the catalogue before the switch or after it, never in
between: SQLite's WAL and PostgreSQL's MVCC give each reading transaction one snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    inspect,
    or_,
    select,
    true,
    update,
)

from catalog.models import Product, ProductRelation

__all__ = ["COLUMNS", "Changes", "Staging"]

_PRODUCT: Table = Product.__table__  # type: ignore[attr-defined]
_RELATION: Table = ProductRelation.__table__  # type: ignore[attr-defined]
#: Product columns an import writes: every one but the surrogate id.
COLUMNS: tuple[str, ...] = tuple(c.name for c in _PRODUCT.columns if c.name != "id")


class Changes:
    """What the switch changes: counts of new, updated, unchanged, now unavailable."""

    def __init__(self, new: int, updated: int, staged: int, unavailable: int) -> None:
        self.new = new
        self.updated = updated
        self.unchanged = staged - new - updated
        self.unavailable = unavailable


class Staging:
    """The import's temporary table on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        metadata = MetaData()
        # `position` keeps the feed's order, so new products get their ids in file
        # order (the engine breaks ranking ties by id: same file, same offers).
        self.table = Table(
            "catalog_import_staging",
            metadata,
            Column("position", Integer, nullable=False),
            *(
                Column(c.name, c.type, primary_key=c.name == "sku")
                for c in _PRODUCT.columns
                if c.name != "id"
            ),
            prefixes=["TEMPORARY"],
        )
        self.table.drop(connection, checkfirst=True)
        self.table.create(connection)
        connection.commit()
        self.has_catalogue = inspect(connection).has_table(_PRODUCT.name)
        self.batch_seconds: list[float] = []
        self._written = 0

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write one batch of mapped rows, in its own transaction."""
        if not rows:
            return
        started = time.perf_counter()
        first = self._written
        self._written += len(rows)
        numbered = [{**row, "position": first + i} for i, row in enumerate(rows)]
        self.connection.execute(insert(self.table), numbered)
        self.connection.commit()
        self.batch_seconds.append(time.perf_counter() - started)

    def _differs(self) -> Any:
        staged, product = self.table.c, _PRODUCT.c
        plain = [product[c].is_distinct_from(staged[c]) for c in COLUMNS if c not in ("extra",)]
        # JSON has no equality in PostgreSQL: compare the stored texts (both written by
        # the same serialiser).
        as_text = cast(product.extra, Text).is_distinct_from(cast(staged.extra, Text))
        return or_(*plain, as_text)

    def _in_staging(self) -> Any:
        return exists().where(self.table.c.sku == _PRODUCT.c.sku)

    def changes(self) -> Changes:
        """Count what the switch would change (nothing is written)."""
        count = self.connection.execute(select(func.count()).select_from(self.table)).scalar_one()
        if not self.has_catalogue:
            return Changes(count, 0, count, 0)
        staged, product = self.table.c, _PRODUCT.c
        new = self.connection.execute(
            select(func.count())
            .select_from(self.table)
            .where(~exists().where(product.sku == staged.sku))
        ).scalar_one()
        updated = self.connection.execute(
            select(func.count())
            .select_from(self.table.join(_PRODUCT, product.sku == staged.sku))
            .where(self._differs())
        ).scalar_one()
        gone = self.connection.execute(
            select(func.count())
            .select_from(_PRODUCT)
            .where(product.available == true(), ~self._in_staging())
        ).scalar_one()
        return Changes(int(new), int(updated), int(count), int(gone))

    def switch(self, relations: Iterable[dict[str, str]] | None) -> None:
        """Apply the staged rows to the catalogue in one transaction.

        Args:
            relations: The relations that replace the catalogue's (source, target, kind,
                note); ``None`` leaves the relations as they are.
        """
        staged, product = self.table.c, _PRODUCT.c
        connection = self.connection
        try:
            connection.execute(
                update(_PRODUCT)
                .where(product.sku == staged.sku, self._differs())
                .values({c: staged[c] for c in COLUMNS if c != "sku"})
            )
            connection.execute(
                insert(_PRODUCT).from_select(
                    list(COLUMNS),
                    select(*(staged[c] for c in COLUMNS))
                    .where(~exists().where(product.sku == staged.sku))
                    .order_by(staged.position),
                )
            )
            connection.execute(
                update(_PRODUCT)
                .where(product.available == true(), ~self._in_staging())
                .values(available=false())
            )
            if relations is not None:
                connection.execute(delete(_RELATION))
                rows = list(relations)
                if rows:
                    connection.execute(insert(_RELATION), rows)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def drop(self) -> None:
        """Remove the staging table (it would vanish with the connection anyway)."""
        self.connection.rollback()
        self.table.drop(self.connection, checkfirst=True)
        self.connection.commit()
