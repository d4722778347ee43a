"""Every shipped rule set can be started in the bot and leads to offers of its category.

Each turn is said back ("Got it: …") and followed by a question of the rule set that was
not answered yet, asked once, until the offers come; the offers keep the budget and fit
the rider's height (``check_offers``).
"""

from __future__ import annotations

import uuid

import pytest

from product_rules.text import money
from tests.integration.conftest import SHIPPED, RunningBot, buttons, check_offers, texts

pytestmark = pytest.mark.integration

NUMBERS = {"EUR": ("2500 euros", 2500.0), "cm": ("178 cm", 178.0)}


@pytest.mark.parametrize("ruleset_id", sorted(SHIPPED), ids=sorted(SHIPPED))
def test_converse_each_ruleset_to_offers(bot: RunningBot, ruleset_id: str) -> None:
    ruleset = SHIPPED[ruleset_id]
    sender = f"test-{uuid.uuid4().hex[:12]}"
    reply = bot.send(sender, f'/request_advice{{"ruleset":"{ruleset_id}"}}', expect=ruleset.intro)
    asked: list[str] = []
    answers: dict[str, object] = {}
    for _ in range(len(ruleset.questions) + 1):
        open_questions = [q for q in ruleset.questions if q.text in texts(reply)]
        if not open_questions:
            break
        assert len(open_questions) == 1, texts(reply)
        question = open_questions[0]
        assert question.id not in asked, f"{question.id} asked twice"
        asked.append(question.id)
        value: object
        if question.type == "number" and question.unit in NUMBERS:
            message, amount = NUMBERS[question.unit]
            said_back = money(amount) if question.unit == "EUR" else f"{amount:.0f} cm"
            value = amount
        else:
            first = buttons(reply)[0]
            message, said_back = first["payload"], first["title"]
            if question.type == "boolean":
                value = {"Yes": True, "No": False}[first["title"]]
                said_back = f"{question.text.rstrip('?')}: {first['title'].lower()}"
            else:
                option = next((o for o in question.options if o.label == first["title"]), None)
                assert option is not None, f"{question.id}: no option {first['title']!r}"
                value = option.id
        answers[question.id] = value
        reply = bot.send(sender, message, expect=["Got it: ", said_back])
        assert bot.state(sender)["answers"] == answers
    payload = check_offers(bot, reply)
    assert asked[0] == ruleset.questions[0].id, "the first question comes first"
    assert payload["ruleset"] == ruleset_id
    assert payload["answers"] == answers
    for offer in payload["offers"]:
        assert offer["items"][0]["category"] == ruleset.category
        if not offer["relaxed"]:
            assert offer["total_price"] <= 2500


@pytest.mark.parametrize(
    ("message", "ruleset_id"),
    [
        ("I'm looking for a gravel bike", "gravel_bike"),
        ("I need a city bike to commute", "city_bike"),
        ("show me electric bikes", "e_bike"),
    ],
    ids=["gravel", "city", "e-bike"],
)
def test_converse_starts_ruleset_from_free_text(
    bot: RunningBot, message: str, ruleset_id: str
) -> None:
    sender = f"test-{uuid.uuid4().hex[:12]}"
    ruleset = SHIPPED[ruleset_id]
    reply = bot.send(sender, message, expect=ruleset.intro)
    state = bot.state(sender)
    assert state["ruleset"] == ruleset_id
    # The question asked is the first one not answered by the message itself.
    first_open = next(q for q in ruleset.questions if q.id not in state["answers"])
    assert state["question"] == first_open.id
    assert first_open.text in texts(reply)
    if first_open.type == "choice":
        titles = [b["title"] for b in buttons(reply)]
        assert titles and set(titles) <= {o.label for o in first_open.options}, titles
