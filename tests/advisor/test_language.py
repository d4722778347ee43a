"""Which language a shopper writes in: explicit requests, the guess, and the advisor using them."""

from __future__ import annotations

import pytest

from advisor.language import (
    detect_language,
    exclusive_words,
    guess_language,
    language_asked,
    words_of,
)
from advisor.service import Advisor, Turn
from advisor.state import ConversationState
from tests.advisor.conftest import Talk

GERMAN = [
    "Hallo, ich suche ein Rennrad",
    "ich moechte ein gravelbike kaufen",
    "Können Sie mir ein E-Bike empfehlen?",
    "meistens lange Touren am Wochenende",
    "ich bin totaler Anfänger",
    "so ca. 1.500 €, nicht mehr",
    "nein, ganz normale Turnschuhe",
    "ich brauche ein Fahrrad für den Weg zur Arbeit",
    "warum fragst du das?",
    "kann ich mit einem Menschen sprechen?",
    "vielen Dank für die Hilfe",
    "i bin neu, brauche ein rad",  # "i" is English, the rest German
    "ich suche ein gravel bike",  # English loan words in a German sentence
]

ENGLISH = [
    "Hi, I'm looking for a road bike",
    "I want a road bike",
    "mostly long weekend rides",
    "about 1.5k, not more",
    "no, just trainers",
    "I need a city bike for commuting",
    "what is SPD?",
    "why this one?",
    "can I talk to a human?",
    "thanks for the help",
    "i need a rennrad for my first triathlon",  # a German product word in English
    "what does clipless mean",
]

#: Too little to go on: a number, a loan word, one short word, junk.
UNDECIDED = ["1500", "182 cm", "ok", "SPD", "e-bike", "gravel", "", "🚲🚲", "xxxx", "Look Keo"]


@pytest.mark.parametrize("text", GERMAN)
def test_detect_german_sentences(text: str) -> None:
    assert detect_language(text) == "de", guess_language(text)


@pytest.mark.parametrize("text", ENGLISH)
def test_detect_english_sentences(text: str) -> None:
    assert detect_language(text) == "en", guess_language(text)


@pytest.mark.parametrize("text", UNDECIDED)
def test_detect_nothing_in_numbers_loan_words_and_junk(text: str) -> None:
    assert detect_language(text) is None
    assert detect_language(text, margin=1) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [("was ist SPD?", "de"), ("warum dieses?", "de"), ("total newbie", "en"), ("why?", "en")],
)
def test_short_messages_decide_with_a_margin_of_one(text: str, language: str) -> None:
    assert detect_language(text, margin=1) == language


@pytest.mark.parametrize(
    ("text", "language"),
    [("ja", "de"), ("Rennrad", "de"), ("tschüss", "de"), ("Hallo", "de"), ("yes", "en")],
)
def test_single_words_lean_but_do_not_decide(text: str, language: str) -> None:
    assert guess_language(text).leader == language
    assert detect_language(text) is None  # the default margin needs more than one word
    assert detect_language(text, margin=1) == language


def test_umlauts_count_for_german() -> None:
    assert guess_language("Größe").de == 1
    assert guess_language("Körpergröße Schrittlänge").de == 2
    assert words_of("I'm 1,82 m tall, I’ve") == ["i'm", "m", "tall", "i've"]


def test_vocabulary_words_only_one_language_uses() -> None:
    vocabulary = exclusive_words(
        {
            "en": ["long rides", "fitness", "cleats"],
            "de": ["lange touren", "fitness", "klickpedale", "long rides"],
        }
    )
    assert vocabulary["de"] == {"lange", "touren", "klickpedale"}
    assert vocabulary["en"] == {"cleats"}
    assert guess_language("klickpedale", vocabulary=vocabulary).de == 1
    assert guess_language("cleats", vocabulary=vocabulary).en == 1
    assert guess_language("fitness", vocabulary=vocabulary).margin == 0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("auf Deutsch bitte", "de"),
        ("Deutsch bitte", "de"),
        ("kannst du Deutsch?", "de"),
        ("Sprechen Sie Deutsch?", "de"),
        ("in German please", "de"),
        ("Deutsch", "de"),
        ("English please", "en"),
        ("can we speak English", "en"),
        ("Do you speak English?", "en"),
        ("auf Englisch bitte", "en"),
        ("kannst du Englisch?", "en"),
        ("english?", "en"),
        ("I don't speak German", "en"),
        ("ich verstehe kein Englisch", "de"),
        ("no, English please", "en"),
        ("a road bike", None),
        ("ich suche ein Rennrad", None),
        ("", None),
    ],
)
def test_language_asked(text: str, language: str | None) -> None:
    assert language_asked(text) == language


