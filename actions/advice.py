"""``action_advise``: take an answer, then ask the next question or present the offers."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.messages import DONT_KNOW, ask, buttons, entity, offer_rulesets
from actions.render import render
from actions.runtime import registry
from product_rules.parsing import rule_set_for
from product_rules.registry import ServedRuleSet
from product_rules.schema import Question
from product_rules.text import money

log = logging.getLogger("actions.advice")

#: Button value of a relaxation choice: ``relax-<index>`` into the last offers' choices.
RELAX_PREFIX = "relax-"


def _relax_choice(tracker: Tracker, choice: str) -> dict[str, Any]:
    """The answer changes behind a relaxation button, or nothing if it is stale."""
    last = tracker.get_slot("last_offers") or {}
    options = last.get("relax_choices") or []
    index = choice.removeprefix(RELAX_PREFIX)
    if not index.isdigit() or int(index) >= len(options) or options[int(index)] is None:
        return {}
    changes: dict[str, Any] = options[int(index)]
    return changes


def describe(question: Question, value: Any) -> str:
    """An answer the way the shopper would say it back ("budget 1,500 EUR")."""
    if value is None:
        return f"{question.id.replace('_', ' ')}: no preference"
    if question.type == "choice":
        option = question.option(str(value))
        return option.label if option else str(value)
    if question.unit == "EUR":
        return f"budget {money(value)}"
    if question.unit == "cm":
        if "height" in question.id:
            return f"{round(float(value))} cm tall"
        name = question.id.removesuffix("_cm").replace("_", " ")
        return f"{name} {round(float(value))} cm"
    return f"{question.text.rstrip('?')}: {'yes' if value else 'no'}"


def _choose_ruleset(tracker: Tracker) -> ServedRuleSet | None:
    reg = registry()
    served = {s.ruleset.id: s for s in reg.all()}
    current = tracker.get_slot("ruleset")
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    wanted = entity(tracker, "ruleset")
    if wanted is None and (current is None or intent == "request_advice"):
        # Only a request for advice switches an advice under way: "a bit of gravel" is an
        # answer in a road-bike conversation, not a wish to start over with gravel bikes.
        wanted = rule_set_for(
            tracker.latest_message.get("text") or "", [s.ruleset for s in served.values()]
        )
    if wanted is None:
        wanted = current
    if wanted is None and len(served) == 1:
        wanted = next(iter(served))
    return served.get(str(wanted)) if wanted is not None else None


def _button_answer(question: Question, choice: str) -> tuple[bool, Any]:
    """Read a button's value; (False, None) when it does not belong to ``question``."""
    if choice == DONT_KNOW:
        return True, question.default
    if question.type == "boolean" and choice in ("true", "false"):
        return True, choice == "true"
    if question.type == "choice" and question.option(choice) is not None:
        return True, choice
    return False, None


def _question_named(served: ServedRuleSet, text: str) -> Question | None:
    """The question a "change my budget" message is about, by the words of its id."""
    lowered = text.lower()
    for question in served.ruleset.questions:
        if any(word in lowered for word in question.id.split("_") if len(word) > 3):
            return question
    return None


