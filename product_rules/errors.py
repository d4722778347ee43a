"""Errors of the configurator, one tree.

::

    ProductRulesError
    ├── RuleSetError          a rule file is wrong; carries one or more RuleProblem
    ├── UnknownRuleSetError   a rule set id that is not loaded
    └── UnknownItemError      a product SKU or requirement id that does not exist

A :class:`RuleProblem` knows its file, line and column and prints itself the way
compilers do (``file:line:column: message``), with a suggestion where one exists. Its
message is a :class:`~product_rules.i18n.Message` where the checks made it: printed in the
current language (:func:`~product_rules.text.speaking`), or in any language with
:meth:`RuleProblem.message_in`; the position and the names in it stay as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from product_rules.i18n import lazy_gettext as _
from product_rules.i18n import localized

__all__ = [
    "ProductRulesError",
    "RuleProblem",
    "RuleSetError",
    "UnknownItemError",
    "UnknownRuleSetError",
    "did_you_mean",
]


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong in a rule file, with its position (1-based line and column)."""

    file: str
    line: int
    column: int
    message: str
    suggestion: str | None = None

    def message_in(self, language: str | None = None) -> str:
        """The message in ``language`` (the current language when None)."""
        return localized(self.message, language)

    def text(self, language: str | None = None) -> str:
        """The whole finding in ``language``: position, message and suggestion."""
        message = self.message_in(language)
        if self.suggestion:
            message = _("{message}, did you mean {suggestion!r}?").format(
                message=message, suggestion=self.suggestion
            )
        return f"{self.file}:{self.line}:{self.column}: {localized(message, language)}"

    def __str__(self) -> str:
        return self.text()


class ProductRulesError(Exception):
    """Base of every error the configurator raises."""


class RuleSetError(ProductRulesError):
    """A rule set could not be loaded; ``problems`` lists every finding."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownRuleSetError(ProductRulesError):
    """No rule set with this id is loaded."""

    def __init__(self, ruleset_id: str, known: Iterable[str]) -> None:
        self.ruleset_id = ruleset_id
        self.known = sorted(known)
        hint = did_you_mean(ruleset_id, self.known)
        message = _("unknown rule set {ruleset_id!r}; known: {known}").format(
            ruleset_id=ruleset_id, known=", ".join(self.known) or _("none")
        )
        if hint:
            message = _("{message}; did you mean {hint!r}?").format(message=message, hint=hint)
        super().__init__(message)


class UnknownItemError(ProductRulesError, LookupError):
    """A request names a product or a requirement that does not exist (staff tools)."""

    def __init__(self, kind: str, name: str, known: Iterable[str] = ()) -> None:
        self.kind = kind
        self.name = name
        message = f"unknown {kind} {name!r}"
        hint = did_you_mean(name, known)
        if hint:
            message += f"; did you mean {hint!r}?"
        super().__init__(message)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """Return the closest candidate to ``word``, if one is close enough."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def relative(path: Path, root: Path | None) -> str:
    """Show ``path`` relative to ``root`` when possible, for shorter messages."""
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)
