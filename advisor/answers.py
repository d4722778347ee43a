"""Reading and saying back answers: button values, "change my budget", "budget 1,500 EUR"."""

from __future__ import annotations

from typing import Any

from advisor.render import render
from product_rules.schema import Question, RuleSet

__all__ = ["DONT_KNOW", "button_answer", "describe", "question_named"]

#: Button value for "I'm not sure": the question's default is used.
DONT_KNOW = "dont_know"


def describe(question: Question, value: Any) -> str:
    """An answer the way the shopper would say it back ("budget 1,500 EUR")."""
    option = (
        question.option(str(value)) if question.type == "choice" and value is not None else None
    )
    return render("answer", question=question, value=value, option=option)


def button_answer(question: Question, choice: str) -> tuple[bool, Any]:
    """Read a button's value; (False, None) when it does not belong to ``question``."""
    if choice == DONT_KNOW:
        return True, question.default
    if question.type == "boolean" and choice in ("true", "false"):
        return True, choice == "true"
    if question.type == "choice" and question.option(choice) is not None:
        return True, choice
    return False, None


def question_named(ruleset: RuleSet, text: str) -> Question | None:
    """The question a "change my budget" message is about, by the words of its id."""
    lowered = text.lower()
    for question in ruleset.questions:
        if any(word in lowered for word in question.id.split("_") if len(word) > 3):
            return question
    return None
