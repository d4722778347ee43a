"""Conditions over answers (``ask_if``, ``when``), compiled once with ``rule-engine``.

The context is typed from the rule set itself: a choice question is a string, a number
question and a derived value a float, a boolean question a boolean. An unknown name or a
syntax error is found at load time, not in front of a shopper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rule_engine

from product_rules.i18n import lazy_gettext as _
from product_rules.schema import AllOf, AnyOf, ConditionSpec, NotOf, RuleSet

__all__ = [
    "Condition",
    "ConditionError",
    "answer_types",
    "compile_condition",
    "condition_source",
    "leaves",
]


class ConditionError(ValueError):
    """A condition does not compile; ``suggestion`` names a close known symbol."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        #: The message as made (a lazy Message: ``str(exc)`` would keep only its English).
        self.message = message
        self.suggestion = suggestion


def answer_types(ruleset: RuleSet) -> dict[str, rule_engine.DataType]:
    """The typed names conditions of ``ruleset`` may use."""
    types: dict[str, Any] = {}
    for question in ruleset.questions:
        types[question.id] = getattr(rule_engine.DataType, question.type.spec.condition)
    for derived in ruleset.derived:
        types[derived.id] = rule_engine.DataType.FLOAT
    return types


def condition_source(spec: ConditionSpec) -> str:
    """One expression for a condition tree: ``all`` joins with and, ``any`` with or."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, AllOf):
        return " and ".join(f"({condition_source(s)})" for s in spec.all)
    if isinstance(spec, AnyOf):
        return " or ".join(f"({condition_source(s)})" for s in spec.any)
    if isinstance(spec, NotOf):
        return f"not ({condition_source(spec.not_)})"
    raise TypeError(f"not a condition: {spec!r}")


def leaves(
    spec: ConditionSpec, path: tuple[str | int, ...]
) -> list[tuple[str, tuple[str | int, ...]]]:
    """Every expression of a tree with its path in the rule file, for exact error positions."""
    if isinstance(spec, str):
        return [(spec, path)]
    if isinstance(spec, AllOf):
        return [leaf for i, s in enumerate(spec.all) for leaf in leaves(s, (*path, "all", i))]
    if isinstance(spec, AnyOf):
        return [leaf for i, s in enumerate(spec.any) for leaf in leaves(s, (*path, "any", i))]
    return leaves(spec.not_, (*path, "not"))


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition; missing answers read as null, so comparisons are false."""

    source: str
    _rule: rule_engine.Rule

    def holds(self, answers: Mapping[str, Any]) -> bool:
        """Evaluate against the answers given so far."""
        try:
            return bool(self._rule.matches(dict(answers)))
        except rule_engine.EngineError:
            # A type clash at run time (e.g. comparing null with a number) means the
            # condition cannot be true yet.
            return False


def compile_condition(source: str, types: Mapping[str, Any]) -> Condition:
    """Compile ``source`` against the typed names in ``types``.

    Raises:
        ConditionError: on a syntax error or an unknown name.
    """
    context = rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(dict(types)), default_value=None
    )
    try:
        rule = rule_engine.Rule(source, context=context)
    except rule_engine.SymbolResolutionError as exc:
        message = _("unknown name {name!r} in condition").format(name=exc.symbol_name)
        raise ConditionError(message, exc.suggestion) from None
    except rule_engine.EngineError as exc:  # a syntax error among them
        # rule_engine's own explanation is English only; it is quoted as it comes.
        message = _("invalid condition {source!r}: {error}").format(
            source=source, error=exc.message
        )
        raise ConditionError(message) from None
    return Condition(source, rule)
