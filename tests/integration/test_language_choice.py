"""Choosing the chat's language, with the real Rasa and action servers.

Without a page language (a script on the REST channel, ``curl`` on ``/api/chat``) the
first messages decide; "English please" and "auf Deutsch bitte" switch at any point,
keep the answers and ask the open question again; the domain's responses (goodbye,
you're welcome) follow the conversation's language.
"""

from __future__ import annotations

import uuid

from tests.integration.conftest import RunningBot, ask, texts

DE = {"metadata": {"language": "de"}}
USAGE_DE = ask("road_bike", "usage", "de")
EXPERIENCE_DE = ask("road_bike", "experience", "de")
EXPERIENCE = ask("road_bike", "experience")
BUDGET = ask("road_bike", "budget")
BUDGET_DE = ask("road_bike", "budget", "de")
USAGE = ask("road_bike", "usage")

SWITCHED_EN = "Sure, let's continue in English."
SWITCHED_DE = "Gern, machen wir auf Deutsch weiter."
GOODBYE_EN = "Thanks for stopping by. Enjoy the ride!"
GOODBYE_DE = "Danke für deinen Besuch. Viel Spaß beim Fahren!"
WELCOME_DE = "Gern geschehen!"


def _sender() -> str:
    return f"test-lang-{uuid.uuid4().hex[:12]}"


def test_german_first_message_without_page_language_is_answered_in_german(
    bot: RunningBot,
) -> None:
    sender = _sender()
    reply = bot.send(sender, "Hallo, ich suche ein Rennrad", expect=USAGE_DE)
    assert "What will you" not in texts(reply)
    assert bot.state(sender)["language"] == "de"
    bot.send(sender, "meistens lange Touren am Wochenende", expect=EXPERIENCE_DE)
    assert bot.state(sender)["answers"] == {"usage": "endurance"}


def test_english_first_message_stays_english_on_single_german_words(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike", expect=USAGE)
    bot.send(sender, "long weekend rides", expect=EXPERIENCE)
    reply = bot.send(sender, "ja")  # one German word mid-conversation flips nothing
    assert bot.state(sender)["language"] == "en"
    assert EXPERIENCE in texts(reply)


def test_english_please_mid_conversation_then_back_to_german(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "ich suche ein Rennrad", expect=USAGE_DE, **DE)
    bot.send(sender, "lange Touren", expect=EXPERIENCE_DE, **DE)
    # The page still says German: the shopper's choice wins from now on.
    bot.send(sender, "English please", expect=[SWITCHED_EN, EXPERIENCE], **DE)
    state = bot.state(sender)
    assert state["language"] == "en" and state["language_chosen"] is True
    assert state["answers"] == {"usage": "endurance"}
    bot.send(sender, "total newbie", expect=BUDGET, **DE)
    bot.send(sender, "auf Deutsch bitte", expect=[SWITCHED_DE, BUDGET_DE], **DE)
    state = bot.state(sender)
    assert state["language"] == "de"
    assert state["answers"] == {"usage": "endurance", "experience": "beginner"}
    reply = bot.send(sender, "tschüss", expect=GOODBYE_DE, **DE)
    assert GOODBYE_EN not in texts(reply)


def test_can_we_speak_english_from_a_german_page(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "ich suche ein Rennrad", expect=USAGE_DE, **DE)
    bot.send(sender, "can we speak English?", expect=[SWITCHED_EN, USAGE], **DE)
    bot.send(sender, "kannst du Deutsch?", expect=[SWITCHED_DE, USAGE_DE], **DE)


def test_goodbye_and_thanks_in_german(bot: RunningBot) -> None:
    # The very first message, no page language: the words decide.
    bot.send(_sender(), "tschüss", expect=GOODBYE_DE)
    # On the German page, whatever the words.
    bot.send(_sender(), "bye", expect=GOODBYE_DE, **DE)
    sender = _sender()
    bot.send(sender, "ich suche ein Rennrad", expect=USAGE_DE)
    bot.send(sender, "vielen Dank", expect=WELCOME_DE)
    bot.send(sender, "auf Wiedersehen", expect=GOODBYE_DE)


def test_goodbye_in_english_stays_english(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike", expect=USAGE)
    bot.send(sender, "thank you", expect="You're welcome!")
    reply = bot.send(sender, "goodbye", expect=GOODBYE_EN)
    assert GOODBYE_DE not in texts(reply)
