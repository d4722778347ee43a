"""Conversations that open with an answer, and turns after a failure, through the real servers.

People do not open with "hi": they type a number, "yes", what they ride, or a whole
sentence. Each first message must get a polite reply that asks the right next thing.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration.conftest import SHIPPED, RunningBot, ask, buttons, check_offers, texts

pytestmark = pytest.mark.integration

USAGE = ask("road_bike", "usage")
EXPERIENCE = ask("road_bike", "experience")
BUDGET = ask("road_bike", "budget")
HEIGHT = ask("road_bike", "body_height_cm")
SHOES = ask("road_bike", "shoes_owned")
ROAD_INTRO = SHIPPED["road_bike"].intro
WHICH = (
    "What are you looking for? I can help you choose a city bike, an e-bike, a gravel bike "
    "or a road bike."
)
PRODUCT_BUTTONS = ["City bike", "E-bike", "Gravel bike", "Road bike"]
GREETING = "Hi! I'm the shop's bike advisor."


def _sender() -> str:
    return f"first-{uuid.uuid4().hex[:12]}"


def _noted(first: str) -> str:
    return f"Noted: \"{first}\". I'll use that as soon as I know what you're looking for."


@pytest.mark.parametrize(
    ("first", "kept", "said_back", "next_question"),
    [
        ("long rides", True, "Long rides and fitness", EXPERIENCE),
        ("beginner", True, "I'm new to it", USAGE),
        ("1500", True, "budget €1,500", USAGE),
        ("I need something for the office", True, "Commuting to work", EXPERIENCE),
        ("what do you recommend for a beginner?", True, "I'm new to it", USAGE),
        ("I'm 1,75 m, nothing over 2000", True, "175 cm tall, budget €2,000", USAGE),
        ("yes", False, None, USAGE),
        ("no", False, None, USAGE),
    ],
    ids=[
        "long-rides",
        "beginner",
        "1500",
        "office",
        "beginner-question",
        "height-and-budget",
        "yes",
        "no",
    ],
)
def test_converse_first_message_is_an_answer(
    bot: RunningBot, first: str, kept: bool, said_back: str | None, next_question: str
) -> None:
    sender = _sender()
    # An answer is said back and kept; "yes" or "no" alone gets a greeting. Either way
    # the bot asks what they are looking for, with a button per product.
    reply = bot.send(sender, first, expect=[_noted(first) if kept else GREETING, WHICH])
    assert [b["title"] for b in buttons(reply)] == PRODUCT_BUTTONS
    assert bot.state(sender)["pending"] == ([first] if kept else [])
    # Choosing the product goes on from what was already said.
    reply = bot.send(sender, '/request_advice{"ruleset":"road_bike"}', expect=ROAD_INTRO)
    text = texts(reply)
    if said_back is not None:
        assert f"Got it: {said_back}.\n{next_question}" in text, text
    else:
        assert "Got it" not in text
        assert text.endswith(next_question), text
    assert next_question != USAGE or "Long rides and fitness" in [
        b["title"] for b in buttons(reply)
    ]


def test_converse_office_opening_suits_a_city_bike_too(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I need something for the office", expect=WHICH)
    # The same early answer means the city bike's own commuting option.
    bot.send(
        sender,
        "a city bike",
        expect=[
            SHIPPED["city_bike"].intro,
            "Got it: Commuting to work, school or university.\n" + ask("city_bike", "hills"),
        ],
    )
    assert bot.state(sender)["answers"] == {"usage": "commute"}


@pytest.mark.parametrize(
    ("first", "answers", "said_back", "next_question"),
    [
        (
            "Hi there, I'm after a road bike for weekend rides",
            {"usage": "endurance"},
            "Long rides and fitness",
            EXPERIENCE,
        ),
        (
            "Good morning! My first road bike, I'm a total beginner",
            {"experience": "beginner"},
            "I'm new to it",
            USAGE,
        ),
        ("a road bike under 2000", {"budget": 2000.0}, "budget €2,000", USAGE),
        (
            "I want a road bike under 2000 euros, I'm 1,75 m",
            {"budget": 2000.0, "body_height_cm": 175.0},
            "budget €2,000, 175 cm tall",
            USAGE,
        ),
        (
            "I'm 1,75 m and want a road bike under 2000",
            {"body_height_cm": 175.0, "budget": 2000.0},
            "175 cm tall, budget €2,000",
            USAGE,
        ),
    ],
    ids=["weekend-rides", "first-bike-beginner", "under-2000", "budget-and-height", "height-first"],
)
def test_converse_opens_with_a_whole_sentence(
    bot: RunningBot, first: str, answers: dict[str, object], said_back: str, next_question: str
) -> None:
    sender = _sender()
    bot.send(sender, first, expect=[ROAD_INTRO, f"Got it: {said_back}.\n{next_question}"])
    assert bot.state(sender)["answers"] == answers


@pytest.mark.parametrize(
    "first",
    ["hi", "hey, can you help me find a bike?", "Hello!"],
    ids=["hi", "help-me", "hello"],
)
def test_converse_greeting_asks_what_they_look_for(bot: RunningBot, first: str) -> None:
    reply = bot.send(_sender(), first, expect=[GREETING, WHICH])
    assert [b["title"] for b in buttons(reply)] == PRODUCT_BUTTONS


def test_converse_early_answers_reach_the_offers(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "mostly long rides, I'm a beginner", expect=WHICH)
    bot.send(
        sender,
        "a road bike please",
        expect=[ROAD_INTRO, "Got it: Long rides and fitness, I'm new to it.\n" + BUDGET],
    )
    bot.talk(sender, [("about 1.5k", HEIGHT), ("1,82 m", SHOES)])
    reply = bot.send(sender, "no, just trainers", expect_offers=True)
    payload = check_offers(bot, reply)
    assert payload["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
    assert all(o["items"][0]["attributes"]["frame_size_cm"] == 56 for o in payload["offers"])


@contextmanager
def catalogue_broken(database_url: str) -> Iterator[None]:
    """The product table is gone while the servers run, then comes back."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE product RENAME TO product_away")
    try:
        yield
    finally:
        with sqlite3.connect(path) as db:
            db.execute("ALTER TABLE product_away RENAME TO product")


def test_converse_after_a_failed_turn_goes_on(bot: RunningBot) -> None:
    sender = _sender()
    bot.talk(
        sender,
        [
            ("I want a road bike", USAGE),
            ("long weekend rides", EXPERIENCE),
            ("total newbie", BUDGET),
            ("1500", HEIGHT),
            ("182 cm", SHOES),
        ],
    )
    with catalogue_broken(bot.database_url):
        reply = bot.send(sender, "no, just trainers")
        text = texts(reply)
        assert "try again" in text.lower(), text
        assert "Traceback" not in text and "product_away" not in text
    # Nothing was lost: the same answer again gives the offers for all five answers.
    reply = bot.send(sender, "no, just trainers", expect_offers=True)
    payload = check_offers(bot, reply)
    assert payload["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
