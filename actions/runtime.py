"""What the actions share: the rule registry and the advisor, created on first use.

Nothing is created at import time, so importing the actions package (as the action
server and the tests do) touches no database.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from pathlib import Path

from sqlalchemy import Engine

from advisor.events import EventLog, events_enabled
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
                _advisor = Advisor(registry, codes=ShareStore(engine), events=event_log(engine))
                log.info(
                    "serving rule sets from %s: %s",
                    registry.rules_dir,
                    ", ".join(s.ruleset.id for s in registry.all()) or "none",
                )
    return _advisor


def event_log(engine: Engine) -> EventLog | None:
    """The analytics event log in the advisor's database, unless ``ADVISOR_EVENTS=off``.

    Queued events are written out when the process ends normally.
    """
    if not events_enabled():
        log.info("analytics events are off (ADVISOR_EVENTS)")
        return None
    events = EventLog(engine)
    atexit.register(events.close)
    return events


def registry() -> RuleRegistry:
    """The rule registry the advisor serves from."""
    return advisor().registry


def reset() -> None:
    """Forget the advisor (tests that switch the rules folder or database)."""
    global _advisor
    with _lock:
        _advisor = None
