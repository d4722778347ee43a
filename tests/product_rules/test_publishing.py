from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog.db import create_tables, make_engine
from product_rules.errors import RuleSetError
from product_rules.publishing import UnknownVersionError, history, publish, rollback
from product_rules.registry import RuleRegistry


@pytest.fixture()
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    create_tables(engine)
    return engine


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_publish_records_versions_and_changes(db: Engine, rules_copy: Path) -> None:
    folder = rules_copy / "road_bike"
    first = publish(db, folder, author="mia", message="initial")
    assert (first.version, first.created) == (1, True)
    again = publish(db, folder, author="mia")
    assert (again.version, again.created) == (1, False), "same files: same version"
    _edit(folder, "questions.yml", "What is your budget", "What would you like to spend")
    second = publish(db, folder, author="tom", message="friendlier budget question")
    assert second.version == 2
    assert second.changes == "changed questions.yml: +1 -1 lines"
    log = history(db, "road_bike")
    assert [(e["version"], e["author"], e["action"]) for e in log] == [
        (2, "tom", "publish"),
        (1, "mia", "publish"),
        (1, "mia", "publish"),
    ]
    assert log[0]["note"] == "friendlier budget question" and log[0]["at"]


def test_publish_refuses_broken_ruleset(db: Engine, rules_copy: Path) -> None:
    folder = rules_copy / "road_bike"
    publish(db, folder, author="mia")
    _edit(folder, "filters.yml", "attribute: frame_size_cm", "attribute: frame_sise")
    with pytest.raises(RuleSetError) as caught:
        publish(db, folder, author="mia")
    assert "did you mean 'frame_size_cm'" in str(caught.value)
    assert [e["version"] for e in history(db)] == [1]


def test_rollback_to_earlier_version(db: Engine, rules_copy: Path) -> None:
    folder = rules_copy / "road_bike"
    publish(db, folder, author="mia")
    _edit(folder, "ruleset.yml", "title: Road bike", "title: Racing bike")
    publish(db, folder, author="mia")
    assert rollback(db, "road_bike", 1, author="lead", note="title confused shoppers") == 1
    latest = history(db)[0]
    assert (latest["version"], latest["action"], latest["author"], latest["note"]) == (
        1,
        "rollback",
        "lead",
        "title confused shoppers",
    )
    with pytest.raises(UnknownVersionError, match="known: 1, 2"):
        rollback(db, "road_bike", 7, author="lead")


def test_registry_serves_publication_without_restart(
    db: Engine, rules_copy: Path, tmp_path: Path
) -> None:
    folder = rules_copy / "road_bike"
    registry = RuleRegistry(
        rules_copy,
        db,
        check_interval=0.05,
        cache_dir=tmp_path / "cache",
        parser_factory=lambda rs: None,
    )
    assert registry.get("road_bike").source == "files"
    draft = tmp_path / "draft" / "road_bike"
    draft.parent.mkdir()
    shutil.copytree(folder, draft)
    _edit(draft, "ruleset.yml", "title: Road bike", "title: Racing bike")
    publish(db, draft, author="mia")
    started = time.monotonic()
    while registry.get("road_bike").ruleset.title != "Racing bike":
        assert time.monotonic() - started < 1.0, "publication not in service within 1 s"
        time.sleep(0.02)
    assert registry.get("road_bike").source == "published v1"
    rollback_target = publish(db, folder, author="mia").version
    time.sleep(0.06)
    assert registry.get("road_bike").ruleset.title == "Road bike"
    rollback(db, "road_bike", 1, author="mia")
    time.sleep(0.06)
    assert registry.get("road_bike").ruleset.title == "Racing bike"
    assert rollback_target == 2
