"""A stand-in for the Rasa server that answers with the real advisor.

The browser tests need Rasa's HTTP shape without Rasa's Python 3.10 environment and a
trained model. :class:`FakeRasa` serves exactly the parts the web app calls
(``web/rasa.py``): the REST channel ``POST /webhooks/rest/webhook``, the HTTP API's
``GET /conversations/{id}/tracker`` and ``POST /conversations/{id}/tracker/events``
(token in ``?token=``, 401 without it) and the ``GET /`` banner.

What it answers is not scripted: each message runs through the bot's own rules
(``bot/data/rules``: intent to action), the action adapter's own pieces
(:func:`actions.adapter.turn_of`, ``step_intent``, :func:`actions.adapter.send` into a
``rasa_sdk`` dispatcher) and the real :meth:`advisor.service.Advisor.step` over the demo
catalogue and the shipped rules. The dispatcher's messages then become REST-channel
messages the way Rasa's ``CollectingOutputChannel`` makes them (buttons with their
text; plain text split at blank lines; ``json_message`` as ``custom``), and tracker
events the way Rasa stores them (``bot`` events with ``data.buttons``/``data.custom``,
the advisor's state in the ``advisor_state`` slot). So the offers, relaxation choices
and buttons the widget gets are the engine's own payload and cannot drift from it.

Only Rasa's NLU is replaced, by :func:`classify`: button payloads (``/intent{json}``)
are read as Rasa reads them, free text by a few keywords.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.adapter import AdvisorAction, send, turn_of
from advisor.render import render
from advisor.service import Advisor
from advisor.state import STATE_SLOT, ConversationState
from product_rules.parsing import rule_set_for

__all__ = ["BANNER", "FakeRasa", "classify", "rest_messages"]

REPO = Path(__file__).resolve().parents[2]
BANNER = "Hello from Rasa: 3.6.21 (tests/web/fake_rasa.py)"
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_]+)(?P<entities>\{.*\})?$", re.DOTALL)
_HUMAN_WORDS = ("human", "person", "colleague", "someone from the shop")
_GREETINGS = frozenset({"hi", "hello", "hey", "moin", "hallo"})


def _rules() -> dict[str, str]:
    """Intent to action, from the bot's rule files (one intent, one action each)."""
    actions: dict[str, str] = {}
    for path in sorted((REPO / "bot" / "data" / "rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            steps = rule["steps"]
            if len(steps) == 2 and "intent" in steps[0] and "action" in steps[1]:
                actions[steps[0]["intent"]] = steps[1]["action"]
    return actions


def _responses() -> dict[str, str]:
    """The domain's ``utter_*`` responses (their first text)."""
    texts: dict[str, str] = {}
    for path in sorted((REPO / "bot" / "domain").glob("*.yml")):
        domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variants in (domain.get("responses") or {}).items():
            texts[name] = variants[0]["text"]
    return texts


def _advisor_actions() -> dict[str, AdvisorAction]:
    found: dict[str, AdvisorAction] = {}
    pending: list[type[AdvisorAction]] = list(AdvisorAction.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        action = cls()
        found[action.name()] = action
    return found


def classify(text: str, advisor: Advisor) -> tuple[str, list[dict[str, Any]]]:
    """The intent and entities Rasa's NLU would give, as a stand-in.

    Button payloads are read like Rasa's ``RegexMessageHandler`` does; free text by
    keywords: a request for a person, a greeting, "why", "what is", a product name
    (``request_advice``), anything else an answer (``inform``).
    """
    stripped = text.strip()
    payload = _PAYLOAD.match(stripped)
    if payload:
        entities = json.loads(payload["entities"] or "{}")
        return payload["intent"], [{"entity": k, "value": v} for k, v in entities.items()]
    lowered = stripped.lower()
    if any(word in lowered for word in _HUMAN_WORDS):
        return "human_handoff", []
    if lowered.rstrip("!. ") in _GREETINGS:
        return "greet", []
    if lowered.startswith("why"):
        return "ask_why", []
    if lowered.startswith(("what is", "what's")):
        return "explain_term", []
    if rule_set_for(stripped, [s.ruleset for s in advisor.registry.all()]) is not None:
        return "request_advice", []
    return "inform", []


def rest_messages(sender: str, dispatched: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The REST channel's reply for a dispatcher's messages (``CollectingOutputChannel``)."""
    out: list[dict[str, Any]] = []
    for message in dispatched:
        text, buttons, custom = message.get("text"), message.get("buttons"), message.get("custom")
        if buttons:
            out.append({"recipient_id": sender, "text": text, "buttons": buttons})
        elif text:
            for part in text.strip().split("\n\n"):
                out.append({"recipient_id": sender, "text": part})
        if custom:
            out.append({"recipient_id": sender, "custom": custom})
    return out


def _messages(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], dispatcher.messages)


@dataclass
class Conversation:
    """One sender's tracker as Rasa keeps it (events since the last restart)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    paused: bool = False

    def log(self, event: dict[str, Any]) -> None:
        self.events.append({**event, "timestamp": time.time()})


OffersRewrite = Callable[[dict[str, Any]], dict[str, Any]]


class FakeRasa:
    """Rasa's REST channel and HTTP API over the real advisor.

    Attributes:
        heard: Every webhook body, in order.
        appended: ``(sender, event name)`` of every event posted to the HTTP API.
        broken: Messages Rasa answers with HTTP 500 (a crashed server).
        actions_down: While true, Rasa cannot reach its action server: it logs the
            message and answers ``[]``, as Rasa 3.6 does when an action call fails.
        rewrite_offers: When set, the offers payload goes through it before it is sent
            (a payload from an older engine, say); the advisor's payload is its input.
    """

    def __init__(self, advisor: Advisor, *, token: str = "") -> None:
        self.advisor = advisor
        self.token = token
        self.heard: list[dict[str, Any]] = []
        self.appended: list[tuple[str, str]] = []
        self.broken: set[str] = set()
        self.actions_down = False
        self.rewrite_offers: OffersRewrite | None = None
        self.conversations: dict[str, Conversation] = {}
        self._rules = _rules()
        self._responses = _responses()
        self._actions = _advisor_actions()
        self._lock = threading.Lock()

    def conversation(self, sender: str) -> Conversation:
        return self.conversations.setdefault(sender, Conversation())

    def state(self, sender: str) -> ConversationState:
        """The advisor's state for ``sender``, as the slot holds it."""
        return ConversationState.from_dict(self.conversation(sender).slots.get(STATE_SLOT))

    # -- one message -------------------------------------------------------------------

    def handle(self, sender: str, message: str) -> list[dict[str, Any]]:
        """What Rasa answers to one message, with its tracker updated."""
        with self._lock:  # Rasa's lock store: one message of a conversation at a time
            conversation = self.conversation(sender)
            intent, entities = classify(message, self.advisor)
            if intent == "restart":  # Rasa's own: the tracker starts afresh, nothing said
                self.conversations[sender] = Conversation()
                return []
            latest = {
                "text": message,
                "intent": {"name": intent, "confidence": 1.0},
                "entities": entities,
            }
            conversation.log({"event": "user", "text": message, "parse_data": latest})
            if conversation.paused or self.actions_down:
                # Paused for staff: Rasa logs the message and predicts nothing. Actions
                # down: the action call fails and Rasa sends what it has, nothing.
                return []
            dispatched = self._run(sender, conversation, intent, latest)
            for reply in dispatched:
                data = {
                    "buttons": reply.get("buttons") or None,
                    "custom": reply.get("custom") or None,
                }
                conversation.log({"event": "bot", "text": reply.get("text"), "data": data})
            return rest_messages(sender, dispatched)

    def _run(
        self, sender: str, conversation: Conversation, intent: str, latest: dict[str, Any]
    ) -> list[dict[str, Any]]:
        action_name = self._rules.get(intent, "action_advise")
        dispatcher = CollectingDispatcher()
        if action_name in self._responses:
            dispatcher.utter_message(text=self._responses[action_name])
            return _messages(dispatcher)
        action = self._actions[action_name]
        tracker = Tracker(
            sender_id=sender,
            slots=dict(conversation.slots),
            latest_message=latest,
            events=list(conversation.events),
            paused=conversation.paused,
            followup_action=None,
            active_loop={},
            latest_action_name=None,
        )
        # What AdvisorAction.run does, with this advisor instead of the process-wide one.
        try:
            state = ConversationState.from_dict(conversation.slots.get(STATE_SLOT))
            new_state, reply = self.advisor.step(
                state, turn_of(tracker, action.step_intent(tracker))
            )
        except Exception:  # noqa: BLE001 - like the adapter: a polite sentence, state kept
            dispatcher.utter_message(text=render("failure"))
            return _messages(dispatcher)
        if self.rewrite_offers is not None:
            reply.payloads = [
                self.rewrite_offers(p) if p.get("type") == "offers" else p for p in reply.payloads
            ]
        send(dispatcher, reply)
        conversation.slots[STATE_SLOT] = new_state.to_dict()
        return _messages(dispatcher)

    # -- the HTTP app ------------------------------------------------------------------

    def _tracker_json(self, sender: str) -> dict[str, Any]:
        conversation = self.conversation(sender)
        return {
            "sender_id": sender,
            "slots": dict(conversation.slots),
            "events": list(conversation.events),
            "paused": conversation.paused,
        }

    def app(self) -> FastAPI:
        """The ASGI app: REST channel, tracker endpoints and banner."""
        app = FastAPI()

        def authorised(request: Request) -> bool:
            return not self.token or request.query_params.get("token") == self.token

        def refused() -> JSONResponse:
            return JSONResponse(status_code=401, content={"reason": "NotAuthenticated"})

        @app.get("/")
        async def banner() -> JSONResponse:
            return JSONResponse(BANNER)

        @app.post("/webhooks/rest/webhook")
        async def webhook(request: Request) -> JSONResponse:
            body = await request.json()
            self.heard.append(body)
            if body["message"] in self.broken:
                return JSONResponse(status_code=500, content={"error": "boom"})
            return JSONResponse(self.handle(body["sender"], body["message"]))

        @app.get("/conversations/{sender}/tracker")
        async def tracker(sender: str, request: Request) -> JSONResponse:
            if not authorised(request):
                return refused()
            return JSONResponse(self._tracker_json(sender))

        @app.post("/conversations/{sender}/tracker/events")
        async def append(sender: str, request: Request) -> JSONResponse:
            if not authorised(request):
                return refused()
            conversation = self.conversation(sender)
            for event in await request.json():
                self.appended.append((sender, event["event"]))
                if event["event"] == "pause":
                    conversation.paused = True
                elif event["event"] == "resume":
                    conversation.paused = False
                elif event["event"] == "slot":
                    conversation.slots[event["name"]] = event["value"]
                conversation.log(event)
            return JSONResponse(self._tracker_json(sender))

        return app
