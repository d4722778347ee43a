"""The ``catalog`` command: build the demo catalogue, import a shop's, show what it holds.

``catalog build-demo`` is what ``make run`` calls, so it is idempotent (it imports the
demo data file, ``catalog/data/demo_products.csv``, like any shop's feed): a second run
leaves a built catalogue alone unless ``--force`` asks for a rebuild. Progress goes to
stderr; ``catalog stats`` prints its table to stdout. Database trouble ends in one clear
line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, case, distinct, func, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from catalog.db import create_tables, drop_tables, make_engine, normalise_url
from catalog.demo import DEMO_FEED, demo_mapping, demo_stats
from catalog.importing import import_feed
from catalog.importing.command import add_import_command, run_import
from catalog.models import Product

__all__ = ["main"]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _shown_url(url: str) -> str:
    """The URL fit for a message: the password masked, so logs never carry it."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<unparseable database URL>"


def _reason(error: BaseException) -> str:
    """The first line of the driver's own message, without SQLAlchemy's boilerplate."""
    origin = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _count_products(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Product)).one()


def _build_demo(url: str, *, force: bool) -> int:
    started = time.perf_counter()
    engine = make_engine(url)
    try:
        if force:
            _say("dropping tables…")
            drop_tables(engine)
        _say("creating tables…")
        create_tables(engine)
        existing = _count_products(engine)
        if existing:
            _say(f"catalogue already built: {existing} products (use --force to rebuild)")
            return 0
        # The demo is a feed like any shop's: the importer reads its data file.
        stats = demo_stats()
        _say(f"inserting {stats.products} products…")
        report = import_feed(engine, DEMO_FEED, "csv", demo_mapping())
        if report.problems or report.refused:
            raise ValueError(f"the demo data file did not import: {report.summary()[0]}")
        elapsed = time.perf_counter() - started
        _say(
            f"done: {stats.products} products in {len(stats.products_per_category)} "
            f"categories, {stats.relations} relations in {elapsed:.2f} s"
        )
        return 0
    finally:
        engine.dispose()


def _import(args: argparse.Namespace, url: str) -> int:
    engine = make_engine(url)
    try:
        return run_import(args, engine)
    finally:
        engine.dispose()


def _missing_sqlite_file(url: str) -> bool:
    """Whether ``url`` names a SQLite file that does not exist (connecting would create it)."""
    parsed = make_url(normalise_url(url))
    database = parsed.database
    return (
        parsed.get_backend_name() == "sqlite"
        and bool(database)
        and database != ":memory:"
        and not Path(str(database)).exists()
    )


def _stats(url: str) -> int:
    if _missing_sqlite_file(url):
        _say(f"no catalogue at {_shown_url(url)}: run `catalog build-demo` first")
        return 1
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(str(Product.__tablename__)):
            _say(f"no catalogue at {_shown_url(url)}: run `catalog build-demo` first")
            return 1
        in_stock = func.sum(case((col(Product.stock) > 0, 1), else_=0))
        query = (
            select(
                Product.category,
                func.count(distinct(col(Product.group_sku))),
                func.count(),
                in_stock,
            )
            .where(col(Product.available))
            .group_by(Product.category)
            .order_by(Product.category)
        )
        with Session(engine) as session:
            rows = [(c, int(m), int(p), int(s or 0)) for c, m, p, s in session.exec(query)]
            gone = session.exec(
                select(func.count()).select_from(Product).where(~col(Product.available))
            ).one()
    finally:
        engine.dispose()
    if not rows:
        print("the catalogue is empty" + (f" ({gone} products unavailable)" if gone else ""))
        return 0
    print(f"{'category':<16}{'models':>8}{'products':>10}{'in stock':>10}")
    for category, models, products, stocked in rows:
        print(f"{category:<16}{models:>8}{products:>10}{stocked:>10}")
    models = sum(row[1] for row in rows)
    products = sum(row[2] for row in rows)
    stocked = sum(row[3] for row in rows)
    print(f"{'total':<16}{models:>8}{products:>10}{stocked:>10}")
    if gone:
        print(f"and {gone} products no longer in the shop's feed (unavailable, never offered)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="catalog", description="Build, import and inspect the product catalogue."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def database_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--database-url",
            metavar="URL",
            help="catalogue database (default: $DATABASE_URL or the SQLite file var/catalog.db)",
        )

    build = commands.add_parser("build-demo", help="create the tables and the demo catalogue")
    database_option(build)
    build.add_argument(
        "--force", action="store_true", help="drop and rebuild an existing catalogue"
    )
    stats = commands.add_parser("stats", help="print models and products per category")
    database_option(stats)
    add_import_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``catalog`` command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 when the database fails, 2 on a usage error.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on usage errors
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    # The command line is an entry point: it reads the one settings object of ours.
    from advisor.settings import get_settings

    url: str = args.database_url or get_settings().database_url
    try:
        if args.command == "build-demo":
            return _build_demo(url, force=args.force)
        if args.command == "import":
            return _import(args, url)
        return _stats(url)
    except (SQLAlchemyError, OSError, ImportError) as error:
        # OSError: the SQLite directory cannot be created; ImportError: no driver.
        _say(f"catalog: database error at {_shown_url(url)}: {_reason(error)}")
        return 1
    except ValueError as error:
        _say(f"catalog: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
