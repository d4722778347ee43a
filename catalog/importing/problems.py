"""What can go wrong in an import, said the way a merchandiser can act on it.

::

    CatalogImportError       nothing was imported; the catalogue is unchanged
    ├── FeedError            the feed file cannot be read at all (missing, not UTF-8, no header)
    └── MappingError         the mapping file is wrong (file:line: what, did you mean …?)

A row that cannot be mapped is not an exception: it becomes a :class:`RowProblem`
(``file:line: reason``), is reported, and the rest of the feed goes in.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CatalogImportError", "FeedError", "MappingError", "RowProblem", "did_you_mean"]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One row of a feed that was left out, with its physical line in the file."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class CatalogImportError(Exception):
    """Base of the import's errors: the import stopped before changing anything."""


class FeedError(CatalogImportError):
    """The feed file cannot be read (missing, not UTF-8, no header, not XML)."""


class MappingError(CatalogImportError):
    """The mapping file is wrong; the message names its file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file}:{line}: {message}")


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``", did you mean 'x'?"`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f", did you mean {matches[0]!r}?" if matches else ""
