"""Importing a shop's catalogue: Shopify CSV, Google Merchant feeds, any CSV with a mapping.

``catalog import shopify|merchant|csv FILE`` runs :func:`import_feed`: records are read
(:mod:`.records`, :mod:`.shopify`, :mod:`.merchant`, :mod:`.generic_csv`), mapped to
product rows by a mapping file (:mod:`.mapping`, :mod:`.rows` with :mod:`.prices`,
:mod:`.availability`, :mod:`.values`), staged in batches and switched in one transaction
(:mod:`.staging`). ``docs/catalog-import.md`` is the merchandiser's guide.
"""

from __future__ import annotations

from pathlib import Path

from catalog.importing.mapping import Mapping, load_mapping
from catalog.importing.problems import CatalogImportError, FeedError, MappingError, RowProblem
from catalog.importing.report import ImportReport
from catalog.importing.run import FORMATS, MappedFeed, import_feed, map_feed

__all__ = [
    "DEFAULT_MAPPINGS",
    "FORMATS",
    "CatalogImportError",
    "FeedError",
    "ImportReport",
    "MappedFeed",
    "Mapping",
    "MappingError",
    "RowProblem",
    "default_mapping",
    "import_feed",
    "load_mapping",
    "map_feed",
]

#: The shipped mappings of the formats that have one (``csv`` always needs ``--mapping``).
DEFAULT_MAPPINGS: dict[str, Path] = {
    kind: Path(__file__).resolve().parent.parent / "mappings" / f"{kind}.yml"
    for kind in ("shopify", "merchant")
}


def default_mapping(kind: str) -> Path | None:
    """The shipped mapping of a feed format, or None (``csv`` has none)."""
    return DEFAULT_MAPPINGS.get(kind)
