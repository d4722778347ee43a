"""Fixtures of the browser tests: Chromium, and a shop database with one staff account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session

from advisor import accounts
from catalog.db import make_engine
from catalog.demo import build_demo_catalog
from tests.tables import create_schema
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS

STAFF_NAME = "anna"
STAFF_PASSWORD = "correct horse battery"


@dataclass(frozen=True, slots=True)
class ShopDatabase:
    """A SQLite file with the demo catalogue, the advisor's tables and one staff account."""

    url: str
    engine: Engine


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopDatabase]:
    """The shop's database for one module; staff ``anna`` may sign in (fast hashing)."""
    database = tmp_path_factory.mktemp("shop") / "shop.db"
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    create_schema(engine)
    hasher = accounts.PASSWORD_HASHER
    accounts.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        with Session(engine) as session:
            build_demo_catalog(session)
            accounts.create_user(session, name=STAFF_NAME, role="staff", password=STAFF_PASSWORD)
        yield ShopDatabase(url=url, engine=engine)
    finally:
        accounts.PASSWORD_HASHER = hasher
        engine.dispose()
