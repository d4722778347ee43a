"""Conversations that open with an answer, and turns after a failure, through the real servers."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration.conftest import RunningBot, offers_payload, texts

pytestmark = pytest.mark.integration


def _sender() -> str:
    return f"first-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    ("first", "said_back", "next_question"),
    [
        ("long rides", "Long rides and fitness", "experience"),
        ("beginner", "I'm new to it", "What will you mostly use the bike for?"),
        ("1500", "budget 1,500 EUR", "What will you mostly use the bike for?"),
        ("yes", None, "What will you mostly use the bike for?"),
        ("no", None, "What will you mostly use the bike for?"),
    ],
    ids=["long-rides", "beginner", "1500", "yes", "no"],
)
def test_converse_first_message_is_an_answer(
    bot: RunningBot, first: str, said_back: str | None, next_question: str
) -> None:
    sender = _sender()
    reply = bot.send(sender, first)
    assert texts(reply), f"no reply to a first message {first!r}"
    assert "What are you looking for?" in texts(reply)
    assert any(b["title"] == "Road bike" for m in reply for b in m.get("buttons", []))
    # Choosing the product goes on from what was already said.
    reply = bot.send(sender, '/request_advice{"ruleset":"road_bike"}')
    text = texts(reply)
    assert text, "no reply after choosing the product"
    assert next_question in text
    if said_back is not None:
        assert f"Got it: {said_back}." in text, text


def test_converse_early_answers_reach_the_offers(bot: RunningBot) -> None:
    sender = _sender()
    assert texts(bot.send(sender, "mostly long rides, I'm a beginner"))
    reply = bot.send(sender, "a road bike please")
    assert "budget" in texts(reply).lower(), texts(reply)
    for step in ["about 1.5k", "1,82 m", "no, just trainers"]:
        reply = bot.send(sender, step)
        assert texts(reply), f"no answer to {step!r}"
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    assert payload["answers"]["usage"] == "endurance"
    assert payload["answers"]["experience"] == "beginner"


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
    for step in ["I want a road bike", "long weekend rides", "total newbie", "1500", "182 cm"]:
        assert texts(bot.send(sender, step)), f"no answer to {step!r}"
    with catalogue_broken(bot.database_url):
        reply = bot.send(sender, "no, just trainers")
        text = texts(reply)
        assert text, "a failed turn must not be silence"
        assert "try again" in text.lower()
        assert "Traceback" not in text
    reply = bot.send(sender, "no, just trainers")
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    assert payload["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
