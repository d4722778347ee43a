"""The advisor's database: the catalogue's database (``DATABASE_URL``).

The engine comes from :func:`catalog.db.make_engine`, so the advisor and the catalogue
share one database, one URL and one set of connection rules (SQLite WAL, fast failure
on an unreachable server). No process makes tables: the migrations do
(``advisor db upgrade``, :mod:`advisor.schema`), once, before anything starts.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from catalog.db import make_engine

__all__ = ["AdvisorDatabase", "make_engine"]


class AdvisorDatabase:
    """The engine the web app and the command line hand out sessions of."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self) -> Session:
        """A new session (the caller closes it)."""
        return Session(self.engine)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()
