"""The migrations build every table of ours, on SQLite and PostgreSQL, as the models say."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import create_engine, inspect, text

from advisor import schema

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: The newest migration: every test expects a fresh database to end there.
HEAD = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_current_head()


def _ours() -> set[str]:
    return set(schema.metadata().tables)


def test_migrations_build_every_table_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = create_engine(url)

    assert "was empty" in schema.upgrade(engine, url)

    assert schema.current(engine) == HEAD
    assert _ours() <= set(inspect(engine).get_table_names())
    assert schema.check(engine) == [], "the migrations and the models differ"
    assert schema.upgrade(engine, url) == f"at {HEAD}", "a second upgrade does nothing"
    command.downgrade(schema.alembic_config(url), "base")
    assert not _ours() & set(inspect(engine).get_table_names())


def test_every_module_with_tables_is_in_the_schema() -> None:
    tables = _ours()
    # One of each area: catalogue, rule workbench, advisor, analytics, hand-over.
    for name in ("product", "rule_version", "rule_draft", "staff_user", "advisor_event"):
        assert name in tables, f"{name} is not in advisor.schema.MODULES' tables"


def test_a_database_made_before_migrations_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    engine = create_engine(url)
    # As development made it: some tables by create_all, on first use, no version.
    schema.metadata().create_all(engine, tables=[schema.metadata().tables["staff_user"]])

    assert f"marked as at {HEAD}" in schema.upgrade(engine, url)
    assert schema.check(engine) == []


def test_a_legacy_table_that_differs_is_named_not_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE staff_user (id INTEGER PRIMARY KEY, nick TEXT)"))

    with pytest.raises(RuntimeError, match="staff_user"):
        schema.upgrade(engine, url)
    assert schema.current(engine) is None, "nothing is marked on a mismatch"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"schema_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable under CI: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(SERVER)
    try:
        yield urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.mark.postgres
def test_migrations_build_every_table_on_postgres(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        schema.upgrade(engine, postgres_url)
        assert schema.current(engine) == HEAD
        assert schema.check(engine) == [], "the migrations and the models differ"
        columns = {c["name"] for c in inspect(engine).get_columns("rule_version")}
        assert {"ruleset_id", "version", "files"} <= columns, columns
        command.downgrade(schema.alembic_config(postgres_url), "base")
        assert not _ours() & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
