"""Synthetic catalogues for ``bench/recommend.py``: the demo catalogue scaled up.

Every model (``group_sku``) of :func:`catalog.demo.demo_rows` is cloned, with all of its
variants, until the catalogue has the requested number of product rows. Clone 0 is the
demo itself, unchanged, so the first 692 rows of every size are the demo and the smaller
catalogues are prefixes of the larger ones. Later clones keep the category, the size run
and every attribute (so the category mix and the attribute distributions stay those of
the demo) but get new SKUs and jittered price, margin, stock and weight, drawn from one
``random.Random`` seeded with :data:`BENCH_SEED`: every build yields identical rows.

Loading is bulk: SQLAlchemy Core ``insert()`` executemany in batches on SQLite (one
transaction, ``synchronous=OFF``), ``COPY`` on PostgreSQL; secondary indexes are dropped
for the load and built afterwards (what a bulk import would do), then ``ANALYZE``.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, create_engine, insert, text
from sqlalchemy.engine import make_url

from catalog.db import create_tables, make_engine
from catalog.demo import demo_relations, demo_rows
from catalog.models import Product, ProductRelation

__all__ = [
    "BENCH_SEED",
    "BIKE_CATEGORIES",
    "BuildInfo",
    "build_postgres",
    "build_sqlite",
    "drop_postgres",
    "postgres_url",
    "synthetic_relations",
    "synthetic_rows",
]

#: Seed of every draw in the synthetic catalogues.
BENCH_SEED = 20250901

#: Rows per executemany batch / per progress step.
BATCH_ROWS = 10_000

#: Bikes get a ±15 % price jitter rounded to shop prices (…49/…99); accessories ±10 %.
BIKE_CATEGORIES = frozenset({"road_bike", "gravel_bike", "city_bike", "mountain_bike", "e_bike"})

PRODUCT: Table = Product.__table__  # type: ignore[attr-defined]
RELATION: Table = ProductRelation.__table__  # type: ignore[attr-defined]
#: Insert columns in table order; ``id`` is left to the database.
COLUMNS: tuple[str, ...] = tuple(c.name for c in PRODUCT.columns if c.name != "id")


@dataclass(frozen=True, slots=True)
class _Model:
    """One demo model with its variants as column dicts."""

    group_sku: str
    category: str
    variants: tuple[dict[str, Any], ...]


def _demo_models() -> list[_Model]:
    models: dict[str, list[dict[str, Any]]] = {}
    for row in demo_rows():
        data = row.model_dump(exclude={"id"})
        models.setdefault(row.group_sku, []).append(data)
    return [_Model(g, rows[0]["category"], tuple(rows)) for g, rows in models.items()]


def _clone_sku(group_sku: str, clone: int) -> str:
    # Clone 0 keeps the demo SKUs, so the demo's answer sets behave alike at every size.
    return group_sku if clone == 0 else f"{group_sku}-S{clone}"


def _shop_price(price: float, category: str) -> float:
    if category in BIKE_CATEGORIES:
        return float(max(199, round(price / 50) * 50 - 1))  # 1249, 1299 …
    return max(4.9, math.floor(price) + 0.9)  # 24.90, 59.90 …


def _jittered(model: _Model, clone: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The variants of ``model``'s ``clone``-th copy (the demo rows themselves for 0)."""
    if clone == 0:
        yield from (dict(v) for v in model.variants)
        return
    group = _clone_sku(model.group_sku, clone)
    bike = model.category in BIKE_CATEGORIES
    # One price and margin per model, as in the demo: sizes of a model cost the same.
    price = _shop_price(
        model.variants[0]["price"] * rng.uniform(0.85, 1.15)
        if bike
        else model.variants[0]["price"] * rng.uniform(0.9, 1.1),
        model.category,
    )
    margin = round((model.variants[0]["margin_pct"] + rng.uniform(-1.5, 1.5)) * 2) / 2
    weight_shift = rng.uniform(-0.1, 0.1)
    for variant in model.variants:
        row = dict(variant)
        row["group_sku"] = group
        row["sku"] = group + variant["sku"][len(model.group_sku) :]
        row["price"] = price
        row["margin_pct"] = margin
        if row["weight_kg"] is not None:
            row["weight_kg"] = round(max(0.01, row["weight_kg"] + weight_shift), 2)
        # Keep the demo's share of sold-out variants (≈12 %, more at the size-run ends):
        # a sold-out demo variant mostly stays sold out, a stocked one rarely runs out.
        if variant["stock"] == 0:
            row["stock"] = 0 if rng.random() < 0.7 else rng.randint(1, 4)
        else:
            row["stock"] = (
                0 if rng.random() < 0.05 else max(1, variant["stock"] + rng.randint(-2, 2))
            )
        yield row


