from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from product_rules.engine import AdviceEngine
from product_rules.loader import load_all

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"

BEGINNER = {
    "usage": "endurance",
    "experience": "beginner",
    "budget": 1500,
    "body_height_cm": 182,
    "shoes_owned": "none",
}
RACER_LOOK = {
    "usage": "racing",
    "experience": "racer",
    "budget": 4000,
    "body_height_cm": 175,
    "shoes_owned": "look_keo",
}


@pytest.fixture(scope="module")
def engine(demo_db: Engine) -> AdviceEngine:
    loaded, problems = load_all(RULES)
    assert problems == []
    return AdviceEngine(loaded["road_bike"].ruleset, demo_db)


def _required(offer: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in offer["items"] if i["role"] == "required"]


def test_recommend_beginner_gets_ready_to_ride_offers(engine: AdviceEngine) -> None:
    result = engine.recommend(BEGINNER)
    assert 1 <= len(result.offers) <= 3
    assert result.relaxed == []
    models = set()
    for rank, offer in enumerate(result.offers, start=1):
        main = offer["items"][0]
        assert offer["rank"] == rank
        assert main["role"] == "main" and main["category"] == "road_bike"
        assert main["attributes"]["frame_size_cm"] == 56
        assert offer["total_price"] <= 1500
        assert offer["total_price"] == pytest.approx(sum(i["price"] for i in offer["items"]))
        if not main["attributes"].get("pedals_included"):
            (pedals,) = _required(offer)
            assert pedals["category"] == "pedals"
            assert pedals["attributes"]["cleat_system"] in {"flat", "spd"}
        assert offer["reasons"], "every offer says why"
        models.add(main["name"])
    assert len(models) == len(result.offers), "offers are distinct models"


def test_recommend_racer_with_look_keo_shoes_gets_matching_pedals(engine: AdviceEngine) -> None:
    result = engine.recommend(RACER_LOOK)
    assert len(result.offers) == 3
    for offer in result.offers:
        main = offer["items"][0]
        assert main["attributes"]["frame_size_cm"] == 54
        assert main["attributes"]["geometry"] in {"race", "aero"}
        for pedals in _required(offer):
            assert pedals["attributes"]["cleat_system"] == "look_keo"
        assert offer["total_price"] <= 4000


def test_recommend_budget_too_low_relaxes_instead_of_nothing(engine: AdviceEngine) -> None:
    result = engine.recommend({**BEGINNER, "budget": 250})
    assert result.offers, "never returns nothing"
    assert any("budget" in r for r in result.relaxed)
    assert all(o["relaxed"] == result.relaxed for o in result.offers)
    prices = [o["total_price"] for o in result.offers]
    assert max(prices) < 1000, "over budget the cheapest bikes come first"
    assert all(o["items"][0]["attributes"]["frame_size_cm"] == 56 for o in result.offers)


def test_recommend_cross_sell_follows_rules(engine: AdviceEngine) -> None:
    commute = engine.recommend({**BEGINNER, "usage": "commute"})
    categories = [c["category"] for c in commute.cross_sell]
    assert "helmet" in categories and "lights" in categories and "lock" in categories
    offered = {i["sku"] for o in commute.offers for i in o["items"]}
    assert offered.isdisjoint(c["sku"] for c in commute.cross_sell)
    assert all(c["reason"] for c in commute.cross_sell)
    racing = engine.recommend(RACER_LOOK)
    assert "lights" not in [c["category"] for c in racing.cross_sell]


def test_recommend_payload_matches_contract(engine: AdviceEngine) -> None:
    payload = engine.recommend(BEGINNER).payload()
    assert payload["type"] == "offers"
    assert payload["answers"] == BEGINNER
    offer = payload["offers"][0]
    assert set(offer) == {
        "rank",
        "title",
        "total_price",
        "currency",
        "items",
        "reasons",
        "relaxed",
        "alerts",
    }
    assert set(offer["items"][0]) == {
        "sku",
        "name",
        "category",
        "role",
        "price",
        "in_stock",
        "attributes",
    }
    assert set(payload["cross_sell"][0]) == {"sku", "name", "category", "price", "reason"}


def test_recommend_trace_names_rules(engine: AdviceEngine) -> None:
    trace = engine.recommend(BEGINNER).trace
    rules = {entry["rule"] for entry in trace}
    assert {
        "frame_size_cm",
        "fits_budget",
        "fits_rider",
        "pedals_for_bike_without",
        "helmet",
    } <= rules


@pytest.mark.parametrize(
    ("height", "size"),
    [
        (150, 47),
        (160, 49),
        (170, 52),
        (175, 54),
        (182, 56),
        (185.4, 58),
        (191, 60),
        (200, 62),
        (230, 62),
    ],
    ids=["150", "160", "170", "175", "182", "185.4", "191", "200", "above-table"],
)
def test_derive_frame_size_from_height(engine: AdviceEngine, height: float, size: int) -> None:
    assert engine.derive({"body_height_cm": height})["frame_size_cm"] == size


