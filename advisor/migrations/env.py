"""Alembic's environment: our metadata, the URL from advisor.schema.alembic_config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from advisor.schema import metadata

config = context.config
target_metadata = metadata()


def run_offline() -> None:
    """Write the SQL instead of running it (``--sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode rebuilds the table.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations in one transaction per run.

    On the connection :func:`advisor.schema.upgrade` hands over when it has one (so an
    engine of any kind, an in-memory SQLite one too, is migrated in place), else on a
    connection to the configured URL.
    """
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        _migrate(given)
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        _migrate(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
