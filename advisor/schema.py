"""The schema of every table of ours, and its migrations (Alembic).

One metadata holds the tables of the catalogue (``catalog.models``), the rule workbench
(``product_rules.publishing``, ``drafts``) and the advisor (accounts, sessions, presence,
hand-over, sharing, inbox, live log, facts, ratings, events, the privacy audit). The
migrations in ``advisor/migrations/versions`` build it; ``advisor db upgrade`` applies them and is
what a deployment runs before it starts any process (``make run-prod`` does), so no
two processes race to create a table. ``advisor db check`` says whether a database
matches the models.

No process makes tables on its own: a deployment runs ``advisor db upgrade`` first, and
``catalog build-demo`` (and :func:`catalog.db.create_tables`, which it uses) runs the
same migrations. A database made before migrations existed (by ``create_all``) holds
some of the tables but no version: ``upgrade`` then makes
the missing ones, compares the whole with the models and, when they match, marks it as
at the newest version; when a table differs it stops and names the differences.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, inspect
from sqlmodel import SQLModel

__all__ = ["MODULES", "alembic_config", "check", "current", "metadata", "stamp", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Every module that declares tables of ours.
MODULES = (
    "catalog.models",
    "product_rules.publishing",
    "product_rules.drafts",
    "advisor.accounts",
    "advisor.sessions",
    "advisor.presence",
    "advisor.handover",
    "advisor.sharing",
    "advisor.inbox",
    "advisor.live_log",
    "advisor.facts",
    "advisor.ratings",
    "advisor.events",
    "advisor.privacy",
    "advisor.conversation_store",
)


def metadata() -> MetaData:
    """The metadata with every table of ours declared."""
    for name in MODULES:
        importlib.import_module(name)
    return SQLModel.metadata


def alembic_config(url: str) -> Config:
    """Alembic's configuration for ``url`` (no alembic.ini: everything is here)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a URL (an encoded password) is %%.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` (none applied)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check(engine: Engine) -> list[str]:
    """The differences between the database and the models, readable; empty when equal."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [_describe(diff) for diff in compare_metadata(context, metadata())]


def _describe(diff: object) -> str:
    if isinstance(diff, tuple) and diff and isinstance(diff[0], str):
        kind, *rest = diff
        names = [getattr(x, "name", None) or str(x) for x in rest if x is not None][:3]
        return f"{kind}: {', '.join(str(n) for n in names)}"
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    return str(diff)


def _on_engine(engine: Engine, config: Config, run: Callable[[], None]) -> None:
    """Run an Alembic command on one connection of ``engine``, committed at the end."""
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            run()
        finally:
            del config.attributes["connection"]


def stamp(engine: Engine, config: Config | None = None) -> None:
    """Mark the database as at the newest migration, without running any.

    For a database whose tables were made from the models (they match, see
    :func:`check`): the tests' throw-away databases, an old ``create_all`` database.
    """
    config = config or alembic_config(engine.url.render_as_string(hide_password=False))
    _on_engine(engine, config, lambda: command.stamp(config, "head"))


def upgrade(engine: Engine, url: str | None = None) -> str:
    """Bring the database to the newest migration; what was done, in one line.

    The migrations run on ``engine``'s own connections (``url``, when given, only names
    the database in Alembic's configuration).

    Raises:
        RuntimeError: The database holds our tables without a version and they differ
            from the models (the differences are in the message).
    """
    config = alembic_config(url or engine.url.render_as_string(hide_password=False))
    head = ScriptDirectory.from_config(config).get_current_head()
    before = current(engine)
    ours = set(metadata().tables)
    existing = set(inspect(engine).get_table_names()) & ours
    if before is None and existing:
        # Tables are made lazily, so such a database often lacks some: make those as the
        # first migration would, then the rest must match the models exactly.
        metadata().create_all(engine)
        differences = check(engine)
        if differences:
            raise RuntimeError(
                "the database has tables of ours but no migration version, and they differ "
                "from the models: " + "; ".join(differences[:10])
            )
        stamp(engine, config)
        return f"existing tables match the models: marked as at {head}"
    _on_engine(engine, config, lambda: command.upgrade(config, "head"))
    after = current(engine)
    return f"at {after}" + ("" if before == after else f" (was {before or 'empty'})")
