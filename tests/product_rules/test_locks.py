"""Staff locks: pinned, excluded and chosen items, and the rules they break."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from product_rules.engine import AdviceEngine, Recommendation
from product_rules.errors import UnknownItemError
from product_rules.loader import load_all
from product_rules.locks import Locks
from product_rules.text import speaking
from tests.product_rules.test_expert import BEGINNER, add_compatibility

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"
PEDALS = "pedals_for_bike_without"
#: A 56 cm race bike at €1,599: over a beginner's €1,500 budget.
OVER_BUDGET = "BRW-RIP-3-56"
#: A 52 cm bike within budget: too small for 182 cm.
TOO_SMALL = "BRW-CST-3-52"


@pytest.fixture(scope="module")
def engine(demo_db: Engine) -> AdviceEngine:
    loaded, problems = load_all(RULES)
    assert problems == []
    return AdviceEngine(loaded["road_bike"].ruleset, demo_db)


@pytest.fixture(scope="module")
def plain(engine: AdviceEngine) -> Recommendation:
    return engine.recommend(BEGINNER)


def _mains(result: Recommendation) -> list[str]:
    return [o["items"][0]["sku"] for o in result.offers]


def _skus(result: Recommendation) -> set[str]:
    used = {i["sku"] for o in result.offers for i in o["items"]}
    return used | {c["sku"] for c in result.cross_sell}


def _locks(result: Recommendation) -> list[str]:
    return [e["message"] for e in result.trace if e["kind"] == "lock"]


# -- the Locks value -------------------------------------------------------------

FULL = Locks(
    pinned=("A-56", "B-56"),
    excluded=("C-56",),
    components={"A-56": {PEDALS: "P-1"}},
    confirmed=frozenset({"pin:A-56:fits_rider"}),
)


@pytest.mark.parametrize("locks", [Locks(), FULL], ids=["empty", "full"])
def test_locks_round_trip_through_json(locks: Locks) -> None:
    data = json.loads(json.dumps(locks.to_dict()))
    assert Locks.from_dict(data) == locks
    assert hash(Locks.from_dict(data)) == hash(locks)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, Locks()),
        ("pinned", Locks()),
        ({"pinned": "A-56"}, Locks()),
        ({"pinned": ["A-56", 3, "A-56", ""]}, Locks(pinned=("A-56",))),
        ({"components": {"A-56": {PEDALS: 7}, "B-56": "P-1"}}, Locks()),
        ({"confirmed": ["k", None], "extra": 1}, Locks(confirmed=frozenset({"k"}))),
    ],
    ids=["none", "text", "pinned-text", "pinned-mixed", "components-bad", "confirmed-mixed"],
)
def test_locks_from_dict_drops_unreadable_entries(data: Any, expected: Locks) -> None:
    assert Locks.from_dict(data) == expected


def test_locks_changes_return_new_locks() -> None:
    locks = Locks().pin("A-56").pin("B-56").exclude("B-56").choose("A-56", PEDALS, "P-1")
    assert locks.pinned == ("A-56",) and locks.excluded == ("B-56",)
    assert locks.components == {"A-56": {PEDALS: "P-1"}}
    assert locks.pin("B-56").excluded == () and locks.pin("B-56").pinned == ("A-56", "B-56")
    assert locks.choose("A-56", PEDALS, None).components == {}
    assert locks.confirm("k1", "k2").confirmed == {"k1", "k2"}
    assert not Locks() and locks
    with pytest.raises(TypeError):
        locks.components["A-56"][PEDALS] = "P-2"  # type: ignore[index]


# -- pinned ----------------------------------------------------------------------


def test_recommend_pinned_over_budget_bike_is_offer_one_with_budget_violation(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    result = engine.recommend(BEGINNER, Locks(pinned=(OVER_BUDGET,)))
    assert _mains(result)[0] == OVER_BUDGET
    assert len(result.offers) == 3
    assert _mains(result)[1:] == _mains(plain)[:2], "the engine fills the other places"
    assert [o["rank"] for o in result.offers] == [1, 2, 3]
    (violation,) = result.violations
    assert violation["kind"] == "budget" and violation["rule"] == "fits_budget"
    assert violation["key"] == f"budget:{OVER_BUDGET}:fits_budget"
    assert violation["main"] == violation["sku"] == OVER_BUDGET
    assert violation["detail"]["wanted"] == 1500
    assert violation["detail"]["over_by"] == pytest.approx(result.offers[0]["total_price"] - 1500)
    assert violation["confirmed"] is False
    assert not any("budget" in r for r in result.offers[0]["reasons"]), "no false reason"
    assert f"{OVER_BUDGET} pinned as offer 1" in _locks(result)


def test_recommend_pinned_bike_breaking_size_reports_hard_wish(engine: AdviceEngine) -> None:
    result = engine.recommend(BEGINNER, Locks(pinned=(TOO_SMALL,)))
    assert _mains(result)[0] == TOO_SMALL
    (violation,) = result.violations
    assert violation["key"] == f"pin:{TOO_SMALL}:fits_rider"
    assert violation["kind"] == "hard_wish"
    detail = violation["detail"]
    assert (detail["attribute"], detail["wanted"], detail["actual"]) == ("frame_size_cm", 56, 52)
    assert detail.get("source") == {"answer": "body_height_cm", "value": 182}
    assert all(e["sku"] != TOO_SMALL for e in result.excluded)


def test_recommend_pins_at_most_max_offers(engine: AdviceEngine, plain: Recommendation) -> None:
    pins = (OVER_BUDGET, TOO_SMALL, *_mains(plain)[2:], "NO-SUCH-SKU", "ARD-END-2-56")
    result = engine.recommend(BEGINNER, Locks(pinned=pins))
    assert _mains(result) == list(pins[:3])
    messages = _locks(result)
    assert "NO-SUCH-SKU pinned but not in the catalogue" in messages
    assert "ARD-END-2-56 pinned, not shown: 3 offers" in messages
    assert all(c["status"] != "offered" or c["sku"] in pins for c in result.candidates)


def test_recommend_pinned_candidate_keeps_its_pinned_rank(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    third = _mains(plain)[2]
    result = engine.recommend(BEGINNER, Locks(pinned=(third,)))
    assert _mains(result)[0] == third and result.violations == []
    entry = next(c for c in result.candidates if c["sku"] == third)
    assert (entry["status"], entry["offer_rank"]) == ("offered", 1)


# -- excluded --------------------------------------------------------------------


def test_recommend_excluding_top_offer_removes_it(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    top = _mains(plain)[0]
    result = engine.recommend(BEGINNER, Locks(excluded=(top,)))
    assert top not in _mains(result) and len(result.offers) == 3
    assert _mains(result)[:2] == _mains(plain)[1:]
    assert top not in {c["sku"] for c in result.candidates}
    assert top not in {e["sku"] for e in result.excluded}
    assert f"{top} excluded by staff" in _locks(result)


def test_recommend_excluded_items_are_never_required_items_or_cross_sell(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    used = {i["sku"] for o in plain.offers for i in o["items"] if i["role"] == "required"}
    helmets = {c["sku"] for c in plain.cross_sell if c["category"] == "helmet"}
    assert used and helmets
    result = engine.recommend(BEGINNER, Locks(excluded=(*used, *helmets)))
    assert _skus(result).isdisjoint(used | helmets)
    assert any(c["category"] == "helmet" for c in result.cross_sell), "another helmet"
    assert all(
        len(o["items"]) == len(p["items"]) for o, p in zip(result.offers, plain.offers, strict=True)
    )


def test_recommend_excluded_wins_over_pinned(engine: AdviceEngine) -> None:
    result = engine.recommend(BEGINNER, Locks(pinned=(OVER_BUDGET,), excluded=(OVER_BUDGET,)))
    assert OVER_BUDGET not in _mains(result) and result.violations == []
    assert f"{OVER_BUDGET} is pinned and excluded: excluded" in _locks(result)


# -- chosen components -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pedals", "cleat"),
    [("CDZ-PED-RS1", "spd_sl"), ("CLQ-PED-RT1", "look_keo")],
    ids=["spd-sl", "look-keo"],
)
def test_recommend_road_pedals_for_beginner_report_requirement_violation(
    engine: AdviceEngine, plain: Recommendation, pedals: str, cleat: str
) -> None:
    top = _mains(plain)[0]
    result = engine.recommend(BEGINNER, Locks(components={top: {PEDALS: pedals}}))
    offer = result.offers[0]
    assert _mains(result)[0] == top, "the bike stays"
    assert [i["sku"] for i in offer["items"] if i["role"] == "required"] == [pedals]
    assert offer["total_price"] == pytest.approx(sum(i["price"] for i in offer["items"]))
    (violation,) = result.violations
    assert violation["key"] == f"component:{top}:{PEDALS}:{pedals}"
    assert violation["kind"] == "requirement" and violation["sku"] == pedals
    detail = violation["detail"]
    assert detail["attribute"] == "cleat_system" and detail["op"] == "in"
    assert set(detail["wanted"]) == {"flat", "spd"} and detail["actual"] == cleat
    assert f"{top}: {pedals} chosen by staff (pedals)" in _locks(result)
    assert result.offers[1:] == plain.offers[1:]


def test_component_options_offer_fitting_pedals_first(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    top = _mains(plain)[0]
    locks = Locks(components={top: {PEDALS: "CDZ-PED-RS1"}}, excluded=("PWK-PED-FLC",))
    options = engine.component_options(BEGINNER, top, PEDALS, locks)
    assert 0 < len(options) <= 20
    assert "PWK-PED-FLC" not in {o["sku"] for o in options}
    fitting = [o for o in options if o["fits"]]
    assert {o["attributes"]["cleat_system"] for o in fitting} == {"flat", "spd"}
    assert all(o["problems"] == [] for o in fitting)
    misfits = [o for o in options if not o["fits"]]
    assert {o["attributes"]["cleat_system"] for o in misfits} == {"spd_sl", "look_keo"}
    assert all(o["problems"][0]["attribute"] == "cleat_system" for o in misfits)
    assert options == sorted(options, key=lambda o: (not o["fits"], not o["in_stock"]))


def test_component_options_for_clipless_shoes_fit_only_their_cleats(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    top = _mains(plain)[0]
    options = engine.component_options({**BEGINNER, "shoes_owned": "spd_sl"}, top, PEDALS)
    assert {o["attributes"]["cleat_system"] for o in options if o["fits"]} == {"spd_sl"}


@pytest.mark.parametrize(
    ("main", "requirement", "kind"),
    [("OST-BRS-3-56", "saddle", "requirement"), ("NO-SUCH-SKU", PEDALS, "product")],
    ids=["requirement", "product"],
)
def test_component_options_unknown_name_raises(
    engine: AdviceEngine, main: str, requirement: str, kind: str
) -> None:
    with pytest.raises(UnknownItemError, match=f"unknown {kind}") as raised:
        engine.component_options(BEGINNER, main, requirement)
    assert raised.value.kind == kind


def test_recommend_confirmed_violations_come_back_confirmed(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    top = _mains(plain)[0]
    locks = Locks(pinned=(OVER_BUDGET,), components={top: {PEDALS: "CDZ-PED-RS1"}})
    first = engine.recommend(BEGINNER, locks)
    keys = {v["key"] for v in first.violations}
    assert keys == {f"budget:{OVER_BUDGET}:fits_budget", f"component:{top}:{PEDALS}:CDZ-PED-RS1"}
    assert not any(v["confirmed"] for v in first.violations)
    confirmed = locks.confirm(f"component:{top}:{PEDALS}:CDZ-PED-RS1")
    again = engine.recommend(BEGINNER, Locks.from_dict(confirmed.to_dict()))
    state = {v["key"]: v["confirmed"] for v in again.violations}
    assert state == {
        f"budget:{OVER_BUDGET}:fits_budget": False,
        f"component:{top}:{PEDALS}:CDZ-PED-RS1": True,
    }


def test_recommend_chosen_pedals_on_bike_with_pedals_report_not_needed(
    engine: AdviceEngine,
) -> None:
    answers = {**BEGINNER, "budget": 700}
    bike = engine.recommend(answers).offers[0]["items"][0]
    assert bike["attributes"]["pedals_included"] is True
    locks = Locks(components={bike["sku"]: {PEDALS: "TGR-PED-CMT"}})
    result = engine.recommend(answers, locks)
    assert [i["sku"] for i in result.offers[0]["items"]] == [bike["sku"], "TGR-PED-CMT"]
    kinds = {v["kind"]: v for v in result.violations}
    assert set(kinds) == {"requirement", "budget"}, "and the pedals push it over €700"
    detail = kinds["requirement"]["detail"]
    assert (detail["attribute"], detail["wanted"], detail["actual"]) == (
        "pedals_included",
        False,
        True,
    )
    assert detail["other"] == bike["sku"]


def test_recommend_chosen_pedals_breaking_compatibility_report_it(
    demo_db: Engine, rules_copy: Path
) -> None:
    add_compatibility(rules_copy, "OST-BRS-3", "TGR-PED-CMT")
    loaded, problems = load_all(rules_copy)
    assert problems == []
    engine = AdviceEngine(loaded["road_bike"].ruleset, demo_db)
    main = "OST-BRS-3-56"
    result = engine.recommend(BEGINNER, Locks(components={main: {PEDALS: "PWK-PED-FLC"}}))
    offer = next(o for o in result.offers if o["items"][0]["sku"] == main)
    assert offer["items"][1]["sku"] == "PWK-PED-FLC"
    (violation,) = result.violations
    assert violation["key"] == f"compatibility:{main}:PWK-PED-FLC:{main}:pedals_fit_bike"
    assert violation["kind"] == "compatibility"
    assert violation["detail"]["wanted"] == "OST-BRS-3"
    options = {o["sku"]: o for o in engine.component_options(BEGINNER, main, PEDALS)}
    assert options["TGR-PED-CMT"]["fits"] and not options["PWK-PED-FLC"]["fits"]
    assert options["PWK-PED-FLC"]["problems"][0]["kind"] == "compatibility"


def test_recommend_chosen_item_not_in_catalogue_falls_back_to_engine_pick(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    top = _mains(plain)[0]
    result = engine.recommend(BEGINNER, Locks(components={top: {PEDALS: "NO-SUCH-PEDAL"}}))
    assert result.offers == plain.offers and result.violations == []
    assert f"{top}: NO-SUCH-PEDAL chosen by staff, not in the catalogue" in _locks(result)


def test_recommend_without_locks_is_unchanged(engine: AdviceEngine, plain: Recommendation) -> None:
    result = engine.recommend(BEGINNER, Locks())
    assert result.payload() == plain.payload() and result.trace == plain.trace
    assert _locks(result) == []


def test_recommend_traces_staff_locks_in_the_step_language(
    engine: AdviceEngine, plain: Recommendation
) -> None:
    pins = (OVER_BUDGET, "NO-SUCH-SKU")
    with speaking("de"):
        result = engine.recommend(BEGINNER, Locks(pinned=pins, excluded=(_mains(plain)[0],)))
    messages = _locks(result)
    assert f"{OVER_BUDGET} als Angebot 1 festgelegt" in messages
    assert "NO-SUCH-SKU festgelegt, aber nicht im Katalog" in messages
    assert f"{_mains(plain)[0]} vom Personal ausgeschlossen" in messages
    preferences = [e["message"] for e in result.trace if e["kind"] == "preference"]
    assert preferences == ["geometry in ['endurance'] (Gewicht 3)"], preferences


def test_score_parts_are_labelled_in_the_step_language(engine: AdviceEngine) -> None:
    with speaking("de"):
        german = engine.recommend(BEGINNER)
    english = engine.recommend(BEGINNER)

    def labels(result: Recommendation) -> dict[str, str]:
        return {p["part"]: p["label"] for c in result.candidates for p in c["parts"]}

    assert labels(english)["in_stock"] == "in stock"
    assert labels(german)["in_stock"] == "vorrätig"
    assert labels(german)["margin"] == "Marge"
