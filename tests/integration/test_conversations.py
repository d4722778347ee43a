"""Whole conversations over Rasa's REST channel, with the real Rasa and action servers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.conftest import RunningBot, offers_payload, texts

pytestmark = pytest.mark.integration


def _sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def _check_contract(payload: dict[str, Any]) -> None:
    assert payload["type"] == "offers"
    assert isinstance(payload["answers"], dict)
    assert 1 <= len(payload["offers"]) <= 3
    for rank, offer in enumerate(payload["offers"], start=1):
        assert offer["rank"] == rank
        assert offer["currency"] == "EUR"
        assert offer["reasons"]
        assert isinstance(offer["relaxed"], list)
        roles = [item["role"] for item in offer["items"]]
        assert roles[0] == "main"
        assert set(roles) <= {"main", "required", "option"}
        assert offer["total_price"] == pytest.approx(sum(i["price"] for i in offer["items"]))
        for item in offer["items"]:
            assert {"sku", "name", "category", "role", "price", "in_stock", "attributes"} <= set(
                item
            )
    for item in payload["cross_sell"]:
        assert {"sku", "name", "category", "price", "reason"} <= set(item)


def test_converse_beginner_wants_road_bike(bot: RunningBot) -> None:
    sender = _sender()
    greeting = bot.send(sender, "hi")
    assert any(b["title"] == "Road bike" for m in greeting for b in m.get("buttons", []))
    assert "What will you mostly use the bike for?" in texts(bot.send(sender, "I want a road bike"))
    steps = [
        "mostly long weekend rides",
        "total newbie",
        "about 1.5k",
        "1,82 m",
        "no, just normal trainers",
    ]
    reply: list[dict[str, Any]] = []
    for step in steps:
        reply = bot.send(sender, step)
        assert texts(reply), f"no answer to {step!r}"
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    _check_contract(payload)
    assert payload["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
    for offer in payload["offers"]:
        main = offer["items"][0]
        assert main["category"] == "road_bike"
        assert main["attributes"]["frame_size_cm"] == 56
        assert offer["total_price"] <= 1500
        if not main["attributes"].get("pedals_included"):
            pedals = [i for i in offer["items"] if i["role"] == "required"]
            assert [p["category"] for p in pedals] == ["pedals"]
            assert pedals[0]["attributes"]["cleat_system"] in {"flat", "spd"}
        assert offer["relaxed"] == []
    assert {c["category"] for c in payload["cross_sell"]} >= {"helmet"}
    assert "Here are my top" in texts(reply) or "best match" in texts(reply)


def test_converse_racer_with_look_keo_shoes(bot: RunningBot) -> None:
    sender = _sender()
    reply = bot.send(sender, "I'm looking for a racing bike, budget 4000 euros")
    assert texts(reply)
    bot.send(sender, '/inform{"choice":"racing"}')
    bot.send(sender, '/inform{"choice":"racer"}')
    reply = bot.send(sender, "6 foot 1")
    assert "inseam" in texts(reply), "racers are asked for their inseam"
    bot.send(sender, "87")
    reply = bot.send(sender, "I have Look Keo cleats")
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    _check_contract(payload)
    assert payload["answers"]["shoes_owned"] == "look_keo"
    assert payload["answers"]["inseam_cm"] == 87.0
    for offer in payload["offers"]:
        main = offer["items"][0]
        assert main["attributes"]["frame_size_cm"] == 58
        assert main["attributes"]["geometry"] in {"race", "aero"}
        for item in offer["items"][1:]:
            if item["category"] == "pedals":
                assert item["attributes"]["cleat_system"] == "look_keo"


def test_converse_budget_too_low_relaxes(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "road bike please")
    for step in ["fitness", "beginner", "300 euros", "175 cm", "no"]:
        reply = bot.send(sender, step)
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    _check_contract(payload)
    assert all(offer["relaxed"] for offer in payload["offers"])
    assert "loosened" in texts(reply)


def test_converse_changes_answer_after_offers(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I'm a beginner looking for a road bike for about 1.5k, I'm 1,82 m")
    bot.send(sender, "long rides")
    reply = bot.send(sender, "no cleats")
    first = offers_payload(reply)
    assert first is not None, texts(reply)
    reply = bot.send(sender, "actually my budget is 3000 euros")
    second = offers_payload(reply)
    assert second is not None, texts(reply)
    assert second["answers"]["budget"] == 3000.0
    assert second["answers"]["experience"] == "beginner"
    why = texts(bot.send(sender, "why this one?"))
    assert "1." in why and "budget" in why.lower()


@pytest.mark.parametrize(
    "junk",
    [
        "",
        " ",
        "x" * 20_000,
        "🚲🚲🔥💯",
        "<script>alert(1)</script><b>bold</b>",
        '/inform{"choice": ',
        "/inform{broken",
        "/nonexistent_intent",
        "{}[]\\\"'",
        "NULL",
    ],
    ids=[
        "empty",
        "blank",
        "20k-chars",
        "emoji",
        "html",
        "malformed-json",
        "malformed-braces",
        "unknown-intent",
        "punctuation",
        "null-word",
    ],
)
def test_converse_junk_answered_politely_and_kept(bot: RunningBot, junk: str) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike")
    bot.send(sender, "long weekend rides")
    reply = bot.send(sender, junk)
    if junk.strip():
        text = texts(reply)
        assert text, f"no reply to {junk[:40]!r}"
        assert "Traceback" not in text and "Error" not in text
    # The conversation goes on with the earlier answer kept.
    reply = bot.send(sender, "total newbie")
    assert "budget" in texts(reply).lower(), texts(reply)
    for step in ["1500", "180 cm", "no"]:
        reply = bot.send(sender, step)
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    assert payload["answers"]["usage"] == "endurance"


def test_converse_explains_term_and_keeps_question(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike")
    reply = texts(bot.send(sender, "what is SPD?"))
    assert "Shimano" in reply
    assert "What will you mostly use the bike for?" in reply


def test_converse_restart_forgets_answers(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike")
    bot.send(sender, "racing")
    reply = bot.send(sender, "start over")
    assert "start over" in texts(reply).lower()
    reply = bot.send(sender, "road bike")
    assert "What will you mostly use the bike for?" in texts(reply)


def test_converse_out_of_scope_keeps_question(bot: RunningBot) -> None:
    sender = _sender()
    bot.send(sender, "I want a road bike")
    bot.send(sender, "long rides")
    reply = texts(bot.send(sender, "what's the weather like tomorrow?"))
    assert "experience" in reply.lower()
