"""Actions that steer the conversation: greeting, start over, off-topic, a human."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.advice import ActionAdvise
from actions.messages import buttons, current_question, offer_rulesets
from actions.render import render

#: Messages up to this many words may be answers the classifier mistook for a request.
SHORT_ANSWER_WORDS = 3


def answers_open_question(tracker: Tracker) -> bool:
    """Whether the message answers the question waiting for an answer.

    Short answers ("carbon please") can look off-topic, or like a wish for a human, to a
    classifier that never saw the option words a merchandiser added today: when the
    open question understands the message, the question decides.
    """
    served, question = current_question(tracker)
    if served is None or question is None or question.type != "choice":
        return False
    text = tracker.latest_message.get("text") or ""
    # Only short messages: in "can someone from the shop call me" the word "shop" may
    # match an option, but the sentence is a request, and the classifier is right.
    if len(text.split()) > SHORT_ANSWER_WORDS:
        return False
    return question.id in served.parser.parse(text, current=question.id).answers


class ActionGreet(Action):
    """Greets and lists what the advisor can help with (one button per rule set)."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Greet, or re-ask the open question if advice is under way."""
        _, question = current_question(tracker)
        if question is not None:
            dispatcher.utter_message(text=f"Hi again! {question.text}", buttons=buttons(question))
            return []
        offer_rulesets(dispatcher, greeting=True)
        return []


class _YieldsToAnswers(Action, metaclass=ABCMeta):
    """A control action that lets a short answer to the open question go through.

    Subclasses implement :meth:`respond`; :meth:`run` first checks whether the message
    was an answer the classifier took for a request (see :func:`answers_open_question`).
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Answer the open question, or respond as the action."""
        if answers_open_question(tracker):
            return await ActionAdvise().run(dispatcher, tracker, domain)
        return self.respond(dispatcher, tracker)

    @abstractmethod
    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """What the action does when the message is not an answer."""


class ActionRestartAdvice(_YieldsToAnswers):
    """Forgets the answers and starts again, keeping the conversation itself."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_restart_advice"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Reset the advice slots and ask what the shopper is looking for."""
        offer_rulesets(dispatcher, template="restart")
        return [
            SlotSet("ruleset", None),
            SlotSet("answers", None),
            SlotSet("question", None),
            SlotSet("last_offers", None),
        ]


class ActionOutOfScope(_YieldsToAnswers):
    """Says politely what the advisor can do and goes back to the open question."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_out_of_scope"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Reply, then re-ask."""
        _, question = current_question(tracker)
        dispatcher.utter_message(
            text=render("out_of_scope", question=question),
            buttons=buttons(question) if question else [],
        )
        return []


class ActionHandoff(_YieldsToAnswers):
    """Hands over to sales staff with a code that identifies this conversation."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_handoff"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Give the shopper the code and tell the widget (custom payload)."""
        _, question = current_question(tracker)
        code = tracker.sender_id
        dispatcher.utter_message(text=render("handoff", code=code, question=question))
        dispatcher.utter_message(json_message={"type": "handoff", "code": code})
        return []
