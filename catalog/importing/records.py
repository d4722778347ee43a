"""Reading feed files into records: one dict of fields per row, with its physical line.

Delimited files (CSV, TSV, semicolon CSV as German spreadsheets save it) are read with
:mod:`csv`, so quoted fields may hold commas and newlines; a record's line is the line
its first field starts on, counted in the file, so ``file:line`` points at it even after
a multi-line description. A UTF-8 byte order mark is dropped. XML feeds (RSS 2.0 or
Atom, as Google Merchant Center takes them) are read with expat, which knows the line of
every ``<item>``.

Both readers count the bytes they consumed, which is what the progress bar shows.
"""

from __future__ import annotations

import csv
import io
import xml.parsers.expat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from catalog.importing.problems import FeedError

__all__ = ["Progress", "Record", "read_delimited", "read_xml"]

Progress = Callable[[int], None]
"""Called with the number of bytes read since the last call."""

# csv refuses fields over 128 kB by default; a product description never is one, but
# an HTML body with an embedded image can come close.
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class Record:
    """One row of a feed: its first physical line and its fields by column name."""

    line: int
    fields: dict[str, str]

    def get(self, name: str) -> str:
        """The field's value without surrounding spaces; "" when absent."""
        return self.fields.get(name, "").strip()


class _Counting(io.RawIOBase):
    """A binary file that reports how many bytes were read, for the progress bar."""

    def __init__(self, raw: BinaryIO, progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        if self._progress is not None and data:
            self._progress(len(data))
        return len(data)


def _sniff(header: str) -> str:
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_delimited(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """The rows of a CSV or TSV file as records keyed by the header's column names.

    The delimiter (tab, semicolon or comma) is the one the header line uses most.
    Blank lines are skipped; a row with more fields than the header keeps the extra
    ones under ``"#extra"`` so the mapping can say what is wrong.

    Raises:
        FeedError: The file cannot be opened, is not UTF-8, or has no header.
    """
    name = path.name
    try:
        raw = path.open("rb")
    except OSError as error:
        raise FeedError(f"{path}: cannot open the feed: {error.strerror or error}") from error
    with raw:
        text = io.TextIOWrapper(
            io.BufferedReader(_Counting(raw, progress)), encoding="utf-8-sig", newline=""
        )
        line = 1
        try:
            header_line = text.readline()
            if not header_line.strip():
                raise FeedError(f"{name}:1: the file is empty or has no header line")
            delimiter = _sniff(header_line)
            rows = csv.reader(text, delimiter=delimiter)
            header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
            consumed = 1  # lines consumed so far: the header
            for row in rows:
                line = consumed + 1
                consumed = 1 + rows.line_num
                if not row or not any(cell.strip() for cell in row):
                    continue
                fields = dict(zip(header, row, strict=False))
                if len(row) > len(header):
                    fields["#extra"] = delimiter.join(row[len(header) :])
                yield Record(line, fields)
        except UnicodeDecodeError as error:
            raise FeedError(
                f"{name}:{line}: the file is not UTF-8 ({error.reason} at byte "
                f"{error.start}): save it as UTF-8"
            ) from error
        except csv.Error as error:
            raise FeedError(f"{name}:{line}: {error}") from error


def _local(tag: str) -> str:
    # expat with a namespace separator gives "http://base.google.com/ns/1.0 price".
    return tag.rsplit(" ", 1)[-1]


def read_xml(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """The ``<item>`` (RSS) or ``<entry>`` (Atom) elements of an XML feed as records.

    Fields are the children's local names without namespace (``g:price`` is
    ``price``); a field given twice keeps its first value, as Google does for
    single-valued attributes. Nested children (``g:shipping``) are ignored.

    Raises:
        FeedError: The file cannot be opened or is not well-formed XML.
    """
    name = path.name
    parser = xml.parsers.expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    ready: list[Record] = []
    depth_in_item = 0
    current: dict[str, str] | None = None
    line = 0
    field: str | None = None
    chunks: list[str] = []

    def start(tag: str, _attrs: dict[str, str]) -> None:
        nonlocal depth_in_item, current, line, field, chunks
        local = _local(tag)
        if current is None:
            if local in ("item", "entry"):
                current, line, depth_in_item = {}, parser.CurrentLineNumber, 0
            return
        depth_in_item += 1
        if depth_in_item == 1:
            field, chunks = local, []
            if local == "link" and "href" in _attrs:  # Atom: <link href="…"/>
                chunks.append(_attrs["href"])
        else:
            field = None  # nested: not a flat attribute

    def end(tag: str) -> None:
        nonlocal depth_in_item, current, field
        if current is None:
            return
        if depth_in_item == 0:
            ready.append(Record(line, current))
            current = None
            return
        if depth_in_item == 1 and field is not None:
            current.setdefault(field, "".join(chunks).strip())
            field = None
        depth_in_item -= 1

    def data(text: str) -> None:
        if field is not None:
            chunks.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        raw = path.open("rb")
    except OSError as error:
        raise FeedError(f"{path}: cannot open the feed: {error.strerror or error}") from error
    with raw:
        while True:
            block = raw.read(1 << 16)
            if progress is not None and block:
                progress(len(block))
            try:
                parser.Parse(block, not block)
            except xml.parsers.expat.ExpatError as error:
                raise FeedError(
                    f"{name}:{error.lineno}: not well-formed XML: "
                    f"{xml.parsers.expat.ErrorString(error.code)}"
                ) from error
            yield from ready
            ready.clear()
            if not block:
                break
