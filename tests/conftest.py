"""Fixtures shared by the test packages: the demo catalogue and the shipped rules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from catalog.demo import build_demo_catalog
from tests.tables import create_schema

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "product_rules" / "rules"


@pytest.fixture(scope="session")
def demo_db() -> Iterator[Engine]:
    """The demo catalogue in an in-memory SQLite database, built once per run."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    create_schema(engine)
    with Session(engine) as session:
        build_demo_catalog(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture()
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rule sets."""
    import shutil

    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


# Under CI a skipped layer is a failed run: a green `make test` must mean that Rasa, the
# browser, PostgreSQL and Redis were really exercised, not that their tests stepped aside.
LAYERS = ("integration", "browser", "postgres", "redis")
_skipped_layers: list[str] = []


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.excinfo is None:
        return
    if not call.excinfo.errisinstance(pytest.skip.Exception):
        return
    layers = [name for name in LAYERS if item.get_closest_marker(name)]
    if layers:
        reason = str(call.excinfo.value)
        _skipped_layers.append(f"{item.nodeid} [{', '.join(layers)}]: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _under_ci() and _skipped_layers:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _under_ci() and _skipped_layers:
        terminalreporter.section("layers skipped under CI (this run fails)", red=True)
        for line in _skipped_layers:
            terminalreporter.line(line)
