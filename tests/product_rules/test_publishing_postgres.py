"""Rule publishing on the local PostgreSQL server: JSON files, UTC times, one number each.

Each test gets a schema of its own in the server's database, created for it and dropped
after it, so nothing is left behind and tests cannot see each other's versions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from catalog.db import normalise_url
from product_rules.publishing import RuleVersion, history, publish, rollback
from product_rules.registry import RuleRegistry
from tests.product_rules.test_publishing import (
    FakeClock,
    check_publish_race_same_files_stores_one_version,
    check_publish_race_takes_next_version,
)
from tests.tables import create_schema

pytestmark = pytest.mark.postgres

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

EngineFactory = Callable[..., Engine]


@pytest.fixture()
def pg_engines() -> Iterator[EngineFactory]:
    """Engines on a fresh schema: ``pg_engines(timezone=...)``; the schema is dropped after."""
    admin = create_engine(normalise_url(SERVER), isolation_level="AUTOCOMMIT")
    schema = f"publishing_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means no server
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run under CI: {SERVER} unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {SERVER}: {exc}")
    engines: list[Engine] = []

    def make(timezone: str = "UTC") -> Engine:
        engine = create_engine(
            normalise_url(SERVER),
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": 5,
                "options": f"-c search_path={schema} -c timezone={timezone}",
            },
        )
        engines.append(engine)
        return create_schema(engine)

    try:
        yield make
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            left = conn.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            ).scalar_one()
        admin.dispose()
        assert left == 0, f"schema {schema} was not dropped"


@pytest.fixture()
def pg_db(pg_engines: EngineFactory) -> Engine:
    return pg_engines()


def test_publish_stores_files_as_json_on_postgres(pg_db: Engine, rules_copy: Path) -> None:
    folder = rules_copy / "road_bike"
    ruleset_file = folder / "ruleset.yml"
    ruleset_file.write_text(
        ruleset_file.read_text().replace("de: Rennrad}", 'de: "Rennrad für Einsteiger – 56 cm"}')
    )
    assert publish(pg_db, folder, author="mia", message="Umlaute ✓").version == 1
    columns = {c["name"]: c for c in inspect(pg_db).get_columns("rule_version")}
    assert columns["files"]["type"].__class__.__name__ == "JSON"
    with pg_db.connect() as conn:
        kind = conn.execute(
            text("SELECT json_typeof(files), files->>'ruleset.yml' FROM rule_version")
        ).one()
    assert kind[0] == "object"
    assert "Rennrad für Einsteiger – 56 cm" in kind[1]
    with Session(pg_db) as session:
        stored = session.exec(select(RuleVersion)).one()
    on_disk = {p.name: p.read_text() for p in folder.iterdir() if p.suffix == ".yml"}
    assert stored.files == on_disk, "every file comes back byte for byte"
    assert history(pg_db)[0]["note"] == "Umlaute ✓"


def test_history_times_are_utc_on_postgres_in_any_time_zone(
    pg_engines: EngineFactory, rules_copy: Path
) -> None:
    """A server (or session) set to New York time still logs the true UTC moment."""
    new_york = pg_engines("America/New_York")
    tokyo = pg_engines("Asia/Tokyo")
    before = datetime.now(UTC).replace(microsecond=0)
    publish(new_york, rules_copy / "road_bike", author="mia")
    after = datetime.now(UTC) + timedelta(seconds=1)
    for engine in (new_york, tokyo):
        at = datetime.fromisoformat(history(engine)[0]["at"])
        assert at.utcoffset() == timedelta(0), history(engine)[0]["at"]
        assert before <= at <= after, (before, at, after)
    with Session(tokyo) as session:
        created = session.exec(select(RuleVersion)).one().created_at
    assert created.tzinfo is not None and before <= created <= after
    with tokyo.connect() as conn:
        kinds = conn.execute(
            text(
                "SELECT table_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'created_at' "
                "AND table_name IN ('rule_publication', 'rule_version')"
            )
        ).all()
    assert sorted(kinds) == [
        ("rule_publication", "timestamp with time zone"),
        ("rule_version", "timestamp with time zone"),
    ]


def test_unique_version_constraint_on_postgres(pg_db: Engine, rules_copy: Path) -> None:
    publish(pg_db, rules_copy / "road_bike", author="mia")
    constraints = inspect(pg_db).get_unique_constraints("rule_version")
    assert {"name": "uq_rule_version", "column_names": ["ruleset_id", "version"]} in [
        {"name": c["name"], "column_names": c["column_names"]} for c in constraints
    ]
    with Session(pg_db) as session:
        session.add(
            RuleVersion(ruleset_id="road_bike", version=1, fingerprint="x", files={}, author="x")
        )
        with pytest.raises(IntegrityError, match="uq_rule_version"):
            session.commit()


def test_publish_race_takes_next_version_on_postgres(
    pg_db: Engine, rules_copy: Path, tmp_path: Path
) -> None:
    check_publish_race_takes_next_version(pg_db, rules_copy, tmp_path)


def test_publish_race_same_files_stores_one_version_on_postgres(
    pg_db: Engine, rules_copy: Path, tmp_path: Path
) -> None:
    check_publish_race_same_files_stores_one_version(pg_db, rules_copy, tmp_path)


def test_registry_serves_publication_from_postgres(
    pg_db: Engine, rules_copy: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    registry = RuleRegistry(
        rules_copy,
        pg_db,
        cache_dir=tmp_path / "cache",
        parser_factory=lambda rs: None,
        clock=clock,
    )
    assert registry.get("road_bike").source == "files"
    folder = rules_copy / "road_bike"
    draft = tmp_path / "draft" / "road_bike"
    draft.parent.mkdir()
    draft.mkdir()
    for path in folder.iterdir():
        (draft / path.name).write_text(path.read_text())
    ruleset_file = draft / "ruleset.yml"
    ruleset_file.write_text(ruleset_file.read_text().replace("{en: Road bike,", "{en: Racing,"))
    publish(pg_db, draft, author="mia")
    publish(pg_db, folder, author="mia")
    clock.advance(1)
    assert registry.get("road_bike").source == "published v2"
    rollback(pg_db, "road_bike", 1, author="lead")
    clock.advance(1)
    served = registry.get("road_bike")
    assert (served.source, served.ruleset.title) == ("published v1", "Racing")
