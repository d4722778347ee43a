"""The expert view: candidates with score parts that add up, exclusions with reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog.models import Product
from product_rules.breaches import budget_breach, wish_breach
from product_rules.engine import AdviceEngine, Recommendation
from product_rules.loader import load_all
from product_rules.schema import Filter, Relaxation
from product_rules.wishes import Wish

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"

BEGINNER = {
    "usage": "endurance",
    "experience": "beginner",
    "budget": 1500,
    "body_height_cm": 182,
    "shoes_owned": "none",
}
ANSWERS = {
    "beginner": BEGINNER,
    "racer-look": {
        "usage": "racing",
        "experience": "racer",
        "budget": 4000,
        "body_height_cm": 175,
        "shoes_owned": "look_keo",
    },
    "commuter-tight": {**BEGINNER, "usage": "commute", "budget": 760, "body_height_cm": 170},
    "budget-relaxed": {**BEGINNER, "budget": 250},
    "tall-relaxed": {**BEGINNER, "body_height_cm": 230, "budget": 600},
    "no-budget": {"usage": "endurance", "body_height_cm": 182},
}


@pytest.fixture(scope="module")
def engine(demo_db: Engine) -> AdviceEngine:
    loaded, problems = load_all(RULES)
    assert problems == []
    return AdviceEngine(loaded["road_bike"].ruleset, demo_db)


@pytest.fixture(scope="module")
def results(engine: AdviceEngine) -> dict[str, Recommendation]:
    return {name: engine.recommend(answers) for name, answers in ANSWERS.items()}


CASES = pytest.mark.parametrize("case", list(ANSWERS), ids=list(ANSWERS))


def add_compatibility(rules: Path, bike: str, pedals: str) -> None:
    """Let only ``bike`` (a model) take pedals, and only the model ``pedals``."""
    compat = rules / "road_bike" / "compatibility.yml"
    rule = f"""  - id: pedals_fit_bike
    label: pedals that fit the bike
    categories: [road_bike, pedals]
    pairs:
      - [{bike}, {pedals}]

# Warn, but allow."""
    compat.write_text(compat.read_text().replace("\n# Warn, but allow.", "\n" + rule, 1))


# -- candidates ------------------------------------------------------------------


@CASES
def test_recommend_candidate_parts_add_up_to_score(
    results: dict[str, Recommendation], case: str
) -> None:
    candidates = results[case].candidates
    assert candidates
    for entry in candidates:
        total = sum(part["points"] for part in entry["parts"])
        assert total == pytest.approx(entry["score"], abs=1e-6), entry
        assert {"in_stock", "margin"} <= {part["part"] for part in entry["parts"]}
        assert all(part["label"] for part in entry["parts"])


@CASES
def test_recommend_candidates_in_ranking_order(
    results: dict[str, Recommendation], case: str
) -> None:
    scores = [entry["score"] for entry in results[case].candidates]
    # Ties are broken by price in SQL; rounding to 3 decimals may merge near-ties.
    assert all(a >= b - 1e-3 for a, b in zip(scores, scores[1:], strict=False)), scores


@CASES
def test_recommend_offered_candidates_match_offers(
    results: dict[str, Recommendation], case: str
) -> None:
    result = results[case]
    offered = {c["offer_rank"]: c["sku"] for c in result.candidates if c["status"] == "offered"}
    assert offered == {o["rank"]: o["items"][0]["sku"] for o in result.offers}
    ranks = [c["offer_rank"] or 0 for c in result.candidates if c["status"] == "offered"]
    assert ranks == sorted(ranks), "offers follow the ranking"
    assert all(c["offer_rank"] is None for c in result.candidates if c["status"] != "offered")


