"""``action_explain``: "what is SPD?", "why this one?", "why do you ask?"."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.messages import buttons, current_question, offer_rulesets
from actions.render import render
from actions.runtime import registry


class ActionExplain(Action):
    """Explains a term, the offers' reasons, or why a question is asked."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_explain"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Pick the most specific explanation the conversation allows."""
        served, question = current_question(tracker)
        text = tracker.latest_message.get("text") or ""
        candidates = [served] if served is not None else registry().all()
        for candidate in candidates:
            entry = candidate.parser.find_term(text)
            if entry is not None:
                dispatcher.utter_message(
                    text=render("explain_term", entry=entry, question=question),
                    buttons=buttons(question) if question else [],
                )
                return []
        last = tracker.get_slot("last_offers")
        if question is None and last and last.get("offers"):
            dispatcher.utter_message(
                text=render("why_offers", offers=last["offers"], relaxed=last.get("relaxed") or [])
            )
            return []
        if question is not None:
            dispatcher.utter_message(
                text=render("why_question", question=question), buttons=buttons(question)
            )
            return []
        offer_rulesets(dispatcher)
        return []
