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
        """Rows and relations that could not be mapped (each is in ``problems``)."""
        return len(self.problems)

    def summary(self) -> list[str]:
        """The lines ``catalog import`` prints after the problems."""
        verb = "would be" if self.dry_run else "now"
        left_out = self.rows - self.mapped - self.ignored
        lines = [
            f"{self.file}: {self.rows} rows read, {self.mapped} mapped, {left_out} left out, "
            f"{self.ignored} ignored by the mapping (skip:)",
            f"products: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.unavailable} {verb} unavailable (no longer in the feed)",
        ]
        if self.relations is not None:
            dropped = self.skipped - left_out
            verb = "would replace" if self.dry_run else "replace"
            note = f" ({dropped} left out)" if dropped else ""
            lines.append(f"relations: {self.relations} from the feed {verb} the catalogue's{note}")
        if self.dry_run:
            lines.append("dry run: nothing was changed")
        elif self.refused is None:
            lines.append(f"done in {self.seconds:.2f} s")
        return lines
