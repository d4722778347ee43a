"""The advisor's step without Rasa: state transitions, answer changes, explanations."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from advisor.service import Advisor, Turn
from advisor.state import ConversationState, LastOffers
from tests.advisor.conftest import BEGINNER, Talk


def titles(talk: Talk) -> list[str]:
    return [b.title for p in talk.reply.parts for b in p.buttons]


def test_step_starts_and_asks_first_question(talk: Talk) -> None:
    talk("I want a road bike", "request_advice")
    assert talk.state.ruleset == "road_bike"
    assert talk.state.question == "usage"
    assert "What will you mostly use the bike for?" in talk.reply.text
    assert "Long rides and fitness" in titles(talk)


def test_step_takes_several_answers_from_one_message(talk: Talk) -> None:
    talk("I'm a total newbie looking for a road bike for about 1.5k, I'm 1,82 m", "request_advice")
    assert talk.state.answers == {
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
    }
    assert talk.state.question == "usage"
    assert talk.reply.text.splitlines()[1].startswith("Got it")


@pytest.mark.parametrize(
    ("first", "kept"),
    [
        ("long rides", {"usage": "endurance"}),
        ("beginner", {"experience": "beginner"}),
        ("1500", {"budget": 1500.0}),
        ("yes", {}),
        ("no", {}),
    ],
    ids=["usage", "experience", "bare-budget", "yes", "no"],
)
def test_step_first_message_is_an_answer(talk: Talk, first: str, kept: dict[str, object]) -> None:
    talk(first, "inform")
    assert "What are you looking for?" in talk.reply.text
    assert "Road bike" in titles(talk)
    if kept:
        assert f'"{first}"' in talk.reply.text, "the answer is said back"
    talk("/request_advice", "request_advice", ruleset="road_bike")
    assert talk.state.ruleset == "road_bike"
    assert talk.state.answers == kept, "an early answer is used once the product is chosen"
    assert talk.state.question not in kept
    assert talk.state.pending == []


@pytest.mark.parametrize(
    ("first", "kept"),
    [
        ("a road bike under 2000", {"budget": 2000.0}),
        ("road bike, max 2000", {"budget": 2000.0}),
        ("I'm 1,75 m and want a road bike under 2000", {"body_height_cm": 175.0, "budget": 2000.0}),
        ("a road bike with Shimano 105", {}),
        ("a road bike for my 12 year old", {}),
    ],
    ids=["under-amount", "max-amount", "height-and-amount", "groupset-number", "small-number"],
)
def test_step_bare_amount_with_the_product_is_the_budget(
    talk: Talk, first: str, kept: dict[str, object]
) -> None:
    talk(first, "request_advice")
    assert talk.state.ruleset == "road_bike"
    assert talk.state.answers == kept
    assert talk.state.question == "usage"
    if kept:
        assert "Got it: " in talk.reply.text and "budget €2,000" in talk.reply.text
    else:
        assert "Got it" not in talk.reply.text
        assert "budget" not in talk.reply.text.lower()


def test_step_early_height_and_amount_both_kept(talk: Talk) -> None:
    talk("I'm 1,75 m, nothing over 2000", "inform")
    assert "What are you looking for?" in talk.reply.text
    talk("/request_advice", "request_advice", ruleset="road_bike")
    assert talk.state.answers == {"body_height_cm": 175.0, "budget": 2000.0}
    assert talk.state.question == "usage"


def test_step_button_answer_then_offers(advisor: Advisor) -> None:
    talk = Talk(
        advisor,
        ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned"),
    )
    talk('/inform{"choice":"none"}', "inform", choice="none")
    assert talk.state.question is None
    offers = talk.offers()
    assert offers is not None
    assert offers["answers"]["shoes_owned"] == "none"
    assert 1 <= len(offers["offers"]) <= 3
    assert talk.state.last is not None and talk.state.last.offers[0]["reasons"]
    assert "Here are my top 3 picks" in talk.reply.text


def test_step_not_understood_keeps_answers(advisor: Advisor) -> None:
    before = ConversationState(
        ruleset="road_bike", question="experience", answers={"usage": "racing"}
    )
    talk = Talk(advisor, before)
    talk("🚲🔥", "nlu_fallback")
    assert talk.state == before, "nothing is lost"
    assert talk.reply.text.startswith("Sorry, I didn't quite get that.")
    assert titles(talk)


def test_step_out_of_range_budget_reasks(advisor: Advisor) -> None:
    state = ConversationState(
        ruleset="road_bike", question="budget", answers={"usage": "racing", "experience": "racer"}
    )
    talk = Talk(advisor, state)
    talk("my budget is 50 euros")
    assert "between €200 and €20,000" in talk.reply.text
    assert talk.state.question == "budget"
    assert "budget" not in talk.state.answers


def test_step_change_answer_recomputes_offers(advisor: Advisor) -> None:
    talk = Talk(
        advisor,
        ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned"),
    )
    talk("no, just trainers", "deny")
    first = talk.offers()
    talk("my budget is 3000", "change_answer")
    second = talk.offers()
    assert first is not None and second is not None
    assert talk.state.answers["budget"] == 3000.0
    assert second["answers"]["budget"] == 3000.0
    assert max(o["total_price"] for o in second["offers"]) > 1500


def test_step_change_answer_by_name_reasks(advisor: Advisor) -> None:
    talk = Talk(
        advisor,
        ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned"),
    )
    talk("I want to change my budget", "change_answer")
    assert talk.state.question == "budget"
    assert "budget" not in talk.state.answers
    assert "budget" in talk.reply.text.lower()


def test_step_database_down_says_try_again(
    advisor: Advisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = advisor.registry.get("road_bike")

    def broken(*_args: object, **_kwargs: object) -> object:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(served.engine, "recommend", broken)
    talk = Talk(
        advisor,
        ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned"),
    )
    talk("no")
    assert "try again" in talk.reply.text
    assert talk.state.answers["shoes_owned"] == "none"


def test_step_explains_term_and_reasons(advisor: Advisor) -> None:
    talk = Talk(advisor, ConversationState(ruleset="road_bike", question="usage"))
    talk("what is SPD?", "explain_term")
    assert "Shimano" in talk.reply.text
    assert "What will you mostly use the bike for?" in talk.reply.text
    talk = Talk(
        advisor,
        ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned"),
    )
    talk("no")
    talk("why this one", "ask_why")
    assert talk.reply.text.startswith("1. ")
    assert "Frame 56 cm fits your height of 182 cm" in talk.reply.text


def test_a_short_answer_misread_as_a_term_question_is_taken(advisor: Advisor) -> None:
    """ "look keo please" at the shoes question answers it, whatever the classifier says."""
    state = ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned")
    talk = Talk(advisor, state)
    talk("look keo please", "explain_term")
    assert talk.state.answers["shoes_owned"] == "look_keo"
    assert talk.offers() is not None


def test_a_term_question_is_still_explained_at_the_question(advisor: Advisor) -> None:
    state = ConversationState(ruleset="road_bike", answers=dict(BEGINNER), question="shoes_owned")
    talk = Talk(advisor, state)
    talk("what is spd?", "explain_term")
    assert "Shimano" in talk.reply.text
    assert "shoes_owned" not in talk.state.answers


def test_a_first_message_misread_as_off_topic_keeps_its_answer(advisor: Advisor) -> None:
    talk = Talk(advisor)
    talk("what do you recommend for a beginner?", "out_of_scope")
    assert talk.state.pending == ["what do you recommend for a beginner?"]
    assert "Road bike" in titles(talk)
    talk = Talk(advisor)
    talk("what's the weather like", "out_of_scope")
    assert talk.state.pending == []
    assert "I can only help with choosing bikes" in talk.reply.text


def test_step_greet_restart_out_of_scope(advisor: Advisor) -> None:
    talk = Talk(advisor)
    talk("hello there", "greet")
    assert "Road bike" in titles(talk)
    talk = Talk(
        advisor,
        ConversationState(ruleset="road_bike", question="budget", answers={"usage": "racing"}),
    )
    talk("what's the weather like", "out_of_scope")
    assert "budget" in talk.reply.text
    talk("start over", "start_over")
    assert talk.state == ConversationState()
    assert "start over" in talk.reply.text


@pytest.mark.parametrize(("confidence", "restarted"), [(0.45, False), (0.99, True), (None, True)])
def test_step_restarts_only_on_a_confident_start_over(
    advisor: Advisor, confidence: float | None, restarted: bool
) -> None:
    state = ConversationState(ruleset="road_bike", question="budget", answers={"usage": "racing"})
    after, reply = advisor.step(state, Turn("NULL", "start_over", confidence=confidence))
    if restarted:
        assert after == ConversationState() and "start over" in reply.text
    else:
        assert after.answers == {"usage": "racing"} and after.question == "budget"
        assert reply.text.startswith("Sorry, I didn't quite get that."), reply.text
        assert "budget" in reply.text


@pytest.mark.parametrize(
    ("text", "intent", "answer"),
    [
        ("endurance", "out_of_scope", "endurance"),
        ("racing please", "human_handoff", "racing"),
        ("commuting please", "start_over", "commute"),
    ],
    ids=["off-topic", "handoff", "restart"],
)
def test_step_short_answer_wins_over_control_intent(
    advisor: Advisor, text: str, intent: str, answer: str
) -> None:
    talk = Talk(advisor, ConversationState(ruleset="road_bike", question="usage"))
    talk(text, intent)
    assert talk.state.answers == {"usage": answer}
    assert talk.state.question == "experience"


def test_step_handoff_issues_a_code_not_the_conversation_id(advisor: Advisor) -> None:
    talk = Talk(advisor, ConversationState(ruleset="road_bike", question="usage"))
    talk.state, talk.reply = advisor.step(
        talk.state, Turn("can I talk to a person", "human_handoff", conversation="conv-123")
    )
    handoff = next(p for p in talk.reply.payloads if p["type"] == "handoff")
    code = handoff["code"]
    assert len(code) == 6 and code != "conv-123"
    assert code in talk.reply.text
    assert advisor.codes is not None
    record = advisor.codes.get(code)
    assert record.conversation == "conv-123"
    assert record.conversation_state().ruleset == "road_bike"


def test_step_resume_shared_configuration(advisor: Advisor) -> None:
    assert advisor.codes is not None
    shared = ConversationState(ruleset="road_bike", answers={**BEGINNER, "shoes_owned": "none"})
    code = advisor.codes.issue(kind="share", state=shared, created_by="anna").code
    talk = Talk(advisor)
    talk(f'/resume_shared{{"code":"{code}"}}', "resume_shared", code=code)
    assert talk.state.answers == shared.answers
    offers = talk.offers()
    assert offers is not None and offers["offers"]
    talk("my code is QQQQQ2", "resume_shared")
    assert "can't find a configuration" in talk.reply.text


def test_step_budget_too_low_is_loosened_and_said(advisor: Advisor) -> None:
    talk = Talk(
        advisor,
        ConversationState(
            ruleset="road_bike", answers={**BEGINNER, "budget": 250.0}, question="shoes_owned"
        ),
    )
    talk("no")
    offers = talk.offers()
    assert offers is not None and offers["offers"]
    assert "loosened" in talk.reply.text
    assert any("budget" in r for r in offers["offers"][0]["relaxed"])


def test_step_relaxation_button_changes_answers(advisor: Advisor) -> None:
    last = LastOffers(relax_choices=[None, {"budget": 2000.0}])
    state = ConversationState(
        ruleset="road_bike", answers={**BEGINNER, "budget": 250.0, "shoes_owned": "none"}, last=last
    )
    talk = Talk(advisor, state)
    talk('/inform{"choice":"relax-1"}', "inform", choice="relax-1")
    assert talk.state.answers["budget"] == 2000.0
    offers = talk.offers()
    assert offers is not None and offers["answers"]["budget"] == 2000.0
    talk('/inform{"choice":"relax-7"}', "inform", choice="relax-7")
    assert talk.state.answers["budget"] == 2000.0, "a stale button changes nothing"
    assert talk.reply.text.startswith("Sorry, I didn't quite get that.")


def test_state_round_trips_and_survives_junk() -> None:
    state = ConversationState(
        ruleset="road_bike", answers={"budget": 900.0}, pending=["x"], question="usage"
    )
    assert ConversationState.from_dict(state.to_dict()) == state
    for junk in (None, "nonsense", 3, {"answers": None, "channel": "telepathy"}):
        assert ConversationState.from_dict(junk).ruleset is None


def test_step_expert_view_only_for_staff(advisor: Advisor) -> None:
    answers = {**BEGINNER, "shoes_owned": "none"}
    served = advisor.registry.get("road_bike")
    chat = advisor.recommend(ConversationState(ruleset="road_bike", answers=answers), served)
    console = advisor.recommend(
        ConversationState(ruleset="road_bike", answers=answers, channel="console"), served
    )
    assert chat.candidates == [] and chat.excluded == []
    assert console.candidates and console.excluded
    assert chat.payload() == console.payload(), "shoppers and staff see the same offers"


@pytest.mark.parametrize(
    ("count", "said"), [(1, "(1 model)"), (2, "(2 models)"), (0, "(0 models)")]
)
def test_relax_button_counts_models_in_words(count: int, said: str) -> None:
    from advisor.render import render

    choice = {"relax": ["your budget: up to €629 instead of €400"], "count": count}
    assert render("relax_button", choice=choice).endswith(said)