def synthetic_rows(size: int, seed: int = BENCH_SEED) -> Iterator[dict[str, Any]]:
    """Yield exactly ``size`` product rows (column dicts), deterministic for ``seed``.

    Models are cloned round-robin in demo order (clone 0 of every model, then clone 1 …),
    so every category is spread over the whole table as in a shop that grew over time;
    the last model may be cut short.
    """
    models = _demo_models()
    rng = random.Random(seed)
    emitted = 0
    clone = 0
    while emitted < size:
        for model in models:
            for row in _jittered(model, clone, rng):
                yield row
                emitted += 1
                if emitted == size:
                    return
        clone += 1


def synthetic_relations(size: int) -> Iterator[dict[str, Any]]:
    """The demo relations of every clone whose two models are both in the catalogue."""
    models = _demo_models()
    # Which clones of each model exist: full clones, plus the prefix of the last round.
    per_round = sum(len(m.variants) for m in models)
    full, rest = divmod(size, per_round)
    last_round: set[str] = set()
    for model in models:
        if rest < len(model.variants):
            break
        rest -= len(model.variants)
        last_round.add(model.group_sku)
    relations = [(r.source, r.target, r.kind.value, r.note) for r in demo_relations()]
    for clone in range(full + 1):
        for source, target, kind, note in relations:
            if clone == full and not {source, target} <= last_round:
                continue
            yield {
                "source": _clone_sku(source, clone),
                "target": _clone_sku(target, clone),
                "kind": kind.upper(),  # SQLAlchemy stores the enum by member name
                "note": note,
            }


# -- building ---------------------------------------------------------------------------


@dataclass(slots=True)
class BuildInfo:
    """How a catalogue was built (stored beside it so a reused one still reports it)."""

    backend: str
    size: int
    relations: int
    load_s: float
    index_s: float
    analyze_s: float
    reused: bool = False

    @property
    def total_s(self) -> float:
        """Load + index + analyze seconds."""
        return self.load_s + self.index_s + self.analyze_s


