"""The one adapter between Rasa and the advisor: slot to state, step, reply to messages.

Every action of the domain is an :class:`AdvisorAction`: it reads the ``advisor_state``
slot, hands the latest message to :meth:`advisor.service.Advisor.step` and sends the
reply. Nothing here decides what to ask or what to offer.

Any failure inside a step is answered with a polite sentence and an operator log line,
and the state is left as it was: Rasa would otherwise drop the action's events and the
shopper would see nothing at all.
"""

from __future__ import annotations

import json
import logging
from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.runtime import advisor, conversations, warm_up, warm_up_requested
from advisor.conversation_store import newest_state
from advisor.render import render
from advisor.reply import Reply
from advisor.service import ANSWER_INTENTS, Turn
from advisor.state import STATE_SLOT, ConversationState

__all__ = [
    "LANGUAGE_SLOT",
    "STATE_SLOT",
    "AdvisorAction",
    "keep",
    "send",
    "slots_of",
    "starting_state",
    "turn_of",
]

#: The slot the domain's responses (``utter_goodbye`` ...) pick their language variation by.
LANGUAGE_SLOT = "language"

log = logging.getLogger("actions")


def turn_of(tracker: Tracker, intent: str | None) -> Turn:
    """The latest message as a :class:`Turn`."""
    message = tracker.latest_message or {}
    entities = {
        str(e["entity"]): str(e["value"])
        for e in message.get("entities") or []
        if e.get("entity") and e.get("value") is not None
    }
    language = (message.get("metadata") or {}).get("language")
    classified = message.get("intent") or {}
    # The classifier's confidence, only for the intent it chose (not one an action names).
    confidence = classified.get("confidence") if classified.get("name") == intent else None
    return Turn(
        text=message.get("text") or "",
        language=str(language) if isinstance(language, str) and language else None,
        intent=intent,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        entities=entities,
        conversation=tracker.sender_id,
    )


#: Set by our tracker store (``bot/addons/advisor_tracker_store.py``, Rasa's environment)
#: on the ``session_started`` event of a tracker it could not load.
TRACKER_LOST = "advisor_tracker_lost"


def starting_state(tracker: Tracker) -> ConversationState:
    """The state this turn starts from: the tracker's slot or ours, whichever is newer.

    Reading ours also fails the turn (politely) while the database is away, before
    anything is said.
    """
    raw = tracker.get_slot(STATE_SLOT)
    slot = None if raw is None else ConversationState.from_dict(raw)
    lost = any(
        event.get("event") == "session_started"
        and (event.get("metadata") or {}).get(TRACKER_LOST) is True
        for event in tracker.events or []
    )
    return newest_state(slot, conversations().load(tracker.sender_id), lost=lost)


def keep(tracker: Tracker, before: ConversationState, after: ConversationState) -> None:
    """Count a changed state on and store it (a turn that changed nothing writes nothing)."""
    if after.same_as(before):
        return
    after.seq = before.seq + 1
    conversations().save(tracker.sender_id, after)


def slots_of(state: ConversationState, tracker: Tracker | None = None) -> list[EventType]:
    """The slots that carry a state: the whole state, and its language for the responses.

    With ``tracker``, only the slots whose value changed: every event is stored, replayed
    on each later turn and sent along with every later action call, so a turn that
    changes nothing ("why this one?", "what is SPD?") adds no slot event.
    """
    wanted = {STATE_SLOT: _as_json(state.to_dict()), LANGUAGE_SLOT: state.language}
    return [
        SlotSet(name, value)
        for name, value in wanted.items()
        if tracker is None or tracker.get_slot(name) != value
    ]


def _as_json(value: Any) -> Any:
    """``value`` as it comes back from the tracker (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value))


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Utter every part of a reply: texts with buttons, then the custom payloads."""
    for part in reply.parts:
        buttons: list[dict[str, Any]] = [
            {"title": b.title, "payload": b.payload()} for b in part.buttons
        ]
        dispatcher.utter_message(text=part.text, buttons=buttons)
    for payload in reply.payloads:
        dispatcher.utter_message(json_message=payload)


class AdvisorAction(Action, metaclass=ABCMeta):
    """An action that runs one advisor step.

    Subclasses name the action and say which intent the step should see: ``intent``
    fixed (``greet``, ``human_handoff`` ...) or ``None`` for Rasa's own intent. The
    class is abstract, so the action server does not register it.
    """

    intent: str | None = None

    @abstractmethod
    def name(self) -> str:
        """Action name used in the domain."""

    def step_intent(self, tracker: Tracker) -> str | None:
        """The intent the advisor sees for this turn."""
        if self.intent is not None:
            return self.intent
        return ((tracker.latest_message or {}).get("intent") or {}).get("name")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Slot to state, step, reply to messages; a polite sentence on any failure."""
        try:
            state = starting_state(tracker)
            new_state, reply = advisor().step(state, turn_of(tracker, self.step_intent(tracker)))
            keep(tracker, state, new_state)  # stored before the reply acknowledges it
        except Exception:  # noqa: BLE001 - the shopper must never get silence
            log.exception(
                "action %s failed for conversation %s (intent %s); the state is kept",
                self.name(),
                tracker.sender_id,
                self.step_intent(tracker),
            )
            dispatcher.utter_message(text=render("failure"))
            return []
        send(dispatcher, reply)
        return slots_of(new_state, tracker)


class ActionAdvise(AdvisorAction):
    """Takes an answer, then asks the next question or presents the offers."""

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_advise"

    def step_intent(self, tracker: Tracker) -> str | None:
        """Rasa's intent when it carries an answer (or a code); otherwise an answer."""
        intent = super().step_intent(tracker)
        passed = intent in ANSWER_INTENTS or intent in ("resume_shared", "switch_language")
        return intent if passed else "inform"


class ActionSettleLanguage(Action):
    """Settles the turn's language before a domain response (``utter_goodbye``) is uttered.

    The page's language, the shopper's choice or their first words (as
    :meth:`advisor.service.Advisor.settle_language` decides) go into the ``language``
    slot, which picks the response's variation. It says nothing itself.
    """

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_settle_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The state with this turn's language; on any failure, the slots as they were."""
        try:
            state = starting_state(tracker)
            before = ConversationState.from_dict(state.to_dict())
            advisor().settle_language(state, turn_of(tracker, None))
            keep(tracker, before, state)
        except Exception:  # noqa: BLE001 - the response follows in any case
            log.exception("cannot settle the language of conversation %s", tracker.sender_id)
            return []
        return slots_of(state, tracker)


class ActionGreet(AdvisorAction):
    """Greets and lists what the advisor can help with, or re-asks the open question."""

    intent = "greet"

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_greet"


class ActionExplain(AdvisorAction):
    """Explains a term ("what is SPD?"), the offers' reasons or why a question is asked."""

    intent = "ask_why"

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_explain"


class ActionRestartAdvice(AdvisorAction):
    """Forgets the answers and starts again, keeping the conversation itself."""

    intent = "start_over"

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_restart_advice"


class ActionOutOfScope(AdvisorAction):
    """Says politely what the advisor can do and goes back to the open question."""

    intent = "out_of_scope"

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_out_of_scope"


class ActionHandoff(AdvisorAction):
    """Hands over to sales staff with a code for this conversation."""

    intent = "human_handoff"

    def name(self) -> str:
        """Action name used in the domain."""
        return "action_handoff"


if warm_up_requested():
    # The action server imports this module before it listens: warm up then. A database
    # that is not up yet must not keep the server from starting: the first call retries.
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - logged with its traceback, nothing is lost
        logging.getLogger("actions").exception("warm-up failed; the first action call retries")