# -- the advisor: page language, explicit choice, first messages ----------------------


def test_first_german_message_without_page_language_is_answered_in_german(talk: Talk) -> None:
    talk("Hallo, ich suche ein Rennrad", "request_advice")
    assert talk.state.language == "de"
    assert talk.state.language_heard and not talk.state.language_chosen
    assert "Wofür willst du das Rad hauptsächlich nutzen?" in talk.reply.text


def test_first_english_message_stays_english_and_single_german_words_do_not_flip(
    talk: Talk,
) -> None:
    talk("I want a road bike", "request_advice")
    assert talk.state.language == "en" and talk.state.language_heard
    talk("ja", "affirm")
    talk("Rennrad", "inform")
    talk("lange Touren am Wochenende bitte", "inform")  # decided: no flip on a sentence either
    assert talk.state.language == "en"


def test_a_single_german_word_decides_only_as_the_first_message(talk: Talk) -> None:
    talk("1500", "inform")  # nothing to go on: still English, still undecided
    assert talk.state.language == "en" and not talk.state.language_heard
    talk("ja", "affirm")  # a single word after the first message decides nothing
    assert talk.state.language == "en" and not talk.state.language_heard
    talk("ich suche ein Rennrad", "request_advice")  # a sentence does
    assert talk.state.language == "de"


def test_hallo_as_first_message_greets_in_german(talk: Talk) -> None:
    talk("Hallo", "greet")
    assert talk.state.language == "de"


def test_detection_only_before_the_first_answer(talk: Talk) -> None:
    talk("road bike", "request_advice")  # one English word on a fresh conversation…
    assert talk.state.language == "en" and talk.state.language_heard  # …decides
    talk = Talk(talk.advisor)
    talk("a road bike", "request_advice")
    assert talk.state.language == "en"
    talk = Talk(talk.advisor, ConversationState(ruleset="road_bike", question="budget"))
    talk("1500", "inform")
    assert talk.state.answers == {"budget": 1500.0} and not talk.state.language_heard
    talk("ich bin totaler Anfänger", "inform")  # an answer was taken: too late to guess
    assert talk.state.language == "en"


def test_page_language_wins_over_the_guess(advisor: Advisor) -> None:
    state, _ = advisor.step(
        ConversationState(), Turn("I want a road bike", "request_advice", language="de")
    )
    assert state.language == "de" and not state.language_heard


def test_staff_console_is_never_guessed(advisor: Advisor) -> None:
    state, _ = advisor.step(
        ConversationState(channel="console"), Turn("ich suche ein Rennrad", "request_advice")
    )
    assert state.language == "en"


def test_switch_language_intent_and_phrases_keep_answers(talk: Talk) -> None:
    talk("Hallo, ich suche ein Rennrad", "request_advice")
    talk("lange Touren", "inform")
    assert talk.state.answers == {"usage": "endurance"} and talk.state.language == "de"
    talk("English please", "switch_language")
    assert talk.state.language == "en" and talk.state.language_chosen
    assert "How much road cycling experience do you have?" in talk.reply.text
    assert talk.state.answers == {"usage": "endurance"}
    talk("auf Deutsch bitte", "switch_language")
    assert talk.state.language == "de"
    assert "Wie viel Erfahrung hast du mit dem Rennrad?" in talk.reply.text
    # A bare switch_language without a named language goes to the other one.
    talk("other language please", "switch_language")
    assert talk.state.language == "en"
    assert talk.state.answers == {"usage": "endurance"}


def test_chosen_language_beats_page_language(advisor: Advisor) -> None:
    state, _ = advisor.step(
        ConversationState(), Turn("English please", "switch_language", language="de")
    )
    state, reply = advisor.step(state, Turn("I want a road bike", "request_advice", language="de"))
    assert state.language == "en"
    assert "What will you mostly use the bike for?" in reply.text


def test_state_keeps_how_the_language_was_set() -> None:
    state = ConversationState(language="de", language_heard=True)
    again = ConversationState.from_dict(state.to_dict())
    assert (again.language, again.language_heard) == ("de", True)
    assert again.restart().language == "de"
    assert ConversationState().pristine and not again.restart().language_heard
    assert not ConversationState.from_dict(
        {"language": "de", "language_heard": "yes"}
    ).language_heard
    assert not ConversationState(pending=["long rides"]).pristine