@CASES
def test_recommend_candidate_status_says_why_not_offered(
    results: dict[str, Recommendation], case: str
) -> None:
    result = results[case]
    offered = {o["items"][0]["sku"] for o in result.offers}
    by_sku = {c["sku"]: c for c in result.candidates}
    for entry in result.candidates:
        if entry["status"] == "same_model":
            other = by_sku[entry["note"].removeprefix("same model as ")]
            assert other["sku"] in offered and other["group_sku"] == entry["group_sku"]
        elif entry["status"] == "not_bundled":
            assert entry["note"].startswith(entry["sku"] + ":"), entry
        else:
            assert entry["status"] in {"offered", "not_needed"}


def test_recommend_candidate_parts_name_soft_wishes_and_push_factors(
    results: dict[str, Recommendation],
) -> None:
    parts = {p["part"]: p for p in results["beginner"].candidates[0]["parts"]}
    assert set(parts) == {"geometry_for_usage", "in_stock", "margin", "price_fit"}
    assert parts["geometry_for_usage"]["label"] == "a geometry made for your riding"
    assert parts["geometry_for_usage"]["points"] == 3.0  # endurance bike, weight 3
    relaxed = {p["part"] for p in results["budget-relaxed"].candidates[0]["parts"]}
    assert "over:fits_budget" in relaxed and "price_fit" not in relaxed


def test_recommend_candidates_show_stock_margin_and_attributes(
    results: dict[str, Recommendation],
) -> None:
    entry = results["beginner"].candidates[0]
    assert entry["attributes"]["frame_size_cm"] == 56
    assert entry["stock"] >= 0 and entry["margin_pct"] > 0 and entry["group_sku"]


def test_recommend_candidate_not_bundled_without_fitting_pedals(
    demo_db: Engine, rules_copy: Path
) -> None:
    # Only one bike model takes pedals at all: every other bike without pedals cannot
    # be made ready to ride and says so.
    add_compatibility(rules_copy, "OST-BRS-3", "TGR-PED-CMT")
    loaded, problems = load_all(rules_copy)
    assert problems == []
    result = AdviceEngine(loaded["road_bike"].ruleset, demo_db).recommend(BEGINNER)
    skipped = [c for c in result.candidates if c["status"] == "not_bundled"]
    assert skipped, [c["status"] for c in result.candidates]
    assert all("no fitting pedals" in c["note"] for c in skipped)


# -- exclusions ------------------------------------------------------------------


def _reasons(result: Recommendation, rule: str) -> list[dict[str, Any]]:
    return [dict(r) for e in result.excluded for r in e["reasons"] if r["rule"] == rule]


def test_recommend_excludes_too_small_bike_with_size_and_its_source(
    results: dict[str, Recommendation],
) -> None:
    small = [r for r in _reasons(results["beginner"], "fits_rider") if r["actual"] < 56]
    assert small
    reason = small[0]
    assert reason["attribute"] == "frame_size_cm" and reason["op"] == "eq"
    assert reason["wanted"] == 56 and reason["kind"] == "hard_wish"
    assert reason["source"] == {"answer": "body_height_cm", "value": 182}
    assert reason["over_by"] is None


def test_recommend_excludes_too_expensive_bike_with_amount_over(
    results: dict[str, Recommendation],
) -> None:
    over = _reasons(results["beginner"], "fits_budget")
    assert over
    for reason in over:
        assert reason["kind"] == "budget" and reason["wanted"] == 1500
        assert reason["over_by"] > 0
        assert reason["actual"] == pytest.approx(1500 + reason["over_by"])
        assert "source" not in reason


def test_recommend_excludes_bike_over_budget_only_with_its_pedals(
    results: dict[str, Recommendation],
) -> None:
    result = results["beginner"]
    # A bike within €1,500 that needs pedals cannot be offered: the reason says the
    # ready-to-ride total, not the bike's price.
    bundled = [
        (e, r)
        for e in result.excluded
        for r in e["reasons"]
        if r["rule"] == "fits_budget" and e["price"] <= 1500
    ]
    assert bundled
    for entry, reason in bundled:
        assert reason["actual"] > entry["price"]


