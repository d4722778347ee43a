"""Building blocks the actions share: reading the conversation state, asking a question."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.render import render
from actions.runtime import registry
from product_rules.errors import UnknownRuleSetError
from product_rules.registry import ServedRuleSet
from product_rules.schema import Option, Question

__all__ = [
    "DONT_KNOW",
    "ask",
    "current_question",
    "entity",
    "offer_rulesets",
    "served_ruleset",
]

#: Button value for "I'm not sure": the question's default is used.
DONT_KNOW = "dont_know"


def entity(tracker: Tracker, name: str) -> str | None:
    """The value of entity ``name`` in the latest message (button payloads carry them)."""
    for item in tracker.latest_message.get("entities") or []:
        if item.get("entity") == name and item.get("value") is not None:
            return str(item["value"])
    return None


def served_ruleset(tracker: Tracker) -> ServedRuleSet | None:
    """The rule set of this conversation, if one was chosen and is still in service."""
    ruleset_id = tracker.get_slot("ruleset")
    if not ruleset_id:
        return None
    try:
        return registry().get(str(ruleset_id))
    except UnknownRuleSetError:
        return None


def current_question(tracker: Tracker) -> tuple[ServedRuleSet | None, Question | None]:
    """The rule set and the question waiting for an answer, if any."""
    served = served_ruleset(tracker)
    question_id = tracker.get_slot("question")
    if served is None or not question_id:
        return served, None
    return served, served.ruleset.question(str(question_id))


def _payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}"


def buttons(question: Question, options: Sequence[Option] | None = None) -> list[dict[str, Any]]:
    """Buttons for a question: its options, yes/no, and "not sure" where a default exists.

    ``options`` narrows the choice buttons to those still possible (progressive filtering).
    """
    result: list[dict[str, Any]] = []
    if question.type == "choice":
        shown = question.options if options is None else options
        result = [{"title": o.label, "payload": _payload("inform", choice=o.id)} for o in shown]
    elif question.type == "boolean":
        result = [
            {"title": "Yes", "payload": _payload("inform", choice="true")},
            {"title": "No", "payload": _payload("inform", choice="false")},
        ]
    if (
        question.type != "choice"
        or question.default is None
        or question.option(str(question.default)) is None
    ):
        result.append({"title": "I'm not sure", "payload": _payload("inform", choice=DONT_KNOW)})
    return result


def ask(
    dispatcher: CollectingDispatcher,
    question: Question,
    *,
    template: str = "question",
    options: Sequence[Option] | None = None,
    **context: Any,
) -> None:
    """Send a question (rendered with ``template``) with its buttons."""
    context.setdefault("intro", None)
    context.setdefault("acknowledgement", None)
    dispatcher.utter_message(
        text=render(template, question=question, **context), buttons=buttons(question, options)
    )


def offer_rulesets(
    dispatcher: CollectingDispatcher, *, template: str = "which_product", **context: Any
) -> None:
    """Ask what the shopper is looking for, with one button per rule set in service."""
    rulesets = [s.ruleset for s in registry().all()]
    dispatcher.utter_message(
        text=render(template, rulesets=rulesets, **context),
        buttons=[
            {"title": r.title, "payload": _payload("request_advice", ruleset=r.id)}
            for r in rulesets
        ],
    )
