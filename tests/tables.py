"""Every table of ours in a test database, the fast way.

Processes never make tables (the migrations do, ``advisor db upgrade``). A test's
throw-away database gets them from the models in one ``create_all``: the same schema,
since ``tests/advisor/test_schema.py`` checks that the migrations build exactly the
models, and hundreds of times faster than running the migrations for every test.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from advisor import schema
from catalog.db import make_engine

__all__ = ["create_schema", "database_at"]


def create_schema(engine: Engine) -> Engine:
    """Make every table of ours, marked as at the newest migration; the engine, for chaining."""
    schema.metadata().create_all(engine)
    schema.stamp(engine)
    return engine


def database_at(path: Path) -> str:
    """The URL of a new SQLite database at ``path`` with every table of ours in it."""
    url = f"sqlite:///{path}"
    create_schema(make_engine(url)).dispose()
    return url
