"""A German conversation through the advisor (no Rasa): every reply and button in German.

The intents are given as the classifier would see them; the words are a German
shopper's. Each reply is checked against the English words of the chat catalogue
(:data:`tests.advisor.test_render_de.ENGLISH_ONLY`) and against English sentences.
"""

from __future__ import annotations

from typing import Any

import pytest

from advisor.reply import Reply
from advisor.service import Advisor, Turn
from advisor.state import ConversationState
from tests.advisor.test_render_de import ENGLISH_ONLY, _words

#: Brand words that are English words too (the pedal system "Look Keo").
BRANDS = {"look"}
ENGLISH = ("Got it", "Here are", "Here is", "instead of", "Sorry", " with ", "cm tall", "budget ")


def _product_names(reply: Reply) -> list[str]:
    names: list[str] = []
    for payload in reply.payloads:
        if payload.get("type") == "offers":
            names += [i["name"] for o in payload["offers"] for i in o["items"]]
            names += [c["name"] for c in payload.get("cross_sell") or []]
    return sorted(set(names), key=len, reverse=True)


class German:
    """A conversation in German: each call is one turn, checked for English."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
        self.state = ConversationState(language="de", language_chosen=True)

    def __call__(self, text: str, intent: str = "inform", **entities: str) -> Reply:
        turn = Turn(text, intent, entities, language="de")
        self.state, reply = self.advisor.step(self.state, turn)
        said = reply.text + "\n" + "\n".join(b.title for p in reply.parts for b in p.buttons)
        for name in _product_names(reply):  # names stay as the brands write them
            said = said.replace(name, "")
        assert reply.parts, f"no reply to {text!r}"
        leaked = sorted(_words(said) & ENGLISH_ONLY - BRANDS) + [e for e in ENGLISH if e in said]
        assert not leaked, f"English {leaked} after {text!r}:\n{said}"
        return reply

    def offers(self, reply: Reply) -> dict[str, Any]:
        payload = next((p for p in reply.payloads if p["type"] == "offers"), None)
        assert payload is not None, reply.text
        return payload


@pytest.fixture()
def german(advisor: Advisor) -> German:
    return German(advisor)


def test_german_conversation_to_loosened_offers_and_why(german: German) -> None:
    german("Hallo", "greet")
    german("Ich suche ein Rennrad", "request_advice")
    german("Hallo", "greet")  # "Hallo noch mal!" and the open question
    german("was ist SPD?", "explain_term")
    german("lange Touren")
    german("asdfgh")  # not understood, the question kept
    german("wie wird das Wetter?", "out_of_scope")
    german("Anfänger")
    german("50000")  # out of range, asked again
    assert german.state.question == "budget"
    german("300 Euro")
    german("warum fragst du?", "ask_why")
    german("175 cm")
    reply = german('/inform{"choice":"none"}', "inform", choice="none")
    payload = german.offers(reply)
    assert payload["offers"], reply.text
    assert "gelockert" in reply.text and "statt" in reply.text, reply.text
    why = german("warum dieses?", "ask_why")
    assert "175 cm" in why.text, why.text
    german("mit einem Menschen sprechen", "human_handoff")
    german("von vorn", "start_over")


def test_german_offer_titles_join_with_mit(german: German) -> None:
    german("Ich suche ein Rennrad", "request_advice")
    for choice in ("endurance", "beginner"):
        german(f'/inform{{"choice":"{choice}"}}', choice=choice)
    german("1500")
    german("182 cm")
    payload = german.offers(german('/inform{"choice":"none"}', choice="none"))
    with_pedals = [o for o in payload["offers"] if len(o["items"]) > 1]
    assert with_pedals, payload["offers"]
    for offer in with_pedals:
        names = [item["name"] for item in offer["items"]]
        assert offer["title"].startswith(f"{names[0]} mit {names[1]}"), offer["title"]
