"""Asking: a question's text with its buttons, and the "what are you looking for?" buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advisor.answers import DONT_KNOW
from advisor.render import render
from advisor.reply import Button, Reply
from product_rules.schema import Option, Question, RuleSet

__all__ = ["ask", "question_buttons", "ruleset_buttons"]


def question_buttons(question: Question, options: Sequence[Option] | None = None) -> list[Button]:
    """Buttons for a question: its options, yes/no, and "not sure" where a default exists.

    ``options`` narrows the choice buttons to those still possible (progressive filtering).
    """
    result: list[Button] = []
    if question.type == "choice":
        shown = question.options if options is None else options
        result = [Button(o.label, "inform", {"choice": o.id}) for o in shown]
    elif question.type == "boolean":
        result = [
            Button(render("button_yes"), "inform", {"choice": "true"}),
            Button(render("button_no"), "inform", {"choice": "false"}),
        ]
    if (
        question.type != "choice"
        or question.default is None
        or question.option(str(question.default)) is None
    ):
        result.append(Button(render("button_not_sure"), "inform", {"choice": DONT_KNOW}))
    return result


def ruleset_buttons(rulesets: Sequence[RuleSet]) -> list[Button]:
    """One button per rule set in service."""
    return [Button(r.title, "request_advice", {"ruleset": r.id}) for r in rulesets]


def ask(
    reply: Reply,
    question: Question,
    *,
    options: Sequence[Option] | None = None,
    **context: Any,
) -> None:
    """Add a question with its buttons to the reply."""
    context.setdefault("intro", None)
    context.setdefault("acknowledgement", None)
    reply.say(render("question", question=question, **context), question_buttons(question, options))
