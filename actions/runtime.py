"""What the actions share: the rule registry and the advisor, created on first use.

Nothing is created at import time, so importing the actions package (as the action
server and the tests do) touches no database.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from advisor.service import Advisor
from advisor.sharing import ShareStore
from catalog.db import make_engine
from product_rules.registry import DEFAULT_RULES_DIR, RuleRegistry

__all__ = ["advisor", "registry", "rules_dir", "reset"]

log = logging.getLogger("actions")
_lock = threading.Lock()
_advisor: Advisor | None = None


def rules_dir() -> Path:
    """The rule sets in service: ``PRODUCT_RULES_DIR`` or the shipped ones."""
    return Path(os.environ.get("PRODUCT_RULES_DIR", str(DEFAULT_RULES_DIR)))


def advisor() -> Advisor:
    """The process-wide advisor (rule files are re-read when they change)."""
    global _advisor
    if _advisor is None:
        with _lock:
            if _advisor is None:
                engine = make_engine()
                registry = RuleRegistry(rules_dir(), engine)
                _advisor = Advisor(registry, codes=ShareStore(engine))
                log.info(
                    "serving rule sets from %s: %s",
                    registry.rules_dir,
                    ", ".join(s.ruleset.id for s in registry.all()) or "none",
                )
    return _advisor


def registry() -> RuleRegistry:
    """The rule registry the advisor serves from."""
    return advisor().registry


def reset() -> None:
    """Forget the advisor (tests that switch the rules folder or database)."""
    global _advisor
    with _lock:
        _advisor = None
