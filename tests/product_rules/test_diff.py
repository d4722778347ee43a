from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.models import Product
from product_rules.diff import (
    DiffReport,
    SampleDiff,
    diff_rulesets,
    format_report,
    sample_answers,
)
from product_rules.engine import AdviceEngine
from product_rules.loader import load_ruleset
from product_rules.schema import RuleSet

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"
#: Enough answer sets to hit every size row, few enough to keep the tests quick.
SAMPLES = 80


@pytest.fixture(scope="module")
def old(demo_db: Engine) -> AdviceEngine:
    return AdviceEngine(load_ruleset(RULES / "road_bike").ruleset, demo_db)


@pytest.fixture(scope="module")
def samples(old: AdviceEngine) -> list[dict[str, Any]]:
    return sample_answers(old.ruleset, limit=SAMPLES)


def _edited(rules: Path, db: Engine, file: str, before: str, after: str) -> AdviceEngine:
    path = rules / "road_bike" / file
    text = path.read_text()
    assert before in text, f"fixture text {before!r} not in {file}"
    path.write_text(text.replace(before, after, 1))
    return AdviceEngine(load_ruleset(rules / "road_bike").ruleset, db)


def _attribute(db: Engine, skus: list[str], attribute: str) -> set[Any]:
    with Session(db) as session:
        products = session.exec(select(Product).where(col(Product.sku).in_(skus)))
        return {getattr(p, attribute) for p in products}


def test_sample_answers_is_deterministic_distinct_and_valid(old: AdviceEngine) -> None:
    ruleset = old.ruleset
    first = sample_answers(ruleset, limit=SAMPLES)
    assert first == sample_answers(ruleset, limit=SAMPLES)
    assert first != sample_answers(ruleset, limit=SAMPLES, seed=1)
    assert len(first) == SAMPLES
    assert len({tuple(a.items()) for a in first}) == SAMPLES
    for answers in first:
        for key, value in answers.items():
            question = ruleset.question(key)
            assert question is not None
            if question.type == "choice":
                assert question.option(value) is not None
            else:
                assert question.min is not None and question.max is not None
                assert question.min <= value <= question.max


def test_sample_answers_covers_every_size_row(old: AdviceEngine) -> None:
    samples = sample_answers(old.ruleset, limit=SAMPLES)
    sizes = {old.derive(a)["frame_size_cm"] for a in samples if "inseam_cm" not in a}
    table = old.ruleset.derived[0].sources[1].table
    assert sizes == {row.value for row in table}


def test_sample_answers_skips_questions_not_asked(old: AdviceEngine) -> None:
    samples = sample_answers(old.ruleset, limit=SAMPLES)
    assert all(("inseam_cm" in a) == (a["experience"] == "racer") for a in samples)


def test_sample_answers_enumerates_small_spaces() -> None:
    ruleset = RuleSet.model_validate(
        {
            "id": "tiny",
            "title": "Tiny",
            "category": "road_bike",
            "intro": "Hi.",
            "questions": [
                {
                    "id": "usage",
                    "text": "?",
                    "type": "choice",
                    "options": [{"id": "fast", "label": "Fast"}, {"id": "slow", "label": "Slow"}],
                },
                {"id": "electric", "text": "?", "type": "boolean"},
                {
                    "id": "budget",
                    "text": "?",
                    "type": "number",
                    "unit": "EUR",
                    "min": 200,
                    "max": 20000,
                    "ask_if": "electric",
                },
            ],
        }
    )
    budgets = [200, 500, 1300, 3200, 8000, 20000]
    # Every combination, in question order; budget is asked only of electric bikes.
    assert sample_answers(ruleset, limit=100) == [
        answers
        for usage in ("fast", "slow")
        for answers in [
            *({"usage": usage, "electric": True, "budget": budget} for budget in budgets),
            {"usage": usage, "electric": False},
        ]
    ]
    assert len(sample_answers(ruleset, limit=5)) == 5


def test_diff_rulesets_identical_rules_change_nothing(
    old: AdviceEngine, samples: list[dict[str, Any]], rules_copy: Path, demo_db: Engine
) -> None:
    same = AdviceEngine(load_ruleset(rules_copy / "road_bike").ruleset, demo_db)
    report = diff_rulesets(old, same, samples)
    assert report.total == SAMPLES
    assert report.changes == []
    assert set(report.counts.values()) == {0}
    assert format_report(report) == f"0 of {SAMPLES} answer sets change."


