"""``catalog import`` on a large generated Shopify export: rows/s on SQLite and PostgreSQL.

Generates a Shopify product CSV of ``--rows`` variant rows (5 variants a product: the
first row carries the product, the others are continuation rows; a multi-line HTML body
on every product; categories, cleat tags and frame sizes spread as a bike shop has them),
then for each database:

1. a first import into an empty catalogue (every row new),
2. the same file again (every row unchanged: the cost of an idempotent nightly run),
3. a changed file: every tenth price changed and the last 5 % of products gone.

Each prints rows/s, the median and p95 of the staging batches (5,000 rows each) and the
switching transaction. PostgreSQL gets its own database on ``--postgres`` (dropped
afterwards); ``--no-postgres`` skips it.

    .venv/bin/python bench/import_catalog.py                 # 100 k rows, both databases
    .venv/bin/python bench/import_catalog.py --rows 20000 --no-postgres
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._stats import percentile
from catalog.db import create_tables, make_engine
from catalog.importing import ImportReport, default_mapping, import_feed, load_mapping
from web.production import database_on, drop_databases

HEADER = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Type",
    "Tags",
    "Option1 Name",
    "Option1 Value",
    "Variant SKU",
    "Variant Inventory Qty",
    "Variant Price",
    "Cost per item",
    "Image Src",
    "Status",
]
_KINDS = [
    ("Rennrad", "Rahmenhöhe", ["50 cm", "52 cm", "54 cm", "56 cm", "58 cm"], "Endurance, Carbon"),
    ("Gravelbike", "Rahmenhöhe", ["49 cm", "52 cm", "54 cm", "56 cm", "58 cm"], "Allroad"),
    ("Mountainbike", "Größe", ["XS", "S", "M", "L", "XL"], "Trail, Aluminium"),
    ("Pedale", "Farbe", ["Schwarz", "Rot", "Blau", "Silber", "Grün"], "SPD"),
    ("Radschuhe", "Schuhgröße", ["40", "41", "42", "43", "44"], "SPD-SL"),
    ("Helm", "Größe", ["XS", "S", "M", "L", "XL"], "Stadt"),
]
VARIANTS = 5


def write_feed(path: Path, rows: int, *, change: bool = False) -> int:
    """Write a Shopify CSV of ``rows`` variant rows; ``change``: new prices, 5 % gone."""
    products = rows // VARIANTS
    keep = int(products * 0.95) if change else products
    written = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for p in range(keep):
            kind, option, values, tags = _KINDS[p % len(_KINDS)]
            handle = f"modell-{p:06d}"
            price = 49 + (p * 37) % 4000 + (5 if change and p % 10 == 0 else 0)
            for v, value in enumerate(values):
                first = v == 0
                writer.writerow(
                    [
                        handle,
                        f"Modell {p} {kind}" if first else "",
                        f"<p>{kind} Nummer {p}.</p>\n<ul><li>Gut für jeden Tag</li></ul>"
                        if first
                        else "",
                        f"Marke {p % 40}" if first else "",
                        kind if first else "",
                        tags if first else "",
                        option if first else "",
                        value,
                        f"SKU-{p:06d}-{v}",
                        str((p + v) % 9),
                        f"{price}.00",
                        f"{price * 0.7:.2f}",
                        f"https://cdn.example.com/{handle}.jpg" if first else "",
                        "active" if first else "",
                    ]
                )
                written += 1
    return written


def _line(label: str, report: ImportReport) -> str:
    batches = [s * 1000 for s in report.batch_seconds]
    rate = report.rows / report.seconds if report.seconds else 0.0
    return (
        f"  {label:<22}{report.rows:>8} rows {report.seconds:7.2f} s {rate:>9,.0f} rows/s"
        f"   batch p50 {percentile(batches, 50):6.1f} ms p95 {percentile(batches, 95):6.1f} ms"
        f"   switch {report.switch_seconds:6.2f} s"
        f"   ({report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.unavailable} unavailable, {report.skipped} left out)"
    )


def run(url: str, label: str, feed: Path, changed: Path) -> list[ImportReport]:
    """The three imports on ``url``; prints a line each."""
    mapping_path = default_mapping("shopify")
    assert mapping_path is not None
    mapping = load_mapping(mapping_path)
    engine = make_engine(url)
    try:
        create_tables(engine)  # the migrations, once: not part of the import's time
        print(label, flush=True)
        reports = []
        for name, path in (("first import", feed), ("same file again", feed), ("changed", changed)):
            report = import_feed(engine, path, "shopify", mapping, progress=False)
            print(_line(name, report), flush=True)
            reports.append(report)
        return reports
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000, help="variant rows (default 100000)")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server URL (a database of its own is made and dropped)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        feed, changed = folder / "products.csv", folder / "products_changed.csv"
        started = time.perf_counter()
        rows = write_feed(feed, args.rows)
        write_feed(changed, args.rows, change=True)
        size = feed.stat().st_size / 1e6
        print(f"feed: {rows} rows, {size:.1f} MB in {time.perf_counter() - started:.1f} s")
        run(f"sqlite:///{folder / 'catalog.db'}", "SQLite (WAL, file)", feed, changed)
        if not args.no_postgres:
            name = f"import_bench_{uuid.uuid4().hex[:8]}"
            import psycopg
            from psycopg import sql

            with psycopg.connect(args.postgres, autocommit=True, connect_timeout=5) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                run(database_on(args.postgres, name), "PostgreSQL", feed, changed)
            finally:
                drop_databases(args.postgres, [name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
