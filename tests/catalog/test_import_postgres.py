"""The importer on the local PostgreSQL server: same catalogue as on SQLite, re-import
idempotent, products gone from the feed unavailable. Each run makes its own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlmodel import Session, select

from catalog.db import make_engine
from catalog.importing import default_mapping, import_feed, load_mapping
from catalog.models import Product, ProductRelation
from web.production import database_on, drop_databases

pytestmark = pytest.mark.postgres

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATA = Path(__file__).resolve().parent / "data"
SHOPIFY = DATA / "shopify_products.csv"


@pytest.fixture()
def pg_url() -> Iterator[str]:
    name = f"import_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {SERVER}: {exc}")
    try:
        yield database_on(SERVER, name)
    finally:
        drop_databases(SERVER, [name])


def _catalogue(url: str) -> tuple[list[dict[str, Any]], set[tuple[str, str, str]]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            products = [
                {k: v for k, v in p.model_dump().items() if k != "id"}
                for p in session.exec(select(Product).order_by(Product.sku))
            ]
            relations = {
                (r.source, r.target, r.kind.value) for r in session.exec(select(ProductRelation))
            }
        return products, relations
    finally:
        engine.dispose()


def _import(url: str, feed: Path) -> Any:
    engine = make_engine(url)
    try:
        mapping = default_mapping("shopify")
        assert mapping is not None
        return import_feed(engine, feed, "shopify", load_mapping(mapping))
    finally:
        engine.dispose()


def test_import_on_postgres_as_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    lite = f"sqlite:///{tmp_path / 'catalog.db'}"
    on_pg, on_lite = _import(pg_url, SHOPIFY), _import(lite, SHOPIFY)

    assert (on_pg.new, on_pg.mapped, len(on_pg.problems)) == (13, 13, 3)
    assert [str(p) for p in on_pg.problems] == [str(p) for p in on_lite.problems]
    assert _catalogue(pg_url) == _catalogue(lite)


def test_reimport_and_disappearance_on_postgres(pg_url: str, tmp_path: Path) -> None:
    _import(pg_url, SHOPIFY)
    before = _catalogue(pg_url)
    again = _import(pg_url, SHOPIFY)
    assert (again.new, again.updated, again.unchanged, again.unavailable) == (0, 0, 13, 0)
    assert _catalogue(pg_url) == before

    lines = SHOPIFY.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    smaller = tmp_path / "smaller.csv"
    smaller.write_text("".join(lines[:14] + lines[17:]), encoding="utf-8")  # no Clipper 520
    report = _import(pg_url, smaller)

    assert (report.new, report.updated, report.unavailable) == (0, 0, 1)
    products = {p["sku"]: p for p in _catalogue(pg_url)[0]}
    assert products["CDZ-520"]["available"] is False
    assert sum(p["available"] for p in products.values()) == 12