Check = Callable[[Engine, SampleDiff], None]


def _resized(db: Engine, change: SampleDiff) -> None:
    answers = change.answers
    assert "inseam_cm" not in answers and 177 <= answers["body_height_cm"] < 183
    assert change.kinds == ["added", "dropped"]
    assert _attribute(db, change.dropped, "frame_size_cm") == {56}
    assert _attribute(db, change.added, "frame_size_cm") == {58}


def _regeared(db: Engine, change: SampleDiff) -> None:
    assert change.answers["usage"] == "racing"
    assert "added" in change.kinds
    assert _attribute(db, change.added, "geometry") == {"endurance"}


def _repedalled(db: Engine, change: SampleDiff) -> None:
    answers = change.answers
    assert (answers["experience"], answers["shoes_owned"]) == ("beginner", "none")
    assert change.kinds == ["required"]
    new = dict(change.new)
    assert _attribute(db, [s for m in change.required for s in new[m]], "cleat_system") == {"spd"}


@pytest.mark.parametrize(
    ("file", "before", "after", "check", "expected"),
    [
        (
            "sizing.yml",
            "{min: 177, max: 183, value: 56}",
            "{min: 177, max: 183, value: 58}",
            _resized,
            lambda a: "inseam_cm" not in a and 177 <= a["body_height_cm"] < 183,
        ),
        ("filters.yml", "racing: [race, aero]", "racing: [endurance]", _regeared, None),
        (
            "requirements.yml",
            "{cleat_system: {in: [flat, spd]}}",
            "{cleat_system: {in: [spd]}}",
            _repedalled,
            None,
        ),
    ],
    ids=["size-table", "geometry-map", "beginner-pedals"],
)
def test_diff_rulesets_after_edit_shows_changed_products(
    old: AdviceEngine,
    samples: list[dict[str, Any]],
    rules_copy: Path,
    demo_db: Engine,
    file: str,
    before: str,
    after: str,
    check: Check,
    expected: Callable[[dict[str, Any]], bool] | None,
) -> None:
    new = _edited(rules_copy, demo_db, file, before, after)
    report = diff_rulesets(old, new, samples)
    assert report.changes, "the edit must change some offers"
    for change in report.changes:
        check(demo_db, change)
    if expected is not None:  # exactly the answer sets the edit touches change
        assert [c.answers for c in report.changes] == [a for a in samples if expected(a)]
    text = format_report(report, max_details=2)
    assert text.startswith(f"{len(report.changes)} of {SAMPLES} answer sets change: ")


def test_format_report_summarises_and_details_biggest_changes() -> None:
    small = SampleDiff(
        {"usage": "racing", "budget": 3200},
        old=[("A-56", ("P1",)), ("B-56", ())],
        new=[("B-56", ()), ("A-56", ("P2",))],
        reordered=True,
        required=["A-56"],
        relaxed=(["your budget: up to 3680 EUR"], []),
        names={"A-56": "Alpha", "P1": "Flat pedals", "P2": "SPD pedals"},
    )
    big = SampleDiff(
        {"usage": "endurance", "budget": 1500},
        old=[("C-56", ())],
        new=[("C-58", ())],
        added=["C-58"],
        dropped=["C-56"],
        cross_sell=(["H1"], ["H1", "L1"]),
        names={"C-56": "Cirrus", "C-58": "Cirrus"},
    )
    report = DiffReport(total=200, changes=[small, big])
    assert report.counts == {
        "added": 1,
        "dropped": 1,
        "reordered": 1,
        "required": 1,
        "relaxed": 1,
        "cross_sell": 1,
    }
    assert format_report(report, max_details=1) == (
        "2 of 200 answer sets change: 1 add products, 1 drop products, 1 reorder offers, "
        "1 change required items, 1 change what is relaxed, 1 change cross-sell.\n"
        "\n"
        "1. usage=endurance, budget=1500\n"
        "   - C-56 (Cirrus), was offer 1\n"
        "   + C-58 (Cirrus), now offer 1\n"
        "   cross-sell: H1 -> H1, L1\n"
        "\n"
        "... and 1 more changed answer sets"
    )
    assert format_report(report).split("\n\n")[2] == (
        "2. usage=racing, budget=3200\n"
        "   ~ A-56: required P1 (Flat pedals) -> P2 (SPD pedals)\n"
        "   order: A-56, B-56 -> B-56, A-56\n"
        "   relaxed: your budget: up to 3680 EUR -> nothing"
    )
