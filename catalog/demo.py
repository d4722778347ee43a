"""The demo catalogue: a plausible bike webshop in about 700 product rows, from a data file.

The products are ``catalog/data/demo_products.csv`` and their relations
``demo_relations.csv``, read by the importer through ``demo_mapping.yml`` like any shop's
feed: ``catalog build-demo`` runs :func:`catalog.importing.import_feed` on them, and
:func:`build_demo_catalog` inserts the same rows into a fresh database through a session
(what the tests' in-memory catalogues use). The file is data a merchandiser can edit
and diff; no Python generates it any more.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlmodel import Session

from catalog.db import create_tables, make_engine
from catalog.importing import Mapping, load_mapping, map_feed
from catalog.models import Product, ProductRelation, RelationKind

__all__ = [
    "DEMO_FEED",
    "DEMO_MAPPING",
    "DemoStats",
    "build_demo_catalog",
    "build_demo_database",
    "demo_mapping",
    "demo_stats",
    "demo_relations",
    "demo_rows",
]

_DATA = Path(__file__).resolve().parent / "data"
#: The demo catalogue's products, one row per variant, in our own column names.
DEMO_FEED = _DATA / "demo_products.csv"
#: The mapping that reads :data:`DEMO_FEED` (and names ``demo_relations.csv``).
DEMO_MAPPING = _DATA / "demo_mapping.yml"


@dataclass(frozen=True, slots=True)
class DemoStats:
    """What :func:`build_demo_catalog` inserted."""

    products_per_category: dict[str, int]
    models_per_category: dict[str, int]
    products: int
    relations: int

    @property
    def total_rows(self) -> int:
        """Product rows plus relation rows."""
        return self.products + self.relations


def demo_mapping() -> Mapping:
    """The loaded mapping of the demo data file."""
    return load_mapping(DEMO_MAPPING)


@cache
def _read() -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, str], ...]]:
    feed = map_feed(DEMO_FEED, "csv", demo_mapping())
    rows = tuple(feed.rows())
    relations = tuple(feed.relations() or ())
    if feed.report.problems:
        # The shipped file is ours: a row it cannot map is a bug to fix, not to skip.
        raise ValueError(
            "the demo data file has problems:\n" + "\n".join(str(p) for p in feed.report.problems)
        )
    return rows, relations


def demo_rows() -> list[Product]:
    """Return fresh, unsaved product rows of the demo catalogue, always the same ones."""
    rows, _ = _read()
    return [Product(**row) for row in rows]


def demo_relations() -> list[ProductRelation]:
    """Return the demo relations, by ``group_sku``.

    Every shoe model is compatible with every pedal model of its cleat system; a few
    e-bikes name a lock or light that fits them, and one cage is an accessory of the
    bikes whose fork mounts it needs.
    """
    _, relations = _read()
    return [
        ProductRelation(
            source=r["source"], target=r["target"], kind=RelationKind(r["kind"]), note=r["note"]
        )
        for r in relations
    ]


def demo_stats() -> DemoStats:
    """The counts of the demo catalogue, without building it."""
    rows, relations = _read()
    pairs = {(row["category"], row["group_sku"]) for row in rows}
    return DemoStats(
        products_per_category=dict(sorted(Counter(row["category"] for row in rows).items())),
        models_per_category=dict(sorted(Counter(category for category, _ in pairs).items())),
        products=len(rows),
        relations=len(relations),
    )


def build_demo_catalog(session: Session) -> DemoStats:
    """Insert the demo catalogue into an empty catalogue and commit, in one transaction.

    Args:
        session: An open session on a database whose tables exist and hold no products
            yet (a second build would collide on the unique SKUs).

    Returns:
        Counts of the inserted rows.

    Raises:
        ValueError: The demo data file has a row the importer cannot map.
    """
    stats = demo_stats()
    session.add_all(demo_rows())
    session.add_all(demo_relations())
    session.commit()
    return stats


def build_demo_database(url: str) -> DemoStats:
    """Create the tables at ``url`` and fill them with the demo catalogue.

    For a fresh, empty database (tests, benchmarks); ``catalog build-demo`` is the
    command for a database that may already hold a catalogue.
    """
    engine = make_engine(url)
    try:
        create_tables(engine)
        with Session(engine) as session:
            return build_demo_catalog(session)
    finally:
        engine.dispose()
