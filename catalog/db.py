"""Database engine and sessions for the catalogue (SQLite by default, PostgreSQL too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, delete, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

__all__ = ["make_engine", "create_tables", "drop_tables", "session_scope", "normalise_url"]


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (callers pass ``advisor.settings``' ``database_url``)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the web app and the action server read while an import writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # A server that drops packets must fail fast, not hang a shopper's turn. Ten kept
    # connections: with SQLAlchemy's five, bursts of staff requests opened new server
    # sessions (bench/live.py); ten more at most keeps a few processes under a server's
    # default 100 connections.
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": 5},
    )


def create_tables(engine: Engine) -> None:
    """Bring the database to the newest schema: every table of ours, by the migrations.

    The migrations live with the advisor (``advisor.schema``), which declares every
    table (catalogue, rule workbench, advisor) in one history; the catalogue's commands
    call them through here so a new database is never made any other way.
    """
    from advisor.schema import upgrade  # the catalogue is below the advisor: not at the top

    upgrade(engine)


def drop_tables(engine: Engine) -> None:
    """Empty the catalogue (products and relations), to rebuild the demo catalogue.

    Rows, not tables: the schema belongs to the migrations, and the advisor's tables in
    the same database (staff accounts, conversations) are not the catalogue's to touch.
    """
    from catalog.models import Product, ProductRelation

    create_tables(engine)  # a new database: nothing to empty, but the tables to fill
    with engine.begin() as connection:
        for model in (ProductRelation, Product):
            connection.execute(delete(model))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
