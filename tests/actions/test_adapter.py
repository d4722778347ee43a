"""The Rasa actions are adapters: slot and message in, advisor step, messages and one slot out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine

import actions.runtime as runtime
from actions.adapter import (
    LANGUAGE_SLOT,
    STATE_SLOT,
    ActionAdvise,
    ActionExplain,
    ActionGreet,
    ActionHandoff,
    ActionRestartAdvice,
    ActionSettleLanguage,
)
from advisor.service import Advisor
from advisor.sharing import ShareStore
from product_rules.registry import RuleRegistry
from tests.conftest import RULES


@pytest.fixture(autouse=True)
def advisor(demo_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Advisor]:
    service = Advisor(RuleRegistry(RULES, demo_db), codes=ShareStore(demo_db))
    monkeypatch.setattr(runtime, "_advisor", service)
    yield service


def tracker(
    text: str,
    *,
    intent: str = "inform",
    state: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    sender: str | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    return Tracker(
        # Each its own: the action server stores every changed state under the sender.
        sender_id=sender or f"unit-{uuid.uuid4().hex}",
        slots={STATE_SLOT: state},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "metadata": metadata or {},
        },
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, {})
    return dispatcher.messages, events


async def test_advise_sets_one_state_slot_and_rasa_buttons() -> None:
    messages, events = await run(
        ActionAdvise(), tracker("I want a road bike", intent="request_advice")
    )
    assert [e["name"] for e in events] == [STATE_SLOT, LANGUAGE_SLOT]
    assert events[1]["value"] == "en"
    state = events[0]["value"]
    assert state["ruleset"] == "road_bike" and state["question"] == "usage"
    assert "What will you mostly use the bike for?" in messages[0]["text"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert '/inform{"choice":"endurance"}' in payloads


async def test_advise_sends_offers_as_custom_payload() -> None:
    state = {
        "ruleset": "road_bike",
        "question": "shoes_owned",
        "answers": {
            "usage": "endurance",
            "experience": "beginner",
            "budget": 1500,
            "body_height_cm": 182,
        },
    }
    track = tracker(
        '/inform{"choice":"none"}', state=state, entities=[{"entity": "choice", "value": "none"}]
    )
    messages, events = await run(ActionAdvise(), track)
    custom = [m["custom"] for m in messages if m.get("custom")]
    assert [c["type"] for c in custom] == ["offers"]
    assert messages[0]["text"].startswith("Got it: No, normal shoes.")
    assert events[0]["value"]["last"]["offers"]


async def test_advise_answer_intent_from_other_intent() -> None:
    # The core fallback runs action_advise whatever the intent: it is read as an answer.
    messages, events = await run(ActionAdvise(), tracker("road bike please", intent="goodbye"))
    assert events[0]["value"]["ruleset"] == "road_bike"
    assert messages


async def test_advise_switches_language_on_its_intent() -> None:
    state = {"ruleset": "road_bike", "question": "experience", "answers": {"usage": "racing"}}
    messages, events = await run(
        ActionAdvise(), tracker("auf Deutsch bitte", intent="switch_language", state=state)
    )
    assert events[0]["value"]["language"] == "de" and events[0]["value"]["language_chosen"]
    assert events[0]["value"]["answers"] == {"usage": "racing"}
    assert (events[1]["name"], events[1]["value"]) == (LANGUAGE_SLOT, "de")
    assert "Wie viel Erfahrung hast du mit dem Rennrad?" in messages[0]["text"]


@pytest.mark.parametrize(
    ("text", "metadata", "state", "language"),
    [
        ("tschüss", None, None, "de"),  # the first message, no page language
        ("bye", None, None, "en"),
        ("bye", {"language": "de"}, None, "de"),  # the page's language
        ("danke", None, {"language": "en", "language_heard": True, "messages": 4}, "en"),
        ("thanks", {"language": "en"}, {"language": "de", "language_chosen": True}, "de"),
    ],
    ids=["german-first", "english-first", "page", "settled", "chosen"],
)
async def test_settle_language_sets_the_slot_and_says_nothing(
    text: str, metadata: dict[str, Any] | None, state: dict[str, Any] | None, language: str
) -> None:
    track = tracker(text, intent="goodbye", state=state, metadata=metadata)
    messages, events = await run(ActionSettleLanguage(), track)
    assert messages == []
    assert [e["name"] for e in events] == [STATE_SLOT, LANGUAGE_SLOT]
    assert events[0]["value"]["language"] == events[1]["value"] == language


async def test_any_failure_gives_a_polite_sentence_and_keeps_the_state(
    advisor: Advisor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(advisor, "step", broken)
    state = {"ruleset": "road_bike", "question": "budget", "answers": {"usage": "racing"}}
    senders = []
    for action in (
        ActionAdvise(),
        ActionGreet(),
        ActionExplain(),
        ActionHandoff(),
        ActionRestartAdvice(),
    ):
        turn = tracker("about 2k", state=state)
        senders.append(turn.sender_id)
        messages, events = await run(action, turn)
        assert events == [], "no slot changes: the state is kept"
        assert messages[0]["text"].startswith("Sorry, something went wrong on my side.")
        assert runtime.conversations().load(turn.sender_id) is None, "nothing stored"
    assert senders[0] in caplog.text and "action_advise failed" in caplog.text


async def test_handoff_code_is_not_the_sender_id() -> None:
    messages, _ = await run(
        ActionHandoff(), tracker("can I speak to someone", intent="human_handoff")
    )
    custom = next(m["custom"] for m in messages if m.get("custom"))
    assert custom["type"] == "handoff"
    assert len(custom["code"]) == 6 and custom["code"] != "unit-conversation"


def test_registered_actions_match_domain() -> None:
    import yaml
    from rasa_sdk.executor import ActionExecutor

    domain_actions: set[str] = set()
    for path in (Path(__file__).resolve().parents[2] / "bot" / "domain").glob("*.yml"):
        domain_actions.update(yaml.safe_load(path.read_text()).get("actions") or [])
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == domain_actions


async def test_a_turn_that_changes_nothing_sets_no_slot() -> None:
    _, first = await run(ActionAdvise(), tracker("I want a road bike", intent="request_advice"))
    state = first[0]["value"]
    asked = tracker("what is SPD?", intent="explain_term", state=state)
    asked.slots[LANGUAGE_SLOT] = "en"

    messages, events = await run(ActionExplain(), asked)

    assert "SPD" in messages[0]["text"]
    assert events == [], "an unchanged state and language add no events to the tracker"


async def test_a_changed_language_alone_sets_only_the_language_slot() -> None:
    _, first = await run(ActionAdvise(), tracker("I want a road bike", intent="request_advice"))
    state = first[0]["value"]
    again = tracker("what is SPD?", intent="explain_term", state=state)
    again.slots[LANGUAGE_SLOT] = None  # e.g. a tracker from before the language slot

    _, events = await run(ActionExplain(), again)

    assert [(e["name"], e["value"]) for e in events] == [(LANGUAGE_SLOT, "en")]


async def test_an_answer_is_stored_before_the_reply_and_kept_when_rasa_loses_the_turn() -> None:
    """Rasa answered, then failed to save its tracker: the next turn goes on from ours."""
    sender = f"unit-{uuid.uuid4().hex}"
    _, events = await run(
        ActionAdvise(), tracker("a road bike", intent="request_advice", sender=sender)
    )
    first = events[0]["value"]
    _, events = await run(ActionAdvise(), tracker("long weekend rides", state=first, sender=sender))
    acknowledged = events[0]["value"]
    assert acknowledged["answers"]["usage"] == "endurance"
    assert acknowledged["seq"] == first["seq"] + 1

    # Rasa's save of that turn failed: its slot still holds the first state.
    messages, events = await run(
        ActionAdvise(), tracker("total beginner", state=first, sender=sender)
    )
    state = events[0]["value"]
    assert state["answers"]["usage"] == "endurance", "the acknowledged answer is kept"
    assert state["answers"]["experience"] == "beginner"
    assert "What is your budget" in messages[0]["text"] or state["question"] == "budget"


async def test_a_tracker_rasa_could_not_load_is_recovered_from_the_store() -> None:
    sender = f"unit-{uuid.uuid4().hex}"
    _, events = await run(
        ActionAdvise(), tracker("a road bike", intent="request_advice", sender=sender)
    )
    _, events = await run(
        ActionAdvise(), tracker("long weekend rides", state=events[0]["value"], sender=sender)
    )
    # Our tracker store could not load it: no slot, a session start that says so.
    lost = [{"event": "session_started", "metadata": {"advisor_tracker_lost": True}}]
    _, events = await run(ActionAdvise(), tracker("total beginner", sender=sender, events=lost))
    state = events[0]["value"]
    assert state["ruleset"] == "road_bike"
    assert state["answers"] == {"usage": "endurance", "experience": "beginner"}


async def test_after_rasas_restart_the_stored_state_is_not_brought_back() -> None:
    sender = f"unit-{uuid.uuid4().hex}"
    _, events = await run(
        ActionAdvise(), tracker("a road bike", intent="request_advice", sender=sender)
    )
    before = events[0]["value"]
    # /restart resets every slot and starts a new session (no mark of a lost tracker).
    new_session = [{"event": "session_started", "metadata": {}}]
    _, events = await run(
        ActionAdvise(),
        tracker("a gravel bike", intent="request_advice", sender=sender, events=new_session),
    )
    state = events[0]["value"]
    assert state["ruleset"] == "gravel_bike" and state["answers"] == {}
    assert state["seq"] > before["seq"], "and counts on after the stored one"
    stored = runtime.conversations().load(sender)
    assert stored is not None and stored.ruleset == "gravel_bike"


async def test_a_turn_that_changes_nothing_writes_nothing() -> None:
    sender = f"unit-{uuid.uuid4().hex}"
    _, events = await run(
        ActionAdvise(), tracker("a road bike", intent="request_advice", sender=sender)
    )
    state = events[0]["value"]
    stored = runtime.conversations().load(sender)
    assert stored is not None and stored.seq == state["seq"]
    _, events = await run(ActionExplain(), tracker("what is SPD?", state=state, sender=sender))
    assert [e for e in events if e["name"] == STATE_SLOT] == [], "no state event"
    again = runtime.conversations().load(sender)
    assert again is not None and again.seq == stored.seq
