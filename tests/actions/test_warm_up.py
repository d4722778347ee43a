"""The action server warms up before it listens (ADVISOR_WARM_UP=1, set by web.stack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actions import runtime
from advisor.settings import get_settings
from product_rules.localize import LANGUAGES


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process: read them again under this test's environment."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_warm_up_builds_every_parser_in_every_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_WARM_UP", "1")
    assert runtime.warm_up_requested()
    runtime.reset()
    try:
        assert runtime.warm_up() > 0
        registry = runtime.registry()
        for language in LANGUAGES:
            for served in registry.all(language=language):
                assert served.language == language
                # Built once: the served view keeps its parser.
                assert registry.get(served.ruleset.id, language=language).parser is served.parser
    finally:
        runtime.reset()


def test_no_warm_up_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADVISOR_WARM_UP", raising=False)
    assert not runtime.warm_up_requested()
