"""Actions as thin adapters: slots and message in, events and messages out (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

import actions.runtime as runtime
from actions.advice import ActionAdvise
from actions.conversation import ActionGreet, ActionHandoff, ActionOutOfScope, ActionRestartAdvice
from actions.explain import ActionExplain
from product_rules.registry import RuleRegistry

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


@pytest.fixture(autouse=True)
def registry(demo_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[RuleRegistry]:
    reg = RuleRegistry(RULES, demo_db)
    monkeypatch.setattr(runtime, "_registry", reg)
    yield reg


def tracker(
    text: str,
    *,
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> Tracker:
    return Tracker(
        sender_id="unit",
        slots={
            "ruleset": None,
            "question": None,
            "answers": None,
            "last_offers": None,
            **(slots or {}),
        },
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, {})
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots


async def test_advise_starts_and_asks_first_question() -> None:
    messages, slots = await run(
        ActionAdvise(), tracker("I want a road bike", intent="request_advice")
    )
    assert slots == {"ruleset": "road_bike", "answers": {}, "question": "usage"}
    assert "What will you mostly use the bike for?" in messages[0]["text"]
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert "Long rides and fitness" in titles


async def test_advise_takes_several_answers_from_one_message() -> None:
    text = "I'm a total newbie looking for a road bike for about 1.5k, I'm 1,82 m"
    messages, slots = await run(ActionAdvise(), tracker(text, intent="request_advice"))
    assert slots["answers"] == {"experience": "beginner", "budget": 1500.0, "body_height_cm": 182.0}
    assert slots["question"] == "usage"
    assert "Got it" in messages[0]["text"]


async def test_advise_button_answer_then_offers() -> None:
    answers = {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
    }
    track = tracker(
        '/inform{"choice":"none"}',
        entities=[{"entity": "choice", "value": "none"}],
        slots={"ruleset": "road_bike", "question": "shoes_owned", "answers": answers},
    )
    messages, slots = await run(ActionAdvise(), track)
    assert slots["question"] is None
    custom = next(m["custom"] for m in messages if m.get("custom"))
    assert custom["type"] == "offers"
    assert custom["answers"]["shoes_owned"] == "none"
    assert 1 <= len(custom["offers"]) <= 3
    assert slots["last_offers"]["offers"][0]["reasons"]


async def test_advise_not_understood_keeps_answers() -> None:
    track = tracker(
        "🚲🔥",
        intent="nlu_fallback",
        slots={"ruleset": "road_bike", "question": "experience", "answers": {"usage": "racing"}},
    )
    messages, slots = await run(ActionAdvise(), track)
    assert slots == {}, "no slot changes: nothing is lost"
    assert messages[0]["text"].startswith("Sorry, I didn't quite get that.")
    assert messages[0]["buttons"]


async def test_advise_out_of_range_budget_reasks() -> None:
    track = tracker(
        "my budget is 50 euros",
        slots={
            "ruleset": "road_bike",
            "question": "budget",
            "answers": {"usage": "racing", "experience": "racer"},
        },
    )
    messages, slots = await run(ActionAdvise(), track)
    assert "between 200 EUR and 20,000 EUR" in messages[0]["text"]
    assert slots["question"] == "budget"
    assert "budget" not in slots["answers"]


async def test_advise_database_down_says_try_again(
    registry: RuleRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = registry.get("road_bike")

    def broken(_answers: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(served.engine, "recommend", broken)
    answers = {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
    }
    track = tracker(
        "no", slots={"ruleset": "road_bike", "question": "shoes_owned", "answers": answers}
    )
    messages, slots = await run(ActionAdvise(), track)
    assert "try again" in messages[0]["text"]
    assert slots["answers"]["shoes_owned"] == "none"


async def test_explain_term_and_reasons() -> None:
    messages, _ = await run(
        ActionExplain(),
        tracker(
            "what is SPD?",
            intent="explain_term",
            slots={"ruleset": "road_bike", "question": "usage", "answers": {}},
        ),
    )
    assert "Shimano" in messages[0]["text"]
    assert "What will you mostly use the bike for?" in messages[0]["text"]
    last = {
        "offers": [{"rank": 1, "title": "Bike with Pedals", "reasons": ["Fits you"]}],
        "relaxed": [],
    }
    messages, _ = await run(
        ActionExplain(),
        tracker(
            "why this one", intent="ask_why", slots={"ruleset": "road_bike", "last_offers": last}
        ),
    )
    assert messages[0]["text"] == "1. Bike with Pedals: Fits you."


async def test_conversation_actions() -> None:
    messages, _ = await run(ActionGreet(), tracker("hi", intent="greet"))
    assert "Road bike" in [b["title"] for b in messages[0]["buttons"]]
    messages, slots = await run(ActionRestartAdvice(), tracker("start over", intent="restart"))
    assert slots == {"ruleset": None, "answers": None, "question": None, "last_offers": None}
    messages, _ = await run(
        ActionOutOfScope(),
        tracker(
            "weather?", intent="out_of_scope", slots={"ruleset": "road_bike", "question": "budget"}
        ),
    )
    assert "budget" in messages[0]["text"]
    messages, _ = await run(ActionHandoff(), tracker("human", intent="human_handoff"))
    assert messages[1]["custom"] == {"type": "handoff", "code": "unit"}


async def test_out_of_scope_that_answers_the_question_is_an_answer() -> None:
    track = tracker(
        "endurance",
        intent="out_of_scope",
        slots={"ruleset": "road_bike", "question": "usage", "answers": {}},
    )
    messages, slots = await run(ActionOutOfScope(), track)
    assert slots["answers"] == {"usage": "endurance"}
    assert slots["question"] == "experience"


async def test_handoff_that_answers_the_question_is_an_answer() -> None:
    track = tracker(
        "racing please",
        intent="human_handoff",
        slots={"ruleset": "road_bike", "question": "usage", "answers": {}},
    )
    messages, slots = await run(ActionHandoff(), track)
    assert slots["answers"] == {"usage": "racing"}
    track = tracker(
        "can I talk to a person",
        intent="human_handoff",
        slots={"ruleset": "road_bike", "question": "usage", "answers": {}},
    )
    messages, slots = await run(ActionHandoff(), track)
    assert messages[1]["custom"]["type"] == "handoff"


async def test_start_over_that_answers_the_question_is_an_answer() -> None:
    track = tracker(
        "commuting please",
        intent="start_over",
        slots={"ruleset": "road_bike", "question": "usage", "answers": {}},
    )
    _, slots = await run(ActionRestartAdvice(), track)
    assert slots["answers"] == {"usage": "commute"}


def test_registered_actions_match_domain() -> None:
    import yaml
    from rasa_sdk.executor import ActionExecutor

    domain_actions: set[str] = set()
    for path in (Path(__file__).resolve().parents[2] / "bot" / "domain").glob("*.yml"):
        domain_actions.update(yaml.safe_load(path.read_text()).get("actions") or [])
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == domain_actions
