"""The advisor's tables, in the catalogue's database (``DATABASE_URL``).

The engine comes from :func:`catalog.db.make_engine`, so the advisor and the catalogue
share one database, one URL and one set of connection rules (SQLite WAL, fast failure
on an unreachable server). Tables are created with ``create_all`` for now; only the
advisor's own tables, so a catalogue rebuild and the advisor never touch each other's.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, Table
from sqlmodel import Session, SQLModel

from catalog.db import make_engine

__all__ = ["AdvisorDatabase", "advisor_tables", "create_tables", "make_engine"]


def advisor_tables() -> list[Table]:
    """The advisor tables created here: staff accounts (a module with tables adds them)."""
    from advisor import accounts

    return [SQLModel.metadata.tables[name] for name in accounts.TABLE_NAMES]


def create_tables(engine: Engine) -> None:
    """Create the advisor's tables that do not exist yet (idempotent)."""
    SQLModel.metadata.create_all(engine, tables=advisor_tables())


class AdvisorDatabase:
    """An engine whose advisor tables are created once, on the first session.

    Creating the tables lazily keeps a process that never needs the database (the shop
    page, the tests of the chat proxy) from touching it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False
        self._lock = threading.Lock()

    def ensure_tables(self) -> None:
        """Create the advisor's tables unless this object did so already."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                create_tables(self.engine)
                self._ready = True

    def session(self) -> Session:
        """A new session (the caller closes it), with the tables in place."""
        self.ensure_tables()
        return Session(self.engine)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()
