"""Fixtures shared by the test packages: the demo catalogue and the shipped rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from catalog.db import create_tables
from catalog.demo import build_demo_catalog

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "product_rules" / "rules"


@pytest.fixture(scope="session")
def demo_db() -> Iterator[Engine]:
    """The demo catalogue in an in-memory SQLite database, built once per run."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    create_tables(engine)
    with Session(engine) as session:
        build_demo_catalog(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture()
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rule sets."""
    import shutil

    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target
