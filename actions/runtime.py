"""What the actions share: the rule registry and the advisor, created on first use.

Nothing is created at import time, so importing the actions package (as the tests do)
touches no database, unless ``ADVISOR_WARM_UP=1`` (set by ``web.stack.action_service``):
then the action server builds the advisor and every rule set's parser in every language
before it listens, so the first shopper's call is not the one that pays for it (about a
second: spaCy's German pipeline and the rule sets), which the action guard's 1.5 s would
cut off on a busy machine.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from pathlib import Path

from sqlalchemy import Engine

from advisor.conversation_store import ConversationStore
from advisor.events import EventLog
from advisor.service import Advisor
from advisor.settings import get_settings
from advisor.sharing import ShareStore
from catalog.db import make_engine
from product_rules.localize import LANGUAGES
from product_rules.registry import RuleRegistry

__all__ = [
    "advisor",
    "conversations",
    "registry",
    "reset",
    "rules_dir",
    "warm_up",
    "warm_up_requested",
]

log = logging.getLogger("actions")
_lock = threading.Lock()
_advisor: Advisor | None = None
_conversations: ConversationStore | None = None


def rules_dir() -> Path:
    """The rule sets in service: ``PRODUCT_RULES_DIR`` or the shipped ones."""
    return get_settings().rules_dir


def advisor() -> Advisor:
    """The process-wide advisor (rule files are re-read when they change)."""
    global _advisor
    if _advisor is None:
        with _lock:
            if _advisor is None:
                engine = make_engine(get_settings().database_url)
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
    if not get_settings().events_enabled:
        log.info("analytics events are off (ADVISOR_EVENTS)")
        return None
    events = EventLog(engine)
    atexit.register(events.close)
    return events


def warm_up_requested() -> bool:
    """Whether this process should warm up at start (``ADVISOR_WARM_UP=1``)."""
    return get_settings().warm_up


def warm_up() -> float:
    """Build the advisor and each rule set's parser per language; the seconds it took."""
    start = time.perf_counter()
    served = advisor()
    for language in LANGUAGES:
        for ruleset in served.registry.all(language=language):
            ruleset.parser.parse("about 1500, 1,82 m, no", language=language)
    seconds = time.perf_counter() - start
    log.info("warmed up in %.2f s (languages: %s)", seconds, ", ".join(LANGUAGES))
    return seconds


def conversations() -> ConversationStore:
    """The conversation states in the advisor's database (one store per process)."""
    global _conversations
    db = advisor().registry.db
    if _conversations is None or _conversations.engine is not db:
        with _lock:
            if _conversations is None or _conversations.engine is not db:
                _conversations = ConversationStore(db)
    return _conversations


def registry() -> RuleRegistry:
    """The rule registry the advisor serves from."""
    return advisor().registry


def reset() -> None:
    """Forget the advisor (tests that switch the rules folder or database)."""
    global _advisor, _conversations
    with _lock:
        _advisor = None
        _conversations = None
