"""``catalog import shopify|merchant|csv FILE``: the command line of the importer.

The report (every row left out as ``file:line: reason``, then the counts) goes to stdout,
so a merchandiser can keep it; progress goes to stderr. Exit status:

* 0: every row was imported (or, with ``--dry-run``, could be),
* 3: imported, but some rows were left out (they are listed); cron jobs should alert,
* 1: nothing was imported: the feed or the mapping is unreadable, no row could be
  mapped, or the database failed (one line says which),
* 2: usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine

from catalog.importing.mapping import load_mapping
from catalog.importing.problems import CatalogImportError
from catalog.importing.report import ImportReport
from catalog.importing.run import FORMATS, import_feed

__all__ = ["ROWS_SKIPPED", "add_import_command", "run_import"]

#: Exit status of an import that left rows out (the rest went in).
ROWS_SKIPPED = 3

_HELP = {
    "shopify": "Shopify product CSV (one row per variant, grouped by Handle)",
    "merchant": "Google Merchant Center feed, TSV or XML",
    "csv": "any CSV or TSV, described by --mapping",
}


def add_import_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` with its three formats to the ``catalog`` command's subcommands."""
    command = commands.add_parser(
        "import",
        help="import a shop's catalogue: shopify, merchant or csv FILE",
        description="Import a product feed: upsert by SKU, mark what left the feed "
        "unavailable, switch the catalogue in one transaction. Exit status: 0 all rows "
        "imported, 3 some rows left out (listed), 1 nothing imported.",
    )
    command.add_argument("format", choices=sorted(FORMATS), help="the feed's format")
    command.add_argument("file", type=Path, metavar="FILE", help="the feed file")
    command.add_argument(
        "--mapping",
        type=Path,
        metavar="MAP.yml",
        help="mapping file (default for shopify and merchant: catalog/mappings/FORMAT.yml; "
        "required for csv)",
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="report what would change and every row that cannot be mapped; change nothing",
    )
    command.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    command.add_argument(
        "--database-url",
        metavar="URL",
        help="catalogue database (default: $DATABASE_URL or the SQLite file var/catalog.db)",
    )


def _print_report(report: ImportReport) -> None:
    for problem in report.problems:
        print(problem)
    for line in report.summary():
        print(line)


def run_import(args: argparse.Namespace, engine: Engine) -> int:
    """Run ``catalog import`` with parsed ``args`` on ``engine``; the exit status.

    Database errors are left to the caller, which reports them like every command's.
    """
    from catalog.importing import default_mapping

    mapping_path: Path | None = args.mapping or default_mapping(args.format)
    if mapping_path is None:
        print("catalog import csv: --mapping MAP.yml is required for csv", file=sys.stderr)
        return 2
    try:
        mapping = load_mapping(mapping_path)
        if not args.file.is_file():
            raise CatalogImportError(f"{args.file}: no such feed file")
        print(f"importing {args.file} ({args.format}, mapping {mapping_path})…", file=sys.stderr)
        report = import_feed(
            engine,
            args.file,
            args.format,
            mapping,
            dry_run=args.dry_run,
            progress=args.progress,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except CatalogImportError as error:
        print(f"catalog import: {error}", file=sys.stderr)
        return 1
    _print_report(report)
    if report.refused is not None:
        print(f"catalog import: {report.refused}", file=sys.stderr)
        return 1
    if report.problems:
        verb = "would be" if report.dry_run else "were"
        print(
            f"warning: {report.skipped} {verb} left out (listed above as file:line: "
            "reason); the rest "
            f"{'would go' if report.dry_run else 'went'} in",
            file=sys.stderr,
        )
        return ROWS_SKIPPED
    return 0
