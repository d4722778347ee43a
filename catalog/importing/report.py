"""What an import did (or, with ``--dry-run``, would do), as counts and readable lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.importing.problems import RowProblem

__all__ = ["ImportReport"]


@dataclass(slots=True)
class ImportReport:
    """Counts of one import; ``problems`` are the rows left out, with their lines."""

    file: str
    format: str
    dry_run: bool = False
    rows: int = 0  # records read (variant rows, items)
    mapped: int = 0
    ignored: int = 0  # left out on purpose by the mapping's `skip` (drafts …)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    unavailable: int = 0  # were available, no longer in the feed
    relations: int | None = None  # None: the mapping declares none, relations stay
    problems: list[RowProblem] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    switch_seconds: float = 0.0
    seconds: float = 0.0
    refused: str | None = None  # why nothing was switched, if so

    @property
    def skipped(self) -> int:
        """Rows (and relations) that could not be mapped."""
        return len(self.problems)

    def summary(self) -> list[str]:
        """The lines ``catalog import`` prints after the problems."""
        verb = "would be" if self.dry_run else "now"
        lines = [
            f"{self.file}: {self.rows} rows read, {self.mapped} mapped, "
            f"{self.skipped} skipped, {self.ignored} ignored by the mapping",
            f"products: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.unavailable} {verb} unavailable (no longer in the feed)",
        ]
        if self.relations is not None:
            verb = "would replace" if self.dry_run else "replace"
            lines.append(f"relations: {self.relations} from the feed {verb} the catalogue's")
        if self.dry_run:
            lines.append("dry run: nothing was changed")
        elif self.refused is None:
            rate = self.rows / self.seconds if self.seconds else 0.0
            lines.append(f"done in {self.seconds:.2f} s ({rate:,.0f} rows/s)")
        return lines
