"""Assisted selling without Rasa: any-order answers, overrides, the expert view, sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from advisor.assisted import (
    AssistedAdvisor,
    AssistError,
    InvalidAnswerError,
    UnknownProductError,
    UnknownQuestionError,
)
from advisor.service import Advisor
from advisor.sessions import SessionStore, UnknownSessionError
from advisor.state import ConversationState
from product_rules.locks import Locks
from tests.advisor.conftest import BEGINNER


@pytest.fixture()
def assisted(advisor: Advisor) -> AssistedAdvisor:
    return AssistedAdvisor(advisor)


def beginner(assisted: AssistedAdvisor) -> ConversationState:
    state = assisted.start("road_bike")
    for question_id, value in {**BEGINNER, "shoes_owned": "none"}.items():
        state, _ = assisted.answer(state, question_id, value=value)
    return state


def test_answer_in_any_order_by_text_and_value(assisted: AssistedAdvisor) -> None:
    state = assisted.start("road_bike")
    state, change = assisted.answer(state, "budget", text="about 1.5k")
    assert state.answers == {"budget": 1500.0}
    assert change.action == "answer" and change.detail["said"] == "budget €1,500"
    state, _ = assisted.answer(state, "body_height_cm", text="1,82 m")
    state, _ = assisted.answer(state, "usage", value="endurance")
    assert state.answers == {"budget": 1500.0, "body_height_cm": 182.0, "usage": "endurance"}
    assert state.sources == {q: "staff" for q in state.answers}
    evaluation = assisted.evaluate(state)
    assert evaluation.next_question is not None and evaluation.next_question.id == "experience"
    assert not evaluation.complete
    assert evaluation.recommendation is not None, "offers move as answers come in"
    assert evaluation.recommendation.offers
    answered = {v.question.id: v.said for v in evaluation.questions if v.answered}
    assert answered["body_height_cm"] == "182 cm tall"


def test_answer_change_updates_offers(assisted: AssistedAdvisor) -> None:
    state = beginner(assisted)
    before = assisted.evaluate(state).recommendation
    state, _ = assisted.answer(state, "budget", value=4000)
    after = assisted.evaluate(state).recommendation
    assert before is not None and after is not None
    assert max(o["total_price"] for o in before.offers) <= 1500
    assert max(o["total_price"] for o in after.offers) > 1500
    state, change = assisted.clear(state, "budget")
    assert "budget" not in state.answers and change.action == "clear"


@pytest.mark.parametrize(
    ("question", "kwargs", "error"),
    [
        ("budgett", {"value": 1500}, UnknownQuestionError),
        ("budget", {"value": 50}, InvalidAnswerError),
        ("budget", {"text": "blue please"}, InvalidAnswerError),
        ("usage", {"value": "flying"}, InvalidAnswerError),
        ("budget", {"value": "lots"}, InvalidAnswerError),
    ],
    ids=[
        "unknown-question",
        "out-of-range",
        "text-not-an-answer",
        "unknown-option",
        "not-a-number",
    ],
)
def test_answer_refuses_with_a_reason(
    assisted: AssistedAdvisor, question: str, kwargs: dict[str, object], error: type[Exception]
) -> None:
    state = assisted.start("road_bike")
    with pytest.raises(error) as raised:
        assisted.answer(state, question, **kwargs)  # type: ignore[arg-type]
    assert str(raised.value)
    if error is UnknownQuestionError:
        assert "did you mean 'budget'" in str(raised.value)


def test_start_unknown_ruleset_suggests(assisted: AssistedAdvisor) -> None:
    with pytest.raises(AssistError, match="did you mean 'road_bike'"):
        assisted.start("road_bik")


def test_evaluate_scores_add_up_to_the_ranking(assisted: AssistedAdvisor) -> None:
    recommendation = assisted.evaluate(beginner(assisted)).recommendation
    assert recommendation is not None
    candidates = recommendation.candidates
    assert len(candidates) > len(recommendation.offers)
    for candidate in candidates:
        assert sum(p["points"] for p in candidate["parts"]) == pytest.approx(
            candidate["score"], abs=1e-6
        )
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True)
    offered = [c["sku"] for c in candidates if c["status"] == "offered"]
    assert offered == [o["items"][0]["sku"] for o in recommendation.offers]


def test_pin_and_exclude_shape_the_offers(assisted: AssistedAdvisor) -> None:
    state = beginner(assisted)
    first = assisted.evaluate(state).recommendation
    assert first is not None
    top = first.offers[0]["items"][0]["sku"]
    state, change = assisted.exclude(state, top)
    assert change.detail["sku"] == top
    after = assisted.evaluate(state).recommendation
    assert after is not None
    assert top not in {i["sku"] for o in after.offers for i in o["items"]}
    expensive = next(c for c in first.excluded if any(r.get("over_by") for r in c["reasons"]))
    state, _ = assisted.pin(state, expensive["sku"])
    pinned = assisted.evaluate(state).recommendation
    assert pinned is not None
    assert pinned.offers[0]["items"][0]["sku"] == expensive["sku"]
    assert any(v["sku"] == expensive["sku"] for v in pinned.violations)
    with pytest.raises(UnknownProductError):
        assisted.pin(state, "NO-SUCH-SKU")


def test_lock_pedals_that_break_a_rule_then_confirm(assisted: AssistedAdvisor) -> None:
    state = beginner(assisted)
    recommendation = assisted.evaluate(state).recommendation
    assert recommendation is not None
    offer = next(
        o for o in recommendation.offers if any(i["role"] == "required" for i in o["items"])
    )
    bike = offer["items"][0]["sku"]
    options = assisted.component_options(state, bike, "pedals_for_bike_without")
    misfit = next(o for o in options if not o["fits"])
    fitting = [o for o in options if o["fits"]]
    assert fitting, "compatible alternatives are offered"
    assert all(o["attributes"].get("cleat_system") in {"flat", "spd"} for o in fitting)
    state, change = assisted.lock_component(state, bike, "pedals_for_bike_without", misfit["sku"])
    assert change.action == "lock_component"
    locked = assisted.evaluate(state).recommendation
    assert locked is not None
    first = locked.offers[0]
    assert first["items"][0]["sku"] == bike, "the bike is kept"
    assert misfit["sku"] in {i["sku"] for i in first["items"]}
    violation = next(v for v in locked.violations if v["sku"] == misfit["sku"])
    assert not violation["confirmed"]
    assert any(t["kind"] == "lock" for t in locked.trace)
    with pytest.raises(AssistError, match="note"):
        assisted.confirm(state, violation["key"], "   ")
    state, _ = assisted.confirm(state, violation["key"], "customer is buying SPD-SL shoes today")
    confirmed = assisted.evaluate(state).recommendation
    assert confirmed is not None
    assert next(v for v in confirmed.violations if v["key"] == violation["key"])["confirmed"]
    assert state.notes[violation["key"]].startswith("customer is buying")
    state, _ = assisted.unlock_component(state, bike, "pedals_for_bike_without")
    assert Locks.from_dict(state.locks).components == {}


def test_sessions_store_state_and_audit(demo_db: Engine, assisted: AssistedAdvisor) -> None:
    store = SessionStore(demo_db)
    state = assisted.start("road_bike")
    record = store.create(staff="anna", state=state, customer_name="  Mr  Weber ", note="phone")
    assert len(record.id) == 24 and record.customer_name == "Mr Weber"
    state, change = assisted.answer(state, "budget", text="2k")
    store.save(record.id, state, actor="anna", change=change)
    assert store.get(record.id).conversation_state().answers == {"budget": 2000.0}
    log = store.audit(record.id)
    assert [(e.actor, e.action) for e in log] == [("anna", "start"), ("anna", "answer")]
    assert log[1].detail["question"] == "budget"
    assert record.id in {s.id for s in store.recent(staff="anna")}
    with pytest.raises(UnknownSessionError):
        store.get("nope")
