"""Every shipped rule set can be started in the bot and leads to offers of its category."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from product_rules.loader import load_all
from tests.integration.conftest import RunningBot, offers_payload, texts

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"
SHIPPED = load_all(RULES)[0]
NUMBERS = {"EUR": "2500 euros", "cm": "178 cm"}


@pytest.mark.parametrize("ruleset_id", sorted(SHIPPED), ids=sorted(SHIPPED))
def test_converse_each_ruleset_to_offers(bot: RunningBot, ruleset_id: str) -> None:
    ruleset = SHIPPED[ruleset_id].ruleset
    sender = f"test-{uuid.uuid4().hex[:12]}"
    reply = bot.send(sender, f'/request_advice{{"ruleset":"{ruleset_id}"}}')
    assert ruleset.intro in texts(reply)
    for _ in range(len(ruleset.questions) + 2):
        payload = offers_payload(reply)
        if payload is not None:
            break
        question = next(q for q in ruleset.questions if q.text in texts(reply))
        buttons = [b for m in reply for b in m.get("buttons", [])]
        if question.type == "number" and question.unit in NUMBERS:
            reply = bot.send(sender, NUMBERS[question.unit])
        else:
            reply = bot.send(sender, buttons[0]["payload"])
    assert payload is not None, texts(reply)
    assert payload["ruleset"] == ruleset_id
    assert 1 <= len(payload["offers"]) <= 3
    for offer in payload["offers"]:
        assert offer["items"][0]["category"] == ruleset.category


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
    reply = bot.send(f"test-{uuid.uuid4().hex[:12]}", message)
    assert SHIPPED[ruleset_id].ruleset.intro in texts(reply), texts(reply)
