from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from product_rules.clauses import Clause, Finding, ProductFilter
from product_rules.errors import RuleSetError
from product_rules.loader import load_ruleset
from product_rules.schema import CrossSellRule, Filter, Selection
from product_rules.vocabulary import Operator

FILTERS: list[dict[str, Any]] = [
    {},
    {"weight_kg": {"le": 9.0}, "frame_material": "carbon"},
    {"cleat_system": {"in": ["flat", "spd"]}},
    {"cleat_system": {"answer": "shoes_owned"}},
    {"frame_size_cm": {"ge": {"answer": "frame_size_cm"}}},
    {"geometry": ["race", "aero"], "pedals_included": False},
    {"category": "helmet", "price": {"le": 80}},
]


@pytest.mark.parametrize("written", FILTERS, ids=[str(f) for f in FILTERS])
def test_product_filter_round_trips(written: dict[str, Any]) -> None:
    parsed = ProductFilter.parse(written)
    assert parsed.findings == ()
    assert parsed.dump() == written
    assert ProductFilter.parse(parsed.dump()) == parsed


@pytest.mark.parametrize("written", FILTERS, ids=[str(f) for f in FILTERS])
def test_product_filter_round_trips_through_the_schema(written: dict[str, Any]) -> None:
    selection = Selection.model_validate({"filter": written, "reason": "fits"})
    assert isinstance(selection.filter, ProductFilter)
    assert selection.model_dump()["filter"] == written


def test_product_filter_parses_typed_clauses() -> None:
    parsed = ProductFilter.parse(
        {"weight_kg": {"le": 9.0}, "frame_material": "carbon", "cleat_system": {"answer": "x"}}
    )
    assert list(parsed) == [
        Clause("weight_kg", Operator.LE, 9.0, None, ("weight_kg", "le"), explicit=True),
        Clause("frame_material", Operator.EQ, "carbon", None, ("frame_material",)),
        Clause("cleat_system", Operator.EQ, None, "x", ("cleat_system",)),
    ]


def test_product_filter_resolves_answers() -> None:
    parsed = ProductFilter.parse({"cleat_system": {"in": {"answer": "shoes"}}})
    assert parsed.resolved({"shoes": "spd"}).dump() == {"cleat_system": {"in": "spd"}}
    assert parsed.resolved({}).dump() == {"cleat_system": {"in": None}}


def test_product_filter_where_replaces_or_adds_a_clause() -> None:
    parsed = ProductFilter.parse({"category": "shoes", "cleat_system": "spd"})
    assert parsed.where("category", "pedals").dump() == {
        "category": "pedals",
        "cleat_system": "spd",
    }
    assert parsed.where("brand", "x").dump() == {
        "category": "shoes",
        "cleat_system": "spd",
        "brand": "x",
    }


@pytest.mark.parametrize(
    ("written", "finding"),
    [
        (
            {"cleat_sistem": "spd"},
            Finding(("cleat_sistem",), "unknown attribute 'cleat_sistem'", "cleat_system"),
        ),
        (
            {"weight_kg": {"lte": 9}},
            Finding(("weight_kg", "lte"), "unknown operator 'lte'", "lt"),
        ),
        (
            {"weight_kg": {"le": 9, "ge": 7}},
            Finding(("weight_kg",), "a condition takes exactly one operator"),
        ),
        (
            {"weight_kg": {"between": [7, 9]}},
            Finding(("weight_kg", "between"), "unknown operator 'between'"),
        ),
        (
            {"geometry": {"in": ["race", "endurence"]}},
            Finding(
                ("geometry", "in", 1),
                "'endurence' is not a value of geometry "
                "(race, endurance, aero, allroad, comfort, trail)",
                "endurance",
            ),
        ),
        (
            {"geometry": {"lt": "race"}},
            Finding(
                ("geometry", "lt"), "lt does not apply to geometry (enum); use eq, ne, in, not_in"
            ),
        ),
    ],
    ids=["attribute", "operator", "two-operators", "between", "value", "kind"],
)
def test_product_filter_keeps_findings(written: dict[str, Any], finding: Finding) -> None:
    parsed = ProductFilter.parse(written)
    assert parsed.findings == (finding,)
    assert parsed.clauses == ()


def _line_column(path: Path, needle: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.mark.parametrize(
    ("file", "old", "new", "needle", "message"),
    [
        (
            "requirements.yml",
            "{cleat_system: {in: [flat, spd]}}",
            "{cleat_system: {inn: [flat, spd]}}",
            "[flat, spd]}}",
            "unknown operator 'inn', did you mean 'in'?",
        ),
        (
            "requirements.yml",
            "{cleat_system: {in: [flat, spd]}}",
            "{cleat_sistem: {in: [flat, spd]}}",
            "{in: [flat, spd]}}",
            "unknown attribute 'cleat_sistem', did you mean 'cleat_system'?",
        ),
        (
            "requirements.yml",
            "{cleat_system: {answer: shoes_owned}}",
            "{cleat_system: {answer: shoes_ownd}}",
            "shoes_ownd",
            "unknown answer 'shoes_ownd', did you mean 'shoes_owned'?",
        ),
        (
            "cross_sell.yml",
            "target: {category: helmet}",
            "target: {category: helmet, price: {lte: 80}}",
            "80}",
            "unknown operator 'lte', did you mean 'lt'?",
        ),
        (
            "cross_sell.yml",
            "target: {category: helmet}",
            "target: {category: helmet, brand: {gt: b}}",
            "b}}",
            "gt does not apply to brand (text); use eq, ne, in, not_in",
        ),
    ],
    ids=["unknown-operator", "unknown-attribute", "unknown-answer", "cross-sell-operator", "kind"],
)
def test_load_ruleset_reports_filter_findings_where_written(
    rules_copy: Path, file: str, old: str, new: str, needle: str, message: str
) -> None:
    path = rules_copy / "road_bike" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    (problem,) = caught.value.problems
    line, column = _line_column(path, needle)
    assert str(problem) == f"rules/road_bike/{file}:{line}:{column}: {message}"


def test_filter_op_refuses_what_rule_files_may_not_write() -> None:
    written = {"id": "x", "label": "x", "attribute": "frame_size_cm", "value": 56}
    assert Filter.model_validate({**written, "op": "le"}).op is Operator.LE
    with pytest.raises(ValidationError, match="Input should be 'eq', 'ne', 'in', 'not_in'"):
        Filter.model_validate({**written, "op": "between"})


def test_product_filter_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ValidationError, match="Input should be a valid dictionary"):
        CrossSellRule.model_validate({"id": "x", "target": ["helmet"], "reason": "r"})
