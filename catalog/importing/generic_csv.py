"""Any other CSV or TSV: its columns as they are, named by the mapping file (``--mapping``).

The shop's own export, a spreadsheet saved as CSV (comma, semicolon or tab), or the demo
catalogue's data file: the mapping says which column is which.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from catalog.importing.records import Progress, Record, read_delimited

__all__ = ["read_csv"]


def read_csv(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """The rows of a delimited file as records keyed by its header.

    Raises:
        FeedError: The file cannot be read (see :func:`read_delimited`).
    """
    yield from read_delimited(path, progress)