class _Progress:
    """Prints ``rows (rows/s)`` lines at most every 2 s so a long load shows it is alive."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.start = self.last = time.perf_counter()

    def update(self, done: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.last < 2.0:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        print(
            f"    {self.label}: {done:>9,} / {self.total:,} rows  ({rate:,.0f} rows/s)",
            flush=True,
        )


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH_ROWS) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _secondary_indexes() -> list[Index]:
    # The unique SKU constraint stays (it is part of the table); every other index is
    # rebuilt after the load, which is several times faster than maintaining 25 indexes
    # row by row, and leaves the same schema as create_tables().
    return sorted([*PRODUCT.indexes, *RELATION.indexes], key=lambda i: str(i.name))


def _create_indexes(conn: Connection) -> float:
    start = time.perf_counter()
    for index in _secondary_indexes():
        index.create(conn)
    return time.perf_counter() - start


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".build.json")


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM product")).scalar_one())


def build_sqlite(path: Path, size: int) -> BuildInfo:
    """Build (or reuse, when it has ``size`` rows) the SQLite catalogue at ``path``."""
    if path.exists():
        engine = make_engine(f"sqlite:///{path}")
        try:
            rows = _count(engine)
        except Exception:  # noqa: BLE001 - a broken file is simply rebuilt
            rows = -1
        finally:
            engine.dispose()
        if rows == size and _sidecar(path).exists():
            info = BuildInfo(**json.loads(_sidecar(path).read_text()))
            info.reused = True
            print(f"  sqlite {size:,}: reusing {path} (built in {info.total_s:.1f} s)", flush=True)
            return info
        print(f"  sqlite {size:,}: {path} has {rows:,} rows, rebuilding", flush=True)
    # Build under a temporary name and rename at the end: an interrupted build is never
    # mistaken for a finished one.
    tmp = path.with_name(path.name + ".building")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  sqlite {size:,}: building {path}", flush=True)
    engine = make_engine(f"sqlite:///{tmp}")
    create_tables(engine)
    progress = _Progress(f"sqlite {size:,}", size)
    start = time.perf_counter()
    relations = 0
    with engine.connect() as conn:
        # Durability is pointless for a throw-away bench file; the page cache setting
        # only speeds up this connection's index builds.
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB
        for index in _secondary_indexes():
            index.drop(conn)
        conn.commit()
        done = 0
        for batch in _batches(synthetic_rows(size)):  # one transaction for the load
            conn.execute(insert(PRODUCT), batch)
            done += len(batch)
            progress.update(done)
        progress.update(done, final=True)
        for batch in _batches(synthetic_relations(size)):
            conn.execute(insert(RELATION), batch)
            relations += len(batch)
        conn.commit()
        load_s = time.perf_counter() - start
        index_s = _create_indexes(conn)
        conn.commit()
        start = time.perf_counter()
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
        analyze_s = time.perf_counter() - start
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    os.replace(tmp, path)
    for stale in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    info = BuildInfo("sqlite", size, relations, load_s, index_s, analyze_s)
    _sidecar(path).write_text(json.dumps(asdict(info)))
    print(
        f"  sqlite {size:,}: load {load_s:.1f} s, indexes {index_s:.1f} s, "
        f"analyze {analyze_s:.1f} s",
        flush=True,
    )
    return info


def postgres_url(server: str, size: int) -> str:
    """The URL of the bench database for ``size`` on the server of ``server``."""
    return server.rsplit("/", 1)[0] + f"/bench_recommend_{size}"


def _admin(server: str) -> Engine:
    url = server.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT")


def drop_postgres(server: str, size: int) -> None:
    """Drop the bench database for ``size`` (no error when it does not exist)."""
    name = make_url(postgres_url(server, size)).database
    admin = _admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def build_postgres(server: str, size: int) -> BuildInfo:
    """Build (or reuse) the PostgreSQL bench database for ``size`` with ``COPY``."""
    url = postgres_url(server, size)
    name = make_url(url).database
    admin = _admin(server)
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if exists:
            engine = make_engine(url)
            try:
                rows = _count(engine)
                note = (
                    engine.connect()
                    .execute(text("SELECT obj_description('product'::regclass)"))
                    .scalar_one_or_none()
                )
            except Exception:  # noqa: BLE001 - half-built: rebuild
                rows, note = -1, None
            finally:
                engine.dispose()
            if rows == size and note:
                info = BuildInfo(**json.loads(note))
                info.reused = True
                print(f"  postgres {size:,}: reusing database {name}", flush=True)
                admin.dispose()
                return info
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    print(f"  postgres {size:,}: building database {name}", flush=True)
    engine = make_engine(url)
    create_tables(engine)
    progress = _Progress(f"postgres {size:,}", size)
    start = time.perf_counter()
    relations = 0
    with engine.connect() as conn:
        for index in _secondary_indexes():
            index.drop(conn)
        raw: Any = conn.connection.driver_connection
        cursor = raw.cursor()
        done = 0
        with cursor.copy(f"COPY product ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in synthetic_rows(size):
                # COPY's text format takes the JSON column as its serialised text.
                row["extra"] = json.dumps(row["extra"])
                copy.write_row([row[c] for c in COLUMNS])
                done += 1
                if done % BATCH_ROWS == 0:
                    progress.update(done)
        progress.update(done, final=True)
        with cursor.copy("COPY productrelation (source, target, kind, note) FROM STDIN") as copy:
            for rel in synthetic_relations(size):
                copy.write_row([rel["source"], rel["target"], rel["kind"], rel["note"]])
                relations += 1
        conn.commit()
        load_s = time.perf_counter() - start
        conn.exec_driver_sql("SET maintenance_work_mem = '256MB'")
        index_s = _create_indexes(conn)
        conn.commit()
    # VACUUM sets the visibility map, without which no index-only scan is possible; a
    # live shop's table gets the same from autovacuum, a fresh COPY does not.
    start = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    analyze_s = time.perf_counter() - start
    info = BuildInfo("postgres", size, relations, load_s, index_s, analyze_s)
    with engine.begin() as conn:
        # The build record lives in the database, so a kept database reports it too.
        conn.execute(text(f"COMMENT ON TABLE product IS '{json.dumps(asdict(info))}'"))
    engine.dispose()
    print(
        f"  postgres {size:,}: load {load_s:.1f} s, indexes {index_s:.1f} s, "
        f"vacuum analyze {analyze_s:.1f} s",
        flush=True,
    )
    return info


if __name__ == "__main__":  # quick look: python bench/catalog_gen.py 2000
    from collections import Counter

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rows = list(synthetic_rows(n))
    print(len(rows), Counter(r["category"] for r in rows).most_common())
    print(sum(r["stock"] == 0 for r in rows) / len(rows), "sold out")
