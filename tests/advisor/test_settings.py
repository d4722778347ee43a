"""One settings object for every package: what it reads, and that nobody else reads it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from advisor.settings import REPO_ROOT, Settings

PACKAGES = ("advisor", "actions", "catalog", "product_rules", "web")
# The launchers read their own command-line options' environment fallbacks (ports, how
# many processes, the production profile's PostgreSQL and Redis) and pass variables on.
LAUNCHERS = {"web/stack.py", "web/production.py"}


def test_the_action_server_and_the_analytics_switches(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "ADVISOR_EVENTS": "off",
            "ADVISOR_WARM_UP": "1",
            "TRACKER_STORE_URL": "postgresql://rasa@db:5432/tracker",
            "PRODUCT_RULES_DIR": str(tmp_path),
        },
        var_dir=tmp_path,
    )
    assert settings.events_enabled is False
    assert settings.warm_up is True
    assert settings.tracker_store_url == "postgresql://rasa@db:5432/tracker"
    assert settings.rules_dir == tmp_path


def test_defaults_are_the_development_files(tmp_path: Path) -> None:
    settings = Settings.from_env({}, var_dir=tmp_path)
    assert settings.events_enabled is True
    assert settings.warm_up is False
    assert settings.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'catalog.db'}"
    assert settings.tracker_store_url == f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"


def test_a_switch_set_to_nonsense_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ADVISOR_EVENTS must be true or false"):
        Settings.from_env({"ADVISOR_EVENTS": "sometimes"}, var_dir=tmp_path)


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
    return lines


def test_no_other_module_of_ours_reads_the_environment() -> None:
    readers = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if relative == "advisor/settings.py" or relative in LAUNCHERS:
                continue
            if "/migrations/" in relative:
                continue
            lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
            readers += [f"{relative}:{line}" for line in lines]
    assert readers == [], f"read the environment through advisor.settings: {readers}"
