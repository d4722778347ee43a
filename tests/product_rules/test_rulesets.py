"""The shipped rule sets: they load cleanly, are found by name and advise on their category."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from product_rules.engine import AdviceEngine
from product_rules.loader import LoadedRuleSet, load_all
from product_rules.parsing import AnswerParser, rule_set_for
from product_rules.schema import RuleSet

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"

SHIPPED = ("road_bike", "gravel_bike", "city_bike", "e_bike")

#: A typical shopper per rule set: every question answered.
TYPICAL: dict[str, dict[str, Any]] = {
    "road_bike": {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500,
        "body_height_cm": 182,
        "shoes_owned": "none",
    },
    "gravel_bike": {
        "riding": "mixed",
        "terrain": "mixed_surface",
        "experience": "beginner",
        "budget": 1500,
        "body_height_cm": 178,
        "shoes_owned": "none",
    },
    "city_bike": {
        "usage": "commute",
        "hills": "some_hills",
        "carry_bike": False,
        "budget": 900,
        "body_height_cm": 182,
    },
    "e_bike": {"usage": "commute", "range": "medium_range", "budget": 3000, "body_height_cm": 175},
}

#: Ways shoppers name each kind of bike when they start.
PHRASINGS: list[tuple[str, str]] = [
    ("I want a road bike", "road_bike"),
    ("looking for a racing bike for the summer", "road_bike"),
    ("which endurance bike would you recommend?", "road_bike"),
    ("I want a gravel bike", "gravel_bike"),
    ("looking for a bikepacking bike", "gravel_bike"),
    ("do you have all-road bikes?", "gravel_bike"),
    ("Gravel bikes please", "gravel_bike"),
    ("I need a city bike", "city_bike"),
    ("a commuter bike for getting to the office", "city_bike"),
    ("something like a Dutch bike", "city_bike"),
    ("a town bike for shopping", "city_bike"),
    ("I want an e-bike", "e_bike"),
    ("do you sell ebikes?", "e_bike"),
    ("an electric bike for my commute", "e_bike"),
    ("a pedelec for my mum", "e_bike"),
    ("an electric city bike", "e_bike"),
    ("I'm after an e-MTB", "e_bike"),
    ("not an e-bike, a normal city bike", "city_bike"),
]


@pytest.fixture(scope="module")
def loaded() -> dict[str, LoadedRuleSet]:
    rulesets, problems = load_all(RULES)
    assert problems == [], "\n".join(str(p) for p in problems)
    return rulesets


@pytest.fixture(scope="module")
def rulesets(loaded: dict[str, LoadedRuleSet]) -> list[RuleSet]:
    return [item.ruleset for item in loaded.values()]


def test_every_shipped_ruleset_loads_without_problems(loaded: dict[str, LoadedRuleSet]) -> None:
    assert set(SHIPPED) <= set(loaded)
    for ruleset_id in SHIPPED:
        ruleset = loaded[ruleset_id].ruleset
        assert ruleset.id == ruleset_id
        assert ruleset.category == ruleset_id
        assert ruleset.intro and ruleset.title and ruleset.synonyms
        assert ruleset.glossary and ruleset.cross_sell and ruleset.alerts


@pytest.mark.parametrize("ruleset_id", SHIPPED)
def test_shared_questions_keep_their_ids_and_units(
    loaded: dict[str, LoadedRuleSet], ruleset_id: str
) -> None:
    ruleset = loaded[ruleset_id].ruleset
    assert 4 <= len(ruleset.questions) <= 6
    budget = ruleset.question("budget")
    height = ruleset.question("body_height_cm")
    assert budget is not None and budget.type == "number" and budget.unit == "EUR"
    assert height is not None and height.type == "number" and height.unit == "cm"


@pytest.mark.parametrize("ruleset_id", SHIPPED)
def test_option_words_are_not_taken_by_the_product_names(
    loaded: dict[str, LoadedRuleSet], ruleset_id: str
) -> None:
    # The parser keeps a rule set's own names ("bikepacking bike") from answering
    # questions, so an option synonym equal to one of them could never be matched.
    ruleset = loaded[ruleset_id].ruleset
    names = {n.lower() for n in (ruleset.title, ruleset.category.replace("_", " "))}
    names |= {s.lower() for s in ruleset.synonyms}
    for question in ruleset.questions:
        for option in question.options:
            clash = names.intersection(s.lower() for s in (option.label, *option.synonyms))
            assert not clash, f"{question.id}.{option.id}: {sorted(clash)}"


@pytest.mark.parametrize(("text", "expected"), PHRASINGS, ids=[t for t, _ in PHRASINGS])
def test_rule_set_for_picks_the_named_bike(
    rulesets: list[RuleSet], text: str, expected: str
) -> None:
    assert rule_set_for(text, rulesets) == expected


@pytest.mark.parametrize(
    "text",
    ["I want a helmet", "I'm looking for a bike", "mostly roads with a bit of gravel"],
)
def test_rule_set_for_names_no_bike_when_none_is_named(rulesets: list[RuleSet], text: str) -> None:
    assert rule_set_for(text, rulesets) is None


@pytest.mark.parametrize("ruleset_id", SHIPPED)
def test_volunteered_height_and_budget_are_read_in_every_ruleset(
    loaded: dict[str, LoadedRuleSet], ruleset_id: str
) -> None:
    parser = AnswerParser(loaded[ruleset_id].ruleset)
    result = parser.parse("I'm 1.80 m tall and can spend about 2k")
    assert result.answers.get("body_height_cm") == pytest.approx(180)
    assert result.answers.get("budget") == pytest.approx(2000)


@pytest.mark.parametrize("ruleset_id", SHIPPED)
def test_typical_persona_gets_offers_of_the_rulesets_category(
    loaded: dict[str, LoadedRuleSet], demo_db: Engine, ruleset_id: str
) -> None:
    ruleset = loaded[ruleset_id].ruleset
    answers = TYPICAL[ruleset_id]
    assert {q.id for q in ruleset.questions if q.ask_if is None} <= set(answers)
    result = AdviceEngine(ruleset, demo_db).recommend(answers)
    assert 1 <= len(result.offers) <= 3
    assert result.relaxed == []
    for offer in result.offers:
        (main,) = [item for item in offer["items"] if item["role"] == "main"]
        assert main["category"] == ruleset.category
        assert offer["total_price"] <= answers["budget"]
        assert offer["reasons"], "every offer says why"
    assert result.cross_sell, "accessories are suggested beside the offers"


@pytest.mark.parametrize("ruleset_id", ["road_bike", "gravel_bike"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [("ich bin neu", "beginner"), ("bin noch neu", "beginner"), ("ich suche ein neues Rad", None)],
)
def test_german_i_am_new_is_a_beginner_but_a_new_bike_is_not(
    loaded: dict[str, LoadedRuleSet], ruleset_id: str, text: str, expected: str | None
) -> None:
    german = loaded[ruleset_id].localized("de").ruleset
    parser = AnswerParser(german, languages=("de",))
    assert parser.parse(text, current="experience").answers.get("experience") == expected
