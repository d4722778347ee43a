"""The rule sets in service: from the rule folder, overridden by published versions.

Both sources are re-read when they change (checked at most every ``check_interval``
seconds, on the next request): a file edit or a publish is in service within a second,
without retraining or restarting anything. A rule set that fails its checks is refused
with its problems logged, and the previous version of it keeps serving.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from product_rules.engine import AdviceEngine
from product_rules.errors import RuleProblem, RuleSetError, UnknownRuleSetError
from product_rules.loader import LoadedRuleSet, load_all, load_ruleset
from product_rules.localize import DEFAULT_LANGUAGE, LANGUAGES
from product_rules.publishing import (
    active_versions,
    latest_publication_id,
    materialize,
)
from product_rules.schema import RuleSet

__all__ = ["DEFAULT_RULES_DIR", "RuleRegistry", "ServedRuleSet"]

log = logging.getLogger("product_rules")

DEFAULT_RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True, slots=True)
class ServedRuleSet:
    """A rule set in service with its engine and its answer parser (built once)."""

    loaded: LoadedRuleSet
    engine: AdviceEngine
    parser: Any  # product_rules.parsing.AnswerParser; built lazily, spaCy is slow to import
    source: str  # "files" or "published v<N>"
    language: str = DEFAULT_LANGUAGE  # the language of the rule set's texts and words

    @property
    def ruleset(self) -> RuleSet:
        """The rule set itself."""
        return self.loaded.ruleset

    @property
    def version(self) -> int | None:
        """The published version in service; ``None`` when served from the rule files."""
        prefix = "published v"
        return int(self.source[len(prefix) :]) if self.source.startswith(prefix) else None


class RuleRegistry:
    """Every rule set found under ``rules_dir`` or published in the database, kept in sync."""

    def __init__(
        self,
        rules_dir: Path,
        db: Engine,
        *,
        check_interval: float = 0.25,
        publications: bool = True,
        cache_dir: Path | None = None,
        parser_factory: Callable[[RuleSet], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules_dir = rules_dir
        self.db = db
        self.check_interval = check_interval
        self.publications = publications
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "product-rules-published"
        self._parser_factory = parser_factory or _default_parser
        self._clock = clock
        self._lock = threading.Lock()
        self._from_files: dict[str, ServedRuleSet] = {}
        self._published: dict[str, ServedRuleSet] = {}
        self._served: dict[str, ServedRuleSet] = {}
        # Language views of the rule sets in service, built on first use.
        self._views: dict[tuple[int, str], tuple[ServedRuleSet, ServedRuleSet]] = {}
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._publication_id: int | None = None
        self._checked_at = float("-inf")
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

    def _serve(
        self, item: LoadedRuleSet, source: str, current: ServedRuleSet | None
    ) -> ServedRuleSet:
        if current is not None and current.loaded.fingerprint == item.fingerprint:
            return current
        log.info("rule set %s (%s, %s) in service", item.ruleset.id, source, item.fingerprint)
        return ServedRuleSet(
            item, AdviceEngine(item.ruleset, self.db), self._parser(item.ruleset, "en"), source
        )

    def _refresh_files(self) -> bool:
        signature = self._current_signature()
        if signature == self._signature:
            return False
        try:
            loaded, problems = load_all(self.rules_dir)
        except OSError as exc:
            # A file or folder went away while we read (a rule set being moved, say): keep
            # serving, and read again on the next look instead of never.
            log.warning("rule files changed while being read, keeping the ones in service: %s", exc)
            return False
        self._signature = signature
        self.problems = problems
        for problem in problems:
            log.error("rule file refused, previous version keeps serving: %s", problem)
        served = dict(self._from_files)  # a refused rule set keeps its previous version
        for ruleset_id, item in loaded.items():
            served[ruleset_id] = self._serve(item, "files", served.get(ruleset_id))
        self._from_files = served
        return True

    def _refresh_published(self) -> bool:
        if not self.publications:
            return False
        try:
            newest = latest_publication_id(self.db)
            if newest == self._publication_id:
                return False
            versions = active_versions(self.db)
        except SQLAlchemyError as exc:
            log.warning("cannot read published rule sets, keeping the ones in service: %s", exc)
            return False
        self._publication_id = newest
        served: dict[str, ServedRuleSet] = {}
        for ruleset_id, version in versions.items():
            source = f"published v{version.version}"
            try:
                item = load_ruleset(materialize(version, self.cache_dir), root=self.cache_dir)
            except RuleSetError as exc:  # stored versions were checked; the vocabulary may not
                log.error("published %s v%s refused: %s", ruleset_id, version.version, exc)
                if ruleset_id in self._published:
                    served[ruleset_id] = self._published[ruleset_id]
                continue
            served[ruleset_id] = self._serve(item, source, self._published.get(ruleset_id))
        self._published = served
        return True

    def refresh(self, *, force: bool = False) -> None:
        """Reload what changed since the last look: rule files and publications."""
        if not force and not self._due():
            return
        with self._lock:
            # The threads that queued here while another one looked need not look again.
            if not force and not self._due():
                return
            self._checked_at = self._clock()
            changed = self._refresh_files()
            changed = self._refresh_published() or changed
            if changed:
                self._served = {**self._from_files, **self._published}
                in_service = {id(s) for s in self._served.values()}
                self._views = {k: v for k, v in self._views.items() if k[0] in in_service}

    def _due(self) -> bool:
        return self._clock() - self._checked_at >= self.check_interval

    def get(self, ruleset_id: str, *, language: str | None = None) -> ServedRuleSet:
        """The rule set ``ruleset_id`` as it is in service now, in ``language`` (default English).

        Raises:
            UnknownRuleSetError: No rule set of that id is in service.
        """
        self.refresh()
        served = self._served  # one snapshot: a reload replaces the dict, never edits it
        try:
            return self._in_language(served[ruleset_id], language)
        except KeyError:
            raise UnknownRuleSetError(ruleset_id, served) from None

    def all(self, *, language: str | None = None) -> list[ServedRuleSet]:
        """Every rule set in service, by id, in ``language`` (default English)."""
        self.refresh()
        served = self._served
        return [self._in_language(served[k], language) for k in sorted(served)]

    def _in_language(self, served: ServedRuleSet, language: str | None) -> ServedRuleSet:
        code = (language or DEFAULT_LANGUAGE).split("-")[0].split("_")[0].lower()
        if code == DEFAULT_LANGUAGE or code not in LANGUAGES:
            return served
        key = (id(served), code)
        cached = self._views.get(key)
        # The identity check keeps a view of a rule set no longer in service from
        # answering for a new one that happens to get the same id().
        view = cached[1] if cached is not None and cached[0] is served else None
        if view is None:
            loaded = served.loaded.localized(code)
            view = ServedRuleSet(
                loaded,
                AdviceEngine(loaded.ruleset, self.db),
                self._parser(loaded.ruleset, code),
                served.source,
                code,
            )
            self._views[key] = (served, view)
        return view

    def _parser(self, ruleset: RuleSet, language: str) -> Any:
        if self._parser_factory is _default_parser:
            return _default_parser(ruleset, language)
        return self._parser_factory(ruleset)


def _default_parser(ruleset: RuleSet, language: str = DEFAULT_LANGUAGE) -> Any:
    from product_rules.parsing import AnswerParser

    return AnswerParser(ruleset, languages=(language,))