def test_next_question_follows_order_and_skips_answered(engine: AdviceEngine) -> None:
    question = engine.next_question({})
    assert question is not None and question.id == "usage"
    question = engine.next_question({"usage": "racing", "budget": 2000})
    assert question is not None and question.id == "experience"
    assert engine.next_question(BEGINNER) is None


def test_available_options_drops_options_nothing_can_satisfy(
    demo_db: Engine, rules_copy: Path
) -> None:
    filters = rules_copy / "road_bike" / "filters.yml"
    text = filters.read_text()
    # Make the geometry wish hard: then an option is only offered if some bike in stock
    # has that geometry within the answers given so far.
    filters.write_text(text.replace("    hard: false\n    weight: 3.0", "    weight: 3.0", 1))
    loaded, problems = load_all(rules_copy)
    assert problems == []
    engine = AdviceEngine(loaded["road_bike"].ruleset, demo_db)
    usage = engine.ruleset.question("usage")
    assert usage is not None
    everything = [o.id for o in engine.available_options(usage, {})]
    assert everything == ["endurance", "racing", "commute"]
    cheap = [o.id for o in engine.available_options(usage, {"budget": 700, "body_height_cm": 182})]
    assert "racing" not in cheap and "endurance" in cheap


def test_recommend_offers_relaxation_choices_with_counts(demo_db: Engine, rules_copy: Path) -> None:
    filters = rules_copy / "road_bike" / "filters.yml"
    filters.write_text(
        filters.read_text()
        + """
  - id: carbon_frame
    label: a carbon frame
    attribute: frame_material
    value: carbon
    importance: 3
    relax:
      - substitute: {carbon: [titanium]}
"""
    )
    loaded, problems = load_all(rules_copy)
    assert problems == []
    engine = AdviceEngine(loaded["road_bike"].ruleset, demo_db)
    result = engine.recommend({**BEGINNER, "budget": 1200})
    assert result.offers
    assert result.relaxation is not None
    choices = result.relaxation["choices"]
    assert len(choices) >= 2, choices
    assert choices[0]["applied"] and not any(c["applied"] for c in choices[1:])
    assert all(c["count"] > 0 for c in choices)
    labels = {f for c in choices for f in c["filters"]}
    assert {"carbon_frame", "fits_budget"} <= labels
    assert result.relaxed == choices[0]["relax"]
    assert all(o["relaxed"] == result.relaxed for o in result.offers)


RACER_NO_SHOES = {
    "usage": "racing",
    "experience": "racer",
    "budget": 5000,
    "body_height_cm": 178,
    "shoes_owned": "none",
}


def test_cross_sell_shoes_fit_the_offered_pedals(engine: AdviceEngine, demo_db: Engine) -> None:
    from sqlmodel import Session, select

    from catalog.models import Product

    result = engine.recommend(RACER_NO_SHOES)
    shoes = [c for c in result.cross_sell if c["category"] == "shoes"]
    assert shoes, result.cross_sell
    pedal_cleats = {
        i["attributes"]["cleat_system"]
        for o in result.offers
        for i in o["items"]
        if i["category"] == "pedals"
    }
    with Session(demo_db) as session:
        for item in shoes:
            product = session.exec(select(Product).where(Product.sku == item["sku"])).one()
            assert {product.cleat_system} == pedal_cleats


def test_compatibility_pairs_table_rules_out_other_models(
    demo_db: Engine, rules_copy: Path
) -> None:
    compat = rules_copy / "road_bike" / "compatibility.yml"
    compat.write_text(
        compat.read_text().replace(
            "    equal: cleat_system", "    pairs:\n      - [NO-SUCH-SHOE, NO-SUCH-PEDAL]"
        )
    )
    loaded, problems = load_all(rules_copy)
    assert problems == []
    result = AdviceEngine(loaded["road_bike"].ruleset, demo_db).recommend(RACER_NO_SHOES)
    assert not [c for c in result.cross_sell if c["category"] == "shoes"]
    assert any(
        e["kind"] == "compatibility" and "does not fit" in e["message"] for e in result.trace
    )


def test_alerts_warn_but_allow(engine: AdviceEngine) -> None:
    result = engine.recommend({**BEGINNER, "usage": "commute", "budget": 760})
    flagged = [o for o in result.offers if o["alerts"]]
    for offer in flagged:
        assert offer["items"][0]["attributes"]["brake_type"] == "rim"
        assert offer["alerts"] == ["Rim brakes stop less well in the wet than disc brakes."]
    assert flagged, [o["items"][0]["attributes"] for o in result.offers]