class ActionAdvise(Action):
    """Records the shopper's answer(s) and moves the advice one step forward."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_advise"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Parse, call the engine, render."""
        served = _choose_ruleset(tracker)
        if served is None:
            offer_rulesets(dispatcher)
            return [SlotSet("question", None)]
        ruleset = served.ruleset
        starting = tracker.get_slot("ruleset") != ruleset.id
        answers: dict[str, Any] = {} if starting else dict(tracker.get_slot("answers") or {})
        current = None if starting else ruleset.question(str(tracker.get_slot("question") or ""))
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        understood: list[str] = []

        choice = entity(tracker, "choice")
        if choice is not None and choice.startswith(RELAX_PREFIX) and not starting:
            for question_id, value in _relax_choice(tracker, choice).items():
                question = ruleset.question(question_id)
                if question is not None:
                    answers[question_id] = value
                    understood.append(describe(question, value))
        elif choice is not None and current is not None:
            valid, value = _button_answer(current, choice)
            if valid:
                answers[current.id] = value
                understood.append(describe(current, value))
        elif choice is None:
            result = served.parser.parse(text, current=current.id if current else None)
            for question_id, value in result.answers.items():
                question = ruleset.question(question_id)
                if question is not None:
                    answers[question_id] = value
                    understood.append(describe(question, value))
            if current is not None and result.dont_know and current.id not in result.answers:
                answers[current.id] = current.default
                understood.append(describe(current, current.default))
            for question_id, reason in result.rejected.items():
                question = ruleset.question(question_id)
                if question is not None and reason == "out_of_range":
                    dispatcher.utter_message(
                        text=render(
                            "out_of_range",
                            question=question,
                            value=result.rejected_values.get(question_id),
                        )
                    )
                    ask(dispatcher, question)
                    return self._state(ruleset.id, answers, question.id)
            if not understood and intent == "change_answer":
                named = _question_named(served, text)
                if named is not None:
                    answers.pop(named.id, None)
                    ask(dispatcher, named)
                    return self._state(ruleset.id, answers, named.id)

        if not understood and not starting:
            # Nothing usable in the message: keep every answer and ask again politely.
            if current is not None:
                dispatcher.utter_message(
                    text=render("not_understood", question=current), buttons=buttons(current)
                )
                return []
            dispatcher.utter_message(text=render("not_understood", question=None))
            return []

        following = served.engine.next_question(answers)
        acknowledgement = render("acknowledge", understood=understood)
        if following is not None:
            try:
                options = served.engine.available_options(following, answers)
            except SQLAlchemyError:
                # Progressive filtering is a nicety: without the catalogue, offer them all.
                log.warning("option check failed for %s; showing every option", following.id)
                options = list(following.options)
            ask(
                dispatcher,
                following,
                options=options,
                intro=ruleset.intro if starting else None,
                acknowledgement=acknowledgement,
            )
            return self._state(ruleset.id, answers, following.id)
        return self._present(dispatcher, served, answers, acknowledgement)

    def _present(
        self,
        dispatcher: CollectingDispatcher,
        served: ServedRuleSet,
        answers: dict[str, Any],
        acknowledgement: str,
    ) -> list[EventType]:
        try:
            recommendation = served.engine.recommend(answers)
        except SQLAlchemyError:
            log.exception(
                "catalogue query failed for rule set %s, answers %s", served.ruleset.id, answers
            )
            dispatcher.utter_message(text=render("unavailable"))
            return self._state(served.ruleset.id, answers, None)
        text = render(
            "offers",
            offers=recommendation.offers,
            relaxed=recommendation.relaxed,
            relaxation=recommendation.relaxation,
            cross_sell=recommendation.cross_sell,
            title=served.ruleset.title,
        )
        if acknowledgement:
            text = f"{acknowledgement}\n{text}"
        # The other ways out become buttons, when changing answers can express them.
        relaxation = recommendation.relaxation
        choices = relaxation["choices"] if relaxation is not None else []
        ways_out = [
            {
                "title": f"{'; '.join(c['relax'])} ({c['count']} models)",
                "payload": f'/inform{{"choice":"{RELAX_PREFIX}{i}"}}',
            }
            for i, c in enumerate(choices)
            if not c["applied"] and c["answers"] is not None
        ]
        dispatcher.utter_message(text=text, buttons=ways_out)
        dispatcher.utter_message(json_message=dict(recommendation.payload()))
        summary = {
            "offers": [
                {"rank": o["rank"], "title": o["title"], "reasons": o["reasons"]}
                for o in recommendation.offers
            ],
            "relaxed": recommendation.relaxed,
            "relax_choices": [c["answers"] for c in choices],
        }
        return [*self._state(served.ruleset.id, answers, None), SlotSet("last_offers", summary)]

    @staticmethod
    def _state(ruleset_id: str, answers: dict[str, Any], question: str | None) -> list[EventType]:
        return [
            SlotSet("ruleset", ruleset_id),
            SlotSet("answers", answers),
            SlotSet("question", question),
        ]
