"""Messages that arrive at once, against the real Rasa and action servers.

A shopper who double-sends, or types while a button click is still on its way, sends two
messages of one conversation at the same time. Both must be answered, and the answers the
bot keeps (Rasa's slot ``advisor_state``) must be those of the two turns one after the
other, in the order Rasa took them, never a mix or a lost answer.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import RunningBot, ask, check_offers, texts

pytestmark = pytest.mark.integration

USAGE = ask("road_bike", "usage")
EXPERIENCE = ask("road_bike", "experience")
BUDGET = ask("road_bike", "budget")
HEIGHT = ask("road_bike", "body_height_cm")
SHOES = ask("road_bike", "shoes_owned")


def _sender() -> str:
    return f"conc-{uuid.uuid4().hex[:12]}"


def _at_once(bot: RunningBot, pairs: list[tuple[str, str]]) -> list[list[dict[str, Any]]]:
    """Send ``(sender, message)`` pairs at the same moment; the replies, in that order."""
    start = threading.Barrier(len(pairs))

    def one(pair: tuple[str, str]) -> list[dict[str, Any]]:
        start.wait(timeout=30)
        return bot.send(*pair)  # fails on silence or an HTTP error, as every turn

    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        return list(pool.map(one, pairs))


def _said(bot: RunningBot, sender: str) -> list[str]:
    """What the shopper said, in the order Rasa took it."""
    response = bot.client.get(
        f"{bot.rasa_url}/conversations/{sender}/tracker",
        params={"token": bot.rasa_token, "include_events": "ALL"},
    )
    response.raise_for_status()
    return [e["text"] for e in response.json()["events"] if e.get("event") == "user"]


def test_answer_both_messages_sent_at_once(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike", expect=USAGE)

    replies = dict(
        zip(
            ["long rides", "total newbie"],
            _at_once(bot, [(sender, "long rides"), (sender, "total newbie")]),
            strict=True,
        )
    )

    order = _said(bot, sender)[-2:]
    assert sorted(order) == ["long rides", "total newbie"], order
    first, last = order
    # Each message was answered, and says back its own answer.
    assert "Got it: Long rides and fitness." in texts(replies["long rides"])
    assert "Got it: I'm new to it." in texts(replies["total newbie"])
    # The first taken leaves the other question open; the last one sees both answered.
    assert (USAGE if first == "total newbie" else EXPERIENCE) in texts(replies[first])
    assert BUDGET in texts(replies[last])
    state = bot.state(sender)
    assert state["answers"] == {"usage": "endurance", "experience": "beginner"}
    assert state["question"] == "budget"
    # The conversation goes on from both answers, to offers that keep them.
    bot.talk(sender, [("1500", HEIGHT), ("182 cm", SHOES)])
    payload = check_offers(bot, bot.send(sender, "no", expect_offers=True))
    assert payload["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }


def test_keep_the_later_of_two_answers_sent_at_once(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike", expect=USAGE)

    replies = dict(
        zip(
            ["long rides", "racing"],
            _at_once(bot, [(sender, "long rides"), (sender, "racing")]),
            strict=True,
        )
    )

    last = _said(bot, sender)[-1]
    kept = {"long rides": "endurance", "racing": "racing"}[last]
    label = {"long rides": "Long rides and fitness", "racing": "Racing and fast group rides"}
    for message, reply in replies.items():
        assert f"Got it: {label[message]}.\n{EXPERIENCE}" in texts(reply), texts(reply)
    state = bot.state(sender)
    assert state["answers"] == {"usage": kept}, "the answer taken last counts, and only it"
    assert state["question"] == "experience"
    bot.talk(sender, [("beginner", BUDGET), ("1500", HEIGHT), ("182 cm", SHOES)])
    payload = check_offers(bot, bot.send(sender, "no", expect_offers=True))
    assert payload["answers"]["usage"] == kept


def test_answer_many_conversations_at_once_without_mixing(bot: RunningBot) -> None:
    budgets = [1000, 1200, 1400, 1600, 1800, 2000]
    senders = [_sender() for _ in budgets]
    for sender in senders:
        bot.talk(sender, [("I want a road bike", USAGE), ("long rides", EXPERIENCE)])
        bot.send(sender, "beginner", expect=BUDGET)

    replies = _at_once(bot, [(s, f"{b} euros") for s, b in zip(senders, budgets, strict=True)])

    for sender, budget, reply in zip(senders, budgets, replies, strict=True):
        assert f"Got it: budget €{budget:,}.\n{HEIGHT}" in texts(reply), texts(reply)
        assert bot.state(sender)["answers"] == {
            "usage": "endurance",
            "experience": "beginner",
            "budget": float(budget),
        }
