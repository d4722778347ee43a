from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, col, create_engine, select

from catalog.models import Product
from product_rules.cli import main
from product_rules.query import compare
from product_rules.vocabulary import (
    RULE_OPERATORS,
    AnswerType,
    Operator,
    attributes,
    export,
)
from tests.tables import create_schema

PACKAGE = Path(__file__).resolve().parents[2] / "product_rules"

# -- the export --------------------------------------------------------------------


def test_export_lists_every_attribute_operator_and_answer_type() -> None:
    exported = export()
    assert set(exported) == {"attributes", "operators", "answer_types"}
    assert [a["name"] for a in exported["attributes"]] == list(attributes())
    assert [o["name"] for o in exported["operators"]] == [op.value for op in Operator]
    assert [t["name"] for t in exported["answer_types"]] == ["choice", "number", "boolean"]


def test_export_describes_attributes_by_kind() -> None:
    by_name = {a["name"]: a for a in export()["attributes"]}
    assert by_name["weight_kg"] == {
        "name": "weight_kg",
        "label": "Weight",
        "labels": {"en": "Weight", "de": "Gewicht"},
        "kind": "number",
        "type": "float",
        "unit": "kg",
        "values": None,
        "display": True,
        "operators": ["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge"],
    }
    assert by_name["geometry"]["kind"] == "enum"
    assert by_name["geometry"]["values"] == [
        "race",
        "endurance",
        "aero",
        "allroad",
        "comfort",
        "trail",
    ]
    assert by_name["geometry"]["operators"] == ["eq", "ne", "in", "not_in"]
    assert by_name["brand"]["kind"] == "text"
    assert by_name["pedals_included"]["kind"] == "boolean"


def test_export_gives_operators_labels_and_semantics() -> None:
    by_name = {o["name"]: o for o in export()["operators"]}
    assert by_name["le"] == {
        "name": "le",
        "labels": {"en": "is at most", "de": "ist höchstens"},
        "symbol": "<=",
        "operand": "value",
        "kinds": ["number"],
        "bound": "upper",
        "in_rules": True,
        "sql": "column <= :value",
        "python": "actual <= value",
    }
    assert by_name["between"]["in_rules"] is False
    for op in by_name.values():
        assert set(op["labels"]) == {"en", "de"} and all(op["labels"].values())


def test_export_gives_answer_types_labels() -> None:
    by_name = {t["name"]: t for t in export()["answer_types"]}
    assert by_name["choice"] == {
        "name": "choice",
        "labels": {"en": "Choice", "de": "Auswahl"},
        "options": True,
        "units": [],
    }
    assert by_name["number"]["units"] == ["EUR", "cm"]
    assert [t.value for t in AnswerType] == list(by_name)


def test_vocabulary_command_prints_the_export_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["vocabulary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(export()))


def test_vocabulary_command_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vocabulary"]) == 0
    out = capsys.readouterr().out
    assert "weight_kg" in out and "column <= :value" in out


# -- SQL and Python agree ------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {"frame_size_cm": 52, "weight_kg": 8.2, "geometry": "race", "pedals_included": False},
    {"frame_size_cm": 56, "weight_kg": 9.0, "geometry": "endurance", "pedals_included": True},
    {"frame_size_cm": 58, "weight_kg": 10.5, "geometry": "aero", "pedals_included": False},
    {"frame_size_cm": None, "weight_kg": None, "geometry": None, "pedals_included": None},
]

#: Operator, attribute, value: every rule operator on each kind it applies to, with
#: single values, lists, unset values and values no row has.
CASES: list[tuple[Operator, str, Any]] = [
    *[(Operator(op), "frame_size_cm", v) for op in RULE_OPERATORS for v in (56, 50, None)],
    *[(Operator(op), "weight_kg", v) for op in RULE_OPERATORS for v in (9.0, 8.9999)],
    *[(Operator(op), "frame_size_cm", [52, 58]) for op in ("eq", "ne", "in", "not_in")],
    *[(Operator(op), "geometry", v) for op in ("eq", "ne", "in", "not_in") for v in ("race",)],
    *[(Operator(op), "geometry", ["race", "aero"]) for op in ("eq", "ne", "in", "not_in")],
    *[(Operator(op), "pedals_included", v) for op in ("eq", "ne") for v in (True, False)],
    (Operator.IN, "pedals_included", [True]),
    (Operator.BETWEEN, "frame_size_cm", (54, 58)),
    (Operator.BETWEEN, "weight_kg", (8.2, 9.0)),
]


@pytest.fixture(scope="module")
def table() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    create_schema(engine)
    with Session(engine) as session:
        for i, row in enumerate(ROWS):
            session.add(
                Product(
                    sku=f"p{i}",
                    group_sku=f"p{i}",
                    name=f"p{i}",
                    brand="b",
                    category="c",
                    price=100.0,
                    **row,
                )
            )
        session.commit()
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("op", "attribute", "value"), CASES, ids=[f"{a}-{o.value}-{v}" for o, a, v in CASES]
)
def test_operator_sql_and_python_agree(
    table: Engine, op: Operator, attribute: str, value: Any
) -> None:
    with Session(table) as session:
        products = list(session.exec(select(Product).order_by(col(Product.sku))))
        by_sql = set(session.exec(select(Product.sku).where(compare(attribute, op, value))))
    by_python = {p.sku for p in products if op.holds(getattr(p, attribute), value)}
    assert by_sql == by_python


def test_unset_values_never_match() -> None:
    assert not any(Operator(op).holds(None, 1) for op in RULE_OPERATORS)
    assert not any(Operator(op).holds(1, None) for op in RULE_OPERATORS)


def test_a_list_with_eq_means_one_of() -> None:
    assert Operator.EQ.normalized(["a", "b"]) == (Operator.IN, ["a", "b"])
    assert Operator.NE.normalized(["a"]) == (Operator.NOT_IN, ["a"])
    assert Operator.IN.normalized("a") == (Operator.IN, ["a"])


# -- declared once -----------------------------------------------------------------


def _operator_lists(tree: ast.AST) -> Iterator[int]:
    names = {op.value for op in Operator}
    for node in ast.walk(tree):
        items: list[ast.expr | None] = []
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = list(node.keys)
        found = {i.value for i in items if isinstance(i, ast.Constant) and i.value in names}
        if len(found) >= 2:
            yield node.lineno


#: Modules that name rule-engine's own node types (``eq``/``ne`` of a ``when`` condition
#: over answers), which are not product filter operators.
OTHER_VOCABULARIES = {"vocabulary.py", "checks_conditions.py"}


@pytest.mark.parametrize(
    "module",
    sorted(p for p in PACKAGE.rglob("*.py") if p.name not in OTHER_VOCABULARIES),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_operator_names_are_listed_only_in_the_vocabulary(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert list(_operator_lists(tree)) == []
