"""What the actions share: the rule registry and the catalogue engine, created on first use.

Nothing is created at import time, so importing the actions package (as the action
server and the tests do) touches no database.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from catalog.db import make_engine
from product_rules.registry import DEFAULT_RULES_DIR, RuleRegistry

__all__ = ["registry", "rules_dir", "reset"]

log = logging.getLogger("actions")
_lock = threading.Lock()
_registry: RuleRegistry | None = None


def rules_dir() -> Path:
    """The rule sets in service: ``PRODUCT_RULES_DIR`` or the shipped ones."""
    return Path(os.environ.get("PRODUCT_RULES_DIR", str(DEFAULT_RULES_DIR)))


def registry() -> RuleRegistry:
    """The process-wide rule registry (rule files are re-read when they change)."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = RuleRegistry(rules_dir(), make_engine())
                log.info(
                    "serving rule sets from %s: %s",
                    _registry.rules_dir,
                    ", ".join(s.ruleset.id for s in _registry.all()) or "none",
                )
    return _registry


def reset() -> None:
    """Forget the registry (tests that switch the rules folder or database)."""
    global _registry
    with _lock:
        _registry = None
