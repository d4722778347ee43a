"""Google Merchant Center feeds, as TSV or as XML (RSS 2.0 or Atom with ``g:`` fields).

Both spellings end in the same records: field names in Google's lower-case form without
the ``g:`` prefix (``id``, ``title``, ``price``, ``item_group_id``, ``custom_label_0`` …),
so one mapping serves both. A TSV header written as "item group id" or "g:price" is
normalised too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from catalog.importing.records import Progress, Record, read_delimited, read_xml

__all__ = ["is_xml", "read_merchant"]


def _name(column: str) -> str:
    return "_".join(column.strip().casefold().removeprefix("g:").split())


def is_xml(path: Path) -> bool:
    """Whether the feed is XML: by its suffix, else by its first non-blank character."""
    if path.suffix.casefold() in (".xml", ".rss", ".atom"):
        return True
    if path.suffix.casefold() in (".tsv", ".txt", ".csv"):
        return False
    try:
        with path.open("rb") as file:
            start = file.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return start.startswith(b"<")


def read_merchant(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """The items of a Merchant Center feed (TSV or XML) as records.

    Raises:
        FeedError: The file cannot be read or parsed.
    """
    if is_xml(path):
        yield from read_xml(path, progress)
        return
    for record in read_delimited(path, progress):
        yield Record(record.line, {_name(k): v for k, v in record.fields.items()})
