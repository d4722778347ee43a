"""One import from start to end: read, map, stage in batches, switch once.

A row that cannot be mapped is reported with its line and left out; the rest goes in.
A feed of which no row can be mapped switches nothing (it would mark the whole
catalogue unavailable): the report says so and the catalogue stays as it was.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from tqdm import tqdm

from catalog.db import create_tables
from catalog.importing.generic_csv import read_csv
from catalog.importing.mapping import Mapping
from catalog.importing.merchant import read_merchant
from catalog.importing.problems import RowProblem
from catalog.importing.records import Progress, Record
from catalog.importing.relations import (
    PendingRelation,
    check_relations,
    relations_from_file,
    relations_from_tags,
)
from catalog.importing.report import ImportReport
from catalog.importing.rows import RowError, map_record, skipped
from catalog.importing.shopify import read_shopify
from catalog.importing.staging import Staging

__all__ = ["FORMATS", "MappedFeed", "import_feed", "map_feed"]

#: Feed formats by the name ``catalog import`` takes.
FORMATS: dict[str, Callable[[Path, Progress | None], Iterator[Record]]] = {
    "shopify": read_shopify,
    "merchant": read_merchant,
    "csv": read_csv,
}

#: Rows per staging batch: large enough to amortise a statement, small enough that one
#: batch's transaction is over in a blink.
BATCH_ROWS = 5000


class MappedFeed:
    """A feed read through its mapping: rows and relations out, problems noted."""

    def __init__(self, path: Path, kind: str, mapping: Mapping, progress: Progress | None):
        self.path = path
        self.kind = kind
        self.mapping = mapping
        self.progress = progress
        self.report = ImportReport(file=path.name, format=kind)
        self.pending: list[PendingRelation] = []
        self.known: set[str] = set()

    def rows(self) -> Iterator[dict[str, Any]]:
        """Mapped rows in file order; problems and duplicates go to the report."""
        report, mapping, name = self.report, self.mapping, self.path.name
        first_line: dict[str, int] = {}
        for record in FORMATS[self.kind](self.path, self.progress):
            report.rows += 1
            if skipped(record, mapping):
                report.ignored += 1
                continue
            try:
                row = map_record(record, mapping)
            except RowError as error:
                report.problems.append(RowProblem(name, record.line, str(error)))
                continue
            sku = row["sku"]
            if sku in first_line:
                reason = f"SKU {sku!r} again (first on line {first_line[sku]}): the row is left out"
                report.problems.append(RowProblem(name, record.line, reason))
                continue
            first_line[sku] = record.line
            self.known.update((sku, row["group_sku"]))
            self.pending.extend(relations_from_tags(record, row["group_sku"], mapping, name))
            report.mapped += 1
            yield row

    def relations(self) -> list[dict[str, str]] | None:
        """The checked relations (call after :meth:`rows`); None if the mapping has none."""
        rule = self.mapping.relations
        if not rule.prefixes and rule.file is None:
            return None
        pending = list(self.pending)
        if rule.file is not None:
            for item in relations_from_file(rule.file):
                if isinstance(item, RowProblem):
                    self.report.problems.append(item)
                else:
                    pending.append(item)
        kept, problems = check_relations(pending, self.known)
        self.report.problems.extend(problems)
        return [
            {"source": r.source, "target": r.target, "kind": r.kind.value, "note": r.note}
            for r in kept
        ]


def map_feed(path: Path, kind: str, mapping: Mapping) -> MappedFeed:
    """A feed ready to be read through ``mapping`` (for the demo catalogue and tests)."""
    return MappedFeed(path, kind, mapping, None)


def _bar(path: Path, show: bool | None) -> tqdm[Any]:
    total = path.stat().st_size if path.exists() else None
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc=f"reading {path.name}",
        file=sys.stderr,
        disable=None if show is None else not show,  # None: only on a terminal
        leave=False,
    )


def import_feed(
    engine: Engine,
    path: Path,
    kind: str,
    mapping: Mapping,
    *,
    dry_run: bool = False,
    progress: bool | None = None,
    batch_rows: int = BATCH_ROWS,
    say: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import a feed into the catalogue at ``engine``.

    Args:
        engine: The catalogue database (tables are created when missing, not on a dry run).
        path: The feed file.
        kind: ``shopify``, ``merchant`` or ``csv`` (see :data:`FORMATS`).
        mapping: The loaded mapping.
        dry_run: Count what would change and report problems; change nothing.
        progress: Show a progress bar on stderr; ``None``: when stderr is a terminal.
        batch_rows: Rows per staging transaction.
        say: Called with a line on each phase ("switching …"), for a person watching.

    Returns:
        The report; ``report.refused`` says why nothing was switched, if so.

    Raises:
        FeedError: The feed cannot be read at all (nothing was changed).
        sqlalchemy.exc.SQLAlchemyError: The database failed (nothing was changed).
    """
    started = time.perf_counter()
    if not dry_run:
        create_tables(engine)
    with _bar(path, progress) as bar, engine.connect() as connection:
        feed = MappedFeed(path, kind, mapping, bar.update)
        staging = Staging(connection)
        try:
            batch: list[dict[str, Any]] = []
            for row in feed.rows():
                batch.append(row)
                if len(batch) >= batch_rows:
                    staging.write(batch)
                    batch = []
            staging.write(batch)
            relations = feed.relations()
            report = feed.report
            report.dry_run = dry_run
            report.relations = None if relations is None else len(relations)
            report.batch_seconds = staging.batch_seconds
            changes = staging.changes()
            report.new, report.updated = changes.new, changes.updated
            report.unchanged, report.unavailable = changes.unchanged, changes.unavailable
            if report.mapped == 0:
                report.refused = (
                    "no row of the feed could be mapped, so nothing was imported and the "
                    "catalogue is unchanged"
                )
            elif not dry_run:
                if say is not None:
                    say(
                        f"switching: {report.new} new, {report.updated} updated, "
                        f"{report.unavailable} unavailable, in one transaction…"
                    )
                switch_started = time.perf_counter()
                staging.switch(relations)
                report.switch_seconds = time.perf_counter() - switch_started
        finally:
            staging.drop()
    report.seconds = time.perf_counter() - started
    return report
