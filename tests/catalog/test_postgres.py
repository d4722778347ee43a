"""The catalogue and the engine on the local PostgreSQL server, compared with SQLite.

Each run creates its own database and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, func, select

from catalog.db import make_engine
from catalog.demo import build_demo_database
from catalog.models import Product
from product_rules.engine import AdviceEngine
from product_rules.loader import load_all

pytestmark = pytest.mark.postgres

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


@pytest.fixture(scope="module")
def pg_db() -> Iterator[Engine]:
    admin = create_engine(
        SERVER.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"catalog_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means no server
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {SERVER}: {exc}")
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        build_demo_database(url)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_build_demo_catalog_on_postgres(pg_db: Engine, demo_db: Engine) -> None:
    assert pg_db.dialect.name == "postgresql"
    with Session(pg_db) as pg, Session(demo_db) as lite:
        count = select(Product.category, func.count()).group_by(Product.category)
        assert dict(pg.exec(count).all()) == dict(lite.exec(count).all())


@pytest.mark.parametrize(
    "answers",
    [
        {
            "usage": "endurance",
            "experience": "beginner",
            "budget": 1500,
            "body_height_cm": 182,
            "shoes_owned": "none",
        },
        {
            "usage": "racing",
            "experience": "racer",
            "budget": 4000,
            "body_height_cm": 175,
            "shoes_owned": "look_keo",
        },
        {"usage": "commute", "experience": "intermediate", "budget": 250, "body_height_cm": 168},
    ],
    ids=["beginner", "racer-look-keo", "budget-too-low"],
)
def test_recommend_same_offers_on_postgres_and_sqlite(
    pg_db: Engine, demo_db: Engine, answers: dict[str, object]
) -> None:
    loaded, _ = load_all(RULES)
    ruleset = loaded["road_bike"].ruleset
    on_pg = AdviceEngine(ruleset, pg_db).recommend(answers)
    on_lite = AdviceEngine(ruleset, demo_db).recommend(answers)
    assert on_pg.offers, "PostgreSQL returned offers"
    assert on_pg.offers == on_lite.offers
    assert on_pg.cross_sell == on_lite.cross_sell
    assert on_pg.relaxed == on_lite.relaxed
