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

from product_rules.schema import RuleSet

__all__ = ["Condition", "ConditionError", "answer_types", "compile_condition"]


class ConditionError(ValueError):
    """A condition does not compile; ``suggestion`` names a close known symbol."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


def answer_types(ruleset: RuleSet) -> dict[str, rule_engine.DataType]:
    """The typed names conditions of ``ruleset`` may use."""
    types: dict[str, Any] = {}
    for question in ruleset.questions:
        if question.type == "number":
            types[question.id] = rule_engine.DataType.FLOAT
        elif question.type == "boolean":
            types[question.id] = rule_engine.DataType.BOOLEAN
        else:
            types[question.id] = rule_engine.DataType.STRING
    for derived in ruleset.derived:
        types[derived.id] = rule_engine.DataType.FLOAT
    return types


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
        raise ConditionError(
            f"unknown name {exc.symbol_name!r} in condition", exc.suggestion
        ) from None
    except rule_engine.RuleSyntaxError as exc:
        raise ConditionError(f"invalid condition {source!r}: {exc.message}") from None
    except rule_engine.EngineError as exc:
        raise ConditionError(f"invalid condition {source!r}: {exc.message}") from None
    return Condition(source, rule)
