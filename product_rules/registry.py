"""The rule sets in service, reloaded when their files change.

A change to a rule file is picked up on the next request (checked at most every
``check_interval`` seconds), without retraining or restarting anything. A rule set that
fails its checks is refused with its problems logged, and the previous version of it
keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from product_rules.engine import AdviceEngine
from product_rules.errors import RuleProblem, UnknownRuleSetError
from product_rules.loader import LoadedRuleSet, load_all
from product_rules.schema import RuleSet

__all__ = ["RuleRegistry", "ServedRuleSet", "DEFAULT_RULES_DIR"]

log = logging.getLogger("product_rules")

DEFAULT_RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True, slots=True)
class ServedRuleSet:
    """A rule set in service with its engine and its answer parser (built once)."""

    loaded: LoadedRuleSet
    engine: AdviceEngine
    parser: Any  # product_rules.parsing.AnswerParser; built lazily, spaCy is slow to import

    @property
    def ruleset(self) -> RuleSet:
        """The rule set itself."""
        return self.loaded.ruleset


class RuleRegistry:
    """Every rule set found under ``rules_dir``, kept in sync with the files."""

    def __init__(
        self,
        rules_dir: Path,
        db: Engine,
        *,
        check_interval: float = 0.25,
        parser_factory: Callable[[RuleSet], Any] | None = None,
    ) -> None:
        self.rules_dir = rules_dir
        self.db = db
        self.check_interval = check_interval
        self._parser_factory = parser_factory or _default_parser
        self._lock = threading.Lock()
        self._served: dict[str, ServedRuleSet] = {}
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked_at = 0.0
        self.problems: list[RuleProblem] = []
        self.refresh(force=True)

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        entries = []
        for path in sorted(self.rules_dir.rglob("*.y*ml")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed while we looked
            entries.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

    def refresh(self, *, force: bool = False) -> None:
        """Reload the rule sets whose files changed since the last look."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_interval:
            return
        with self._lock:
            self._checked_at = now
            signature = self._current_signature()
            if signature == self._signature:
                return
            self._signature = signature
            loaded, problems = load_all(self.rules_dir)
            self.problems = problems
            for problem in problems:
                log.error("rule file refused, previous version keeps serving: %s", problem)
            served = dict(self._served)
            for ruleset_id, item in loaded.items():
                current = served.get(ruleset_id)
                if current is not None and current.loaded.fingerprint == item.fingerprint:
                    continue
                served[ruleset_id] = ServedRuleSet(
                    item, AdviceEngine(item.ruleset, self.db), self._parser_factory(item.ruleset)
                )
                log.info("rule set %s version %s in service", ruleset_id, item.fingerprint)
            self._served = served

    def get(self, ruleset_id: str) -> ServedRuleSet:
        """The rule set ``ruleset_id`` as it is in service now."""
        self.refresh()
        try:
            return self._served[ruleset_id]
        except KeyError:
            raise UnknownRuleSetError(ruleset_id, self._served) from None

    def all(self) -> list[ServedRuleSet]:
        """Every rule set in service, by id."""
        self.refresh()
        return [self._served[k] for k in sorted(self._served)]


def _default_parser(ruleset: RuleSet) -> Any:
    from product_rules.parsing import AnswerParser

    return AnswerParser(ruleset)