@CASES
def test_recommend_excluded_break_a_hard_wish_and_are_not_offered(
    results: dict[str, Recommendation], case: str
) -> None:
    result = results[case]
    assert len(result.excluded) <= 20
    considered = {c["sku"] for c in result.candidates}
    for entry in result.excluded:
        assert entry["reasons"], entry
        assert entry["sku"] not in considered
    misses = [len(e["reasons"]) for e in result.excluded]
    assert misses == sorted(misses), "fewest failed wishes first"


def test_recommend_excluded_follow_the_relaxed_wishes(
    results: dict[str, Recommendation],
) -> None:
    result = results["budget-relaxed"]
    assert result.relaxed == ["your budget: up to €629 instead of €250"]
    assert result.excluded
    assert all(r["wanted"] == 629 for r in _reasons(result, "fits_budget"))


def test_recommend_expert_view_stays_out_of_the_payload(
    results: dict[str, Recommendation],
) -> None:
    payload = results["beginner"].payload()
    assert set(payload) == {"type", "ruleset", "answers", "offers", "cross_sell", "relaxation"}
    assert results["beginner"].violations == []


# -- breaches, on products in memory ---------------------------------------------

FRAME = Filter(
    id="fits_rider",
    label="frame",
    attribute="frame_size_cm",
    answer="frame_size_cm",
    relax=[Relaxation(widen_by=2)],
)
BUDGET = Filter(
    id="fits_budget",
    label="budget",
    attribute="price",
    op="le",
    answer="budget",
    scope="bundle",
    relax=[Relaxation(widen_pct=15)],
)
GEOMETRY = Filter(id="geo", label="geometry", attribute="geometry", answer="usage")


def _bike(**attributes: Any) -> Product:
    fields: dict[str, Any] = {
        "sku": "B-1",
        "group_sku": "B",
        "name": "Bike",
        "brand": "X",
        "category": "road_bike",
        "price": 1000.0,
        "frame_size_cm": 52,
        "geometry": "race",
    }
    return Product(**(fields | attributes))


@pytest.mark.parametrize(
    ("wish", "product", "expected"),
    [
        (Wish(FRAME, 56), _bike(), ("eq", 56, 52, None)),
        (Wish(FRAME, 56), _bike(frame_size_cm=56), None),
        (Wish(FRAME, 56, level=1), _bike(), ("between", [54, 58], 52, None)),
        (Wish(FRAME, 56, level=1), _bike(frame_size_cm=54), None),
        (Wish(FRAME, 56, level=2), _bike(), None),
        (Wish(FRAME, 56), _bike(frame_size_cm=None), ("eq", 56, None, None)),
        (Wish(BUDGET, 800), _bike(), ("le", 800, 1000.0, 200.0)),
        (Wish(BUDGET, 800, level=1), _bike(), ("le", 920.0, 1000.0, 80.0)),
        (Wish(GEOMETRY, ["endurance"]), _bike(), ("in", ["endurance"], "race", None)),
    ],
    ids=[
        "size-miss",
        "size-fits",
        "widened-miss",
        "widened-fits",
        "dropped",
        "unknown-size",
        "over-budget",
        "over-widened-budget",
        "one-of",
    ],
)
def test_wish_breach_reports_wanted_and_actual(
    wish: Wish, product: Product, expected: tuple[str, Any, Any, float | None] | None
) -> None:
    found = wish_breach(wish, product)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert (found["op"], found["wanted"], found["actual"], found["over_by"]) == expected
    assert found["rule"] == wish.rule.id and found["label"] == wish.rule.label


@pytest.mark.parametrize(
    ("total", "over_by"),
    [(1499.0, None), (1500.004, None), (1523.9, 23.9)],
    ids=["within", "a-cent-within", "over"],
)
def test_budget_breach_counts_the_bundle_total(total: float, over_by: float | None) -> None:
    found = budget_breach(Wish(BUDGET, 1500), total)
    if over_by is None:
        assert found is None
    else:
        assert found is not None and found["over_by"] == over_by and found["actual"] == total
