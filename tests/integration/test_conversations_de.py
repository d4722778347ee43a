"""Whole German conversations over Rasa's REST channel, with the real Rasa and action servers.

The widget on ``/de/`` sends the page language as message metadata; from then on the
advisor asks, explains and offers in German: the questions in the rule files' German
wording, prices as a German shop writes them ("1.500,00 €"), no English sentence.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from unittest import mock

import pytest

from tests.integration import conftest
from tests.integration.conftest import RunningBot, ask, offers_payload, texts

pytestmark = pytest.mark.integration

DE = {"metadata": {"language": "de"}}
USAGE = ask("road_bike", "usage", "de")
EXPERIENCE = ask("road_bike", "experience", "de")
BUDGET = ask("road_bike", "budget", "de")
HEIGHT = ask("road_bike", "body_height_cm", "de")
INSEAM = ask("road_bike", "inseam_cm", "de")
SHOES = ask("road_bike", "shoes_owned", "de")

#: A German price: "1.500,00 €" or "1.500 €".
GERMAN_PRICE = re.compile(r"\d{1,3}(?:\.\d{3})*(?:,\d{2})? €")
#: Sentences the English templates say; none may reach a German shopper.
ENGLISH = (
    "Got it",
    "Here are",
    "Here is",
    "instead of",
    "Ways out",
    "I'm sorry",
    "budget of",
    "Sorry",
    "cm tall",
    "no preference",
    "loosened",
    "Back to your bike",
    " with ",
)


def _sender() -> str:
    return f"test-de-{uuid.uuid4().hex[:12]}"


def _german(reply: list[dict[str, Any]]) -> str:
    text = texts(reply)
    leaked = [phrase for phrase in ENGLISH if phrase in text]
    assert not leaked, f"English in a German conversation {leaked}:\n{text}"
    return text


def _send(bot: RunningBot, sender: str, message: str, **checks: Any) -> list[dict[str, Any]]:
    reply = bot.send(sender, message, **DE, **checks)
    _german(reply)
    return reply


def check_offers(bot: RunningBot, payload: dict[str, Any]) -> dict[str, Any]:
    """:func:`conftest.check_offers` against the German rule sets: a loosened wish says so
    in German ("dein Budget: bis 629 € statt 300 €"), by its German label."""
    with mock.patch.dict(conftest.SHIPPED, conftest.SHIPPED_DE):
        return conftest.check_offers(bot, payload)


def _offers(reply: list[dict[str, Any]]) -> dict[str, Any]:
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    return payload


def test_german_beginner_from_hello_to_offers(bot: RunningBot) -> None:
    sender = _sender()
    _send(bot, sender, "Hallo, ich suche ein Rennrad", expect=USAGE)
    _send(bot, sender, "meistens lange Touren am Wochenende", expect=EXPERIENCE)
    _send(bot, sender, "ich bin totaler Anfänger", expect=BUDGET)
    _send(bot, sender, "so ca. 1.500 €", expect=HEIGHT)
    _send(bot, sender, "1,82 m", expect=SHOES)  # a beginner is not asked for the inseam
    reply = _send(bot, sender, "nein, ganz normale Turnschuhe", expect_offers=True)
    payload = _offers(reply)
    check_offers(bot, payload)
    assert payload["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
    text = texts(reply)
    for offer in payload["offers"]:
        main = offer["items"][0]
        assert main["attributes"]["frame_size_cm"] == 56
        assert offer["total_price"] <= 1500
        assert f"{offer['rank']}. {offer['title']}: " in text  # brand names as written
        reasons = " ".join(offer["reasons"])
        assert "182 cm" in reasons and "Rahmen" in reasons, reasons
        if not main["attributes"]["pedals_included"]:
            pedals = [i for i in offer["items"] if i["role"] == "required"]
            assert pedals[0]["attributes"]["cleat_system"] in {"flat", "spd"}
    assert GERMAN_PRICE.search(text), text


def test_german_racer_with_look_keo_shoes_and_inseam(bot: RunningBot) -> None:
    sender = _sender()
    _send(bot, sender, "Ich brauche ein Rennrad für Wettkämpfe, Budget 4.000 Euro", expect=USAGE)
    _send(bot, sender, "Rennen", expect=EXPERIENCE)
    _send(bot, sender, "ich fahre Rennen und trainiere hart", expect=HEIGHT)
    _send(bot, sender, "185 cm", expect=INSEAM)
    _send(bot, sender, "Schrittlänge 87", expect=SHOES)
    payload = _offers(_send(bot, sender, "ich habe Look Keo Cleats", expect_offers=True))
    check_offers(bot, payload)
    assert payload["answers"]["shoes_owned"] == "look_keo"
    assert payload["answers"]["inseam_cm"] == 87.0
    for offer in payload["offers"]:
        main = offer["items"][0]
        assert main["attributes"]["frame_size_cm"] == 58
        pedals = [i for i in offer["items"] if i["category"] == "pedals"]
        if not main["attributes"]["pedals_included"]:
            assert [p["attributes"]["cleat_system"] for p in pedals] == ["look_keo"]


def test_german_budget_too_low_offers_ways_out_in_german(bot: RunningBot) -> None:
    sender = _sender()
    _send(bot, sender, "Ich suche ein Rennrad", expect=USAGE)
    _send(bot, sender, "Fitness", expect=EXPERIENCE)
    _send(bot, sender, "Anfänger", expect=BUDGET)
    _send(bot, sender, "300 Euro", expect=HEIGHT)
    _send(bot, sender, "175 cm", expect=SHOES)
    reply = _send(bot, sender, "nein", expect_offers=True)
    payload = _offers(reply)
    check_offers(bot, payload)
    relaxation = payload["relaxation"]
    assert relaxation is not None
    applied = [c for c in relaxation["choices"] if c["applied"]]
    assert len(applied) == 1 and set(applied[0]["answers"]) == {"budget"}
    for offer in payload["offers"]:
        assert offer["relaxed"] == applied[0]["relax"]
        assert offer["items"][0]["attributes"]["frame_size_cm"] == 54
    loosened = " ".join(applied[0]["relax"])
    assert GERMAN_PRICE.search(loosened) and "300" in loosened, loosened
    assert loosened in texts(reply)


def test_german_glossary_why_restart_and_human(bot: RunningBot) -> None:
    sender = _sender()
    _send(bot, sender, "Hallo, ich suche ein Rennrad", expect=USAGE)
    explained = _german(bot.send(sender, "was ist SPD?", **DE))
    assert "SPD" in explained and USAGE in explained  # explained, then the question again
    _send(bot, sender, "lange Ausfahrten", expect=EXPERIENCE)
    _send(bot, sender, "blutiger Anfänger", expect=BUDGET)
    _send(bot, sender, "1500", expect=HEIGHT)
    _send(bot, sender, "175", expect=SHOES)
    _offers(_send(bot, sender, "nein", expect_offers=True))
    why = _german(bot.send(sender, "warum dieses?", **DE))
    assert "175 cm" in why, why
    _send(bot, sender, "noch mal von vorne")
    again = _german(bot.send(sender, "ich suche ein Rennrad", **DE))
    assert USAGE in again


def test_german_answer_changed_after_offers(bot: RunningBot) -> None:
    sender = _sender()
    _send(bot, sender, "Rennrad, Budget 2000, ich bin 1,75 m", expect=USAGE)
    _send(bot, sender, "Fitness", expect=EXPERIENCE)
    _send(bot, sender, "regelmäßig", expect=SHOES)
    first = _offers(_send(bot, sender, "normale Schuhe", expect_offers=True))
    assert first["answers"]["budget"] == 2000.0
    changed = _offers(_send(bot, sender, "mein Budget ist doch 3000", expect_offers=True))
    assert changed["answers"]["budget"] == 3000.0
    check_offers(bot, changed)


@pytest.mark.parametrize(
    ("message", "wanted"),
    [
        ("lange Touren, keine Rennen", "endurance"),
        ("zur Arbeit pendeln, nichts mit Wettkampf", "commute"),
    ],
)
def test_german_negation_never_selects_the_negated_option(
    bot: RunningBot, message: str, wanted: str
) -> None:
    sender = _sender()
    _send(bot, sender, "Ich suche ein Rennrad", expect=USAGE)
    _send(bot, sender, message, expect=EXPERIENCE)
    reply = _send(bot, sender, "nicht so erfahren")
    answers = bot.state(sender)["answers"]
    assert answers.get("usage") == wanted, (message, answers)
    assert answers.get("experience") != "racer", answers
    # The negation leaves experience open or reads it as not racing: something is asked.
    assert EXPERIENCE in texts(reply) or BUDGET in texts(reply), texts(reply)


def test_switching_language_mid_conversation(bot: RunningBot) -> None:
    sender = _sender()
    _send(bot, sender, "Hallo, ich suche ein Rennrad", expect=USAGE)
    english = bot.send(sender, "English please", **DE)
    assert ask("road_bike", "usage") in texts(english), texts(english)
    back = bot.send(sender, "auf Deutsch bitte", metadata={"language": "en"})
    assert USAGE in _german(back)


@pytest.mark.parametrize("junk", ["asdfgh", "ööööö ???", "😀😀😀"])
def test_german_junk_is_answered_politely_and_the_question_kept(bot: RunningBot, junk: str) -> None:
    sender = _sender()
    _send(bot, sender, "Ich suche ein Rennrad", expect=USAGE)
    reply = _send(bot, sender, junk)
    assert USAGE in texts(reply), texts(reply)
