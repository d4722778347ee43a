"""The relaxation search on its own: a counter over a small in-memory product list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from product_rules.relaxation import EXHAUSTIVE_LIMIT, relax
from product_rules.schema import Filter, Relaxation
from product_rules.wishes import Wish

PRODUCTS = [
    {"price": 900, "frame_material": "aluminium", "frame_size_cm": 56},
    {"price": 1400, "frame_material": "aluminium", "frame_size_cm": 54},
    {"price": 2500, "frame_material": "carbon", "frame_size_cm": 56},
    {"price": 1300, "frame_material": "titanium", "frame_size_cm": 56},
]


def _wish(
    fid: str,
    attribute: str,
    op: str,
    value: Any,
    importance: int,
    relax_steps: list[dict[str, Any]] | None = None,
) -> Wish:
    rule = Filter(
        id=fid,
        label=fid.replace("_", " "),
        attribute=attribute,
        op=op,  # type: ignore[arg-type]
        value=value,
        importance=importance,
        relax=[Relaxation(**r) for r in relax_steps or []],
    )
    return Wish(rule, value)


def _holds(product: dict[str, Any], wish: Wish) -> bool:
    if wish.dropped:
        return True
    value, actual = wish.effective, product[wish.rule.attribute]
    if isinstance(value, tuple):
        return value[1] <= actual <= value[2]
    if isinstance(value, list):
        return actual in value
    return {"eq": actual == value, "le": actual <= value}[wish.rule.op]


def count(wishes: Sequence[Wish]) -> int:
    return sum(all(_holds(p, w) for w in wishes) for p in PRODUCTS)


def bound(others: Sequence[Wish], wish: Wish) -> float | None:
    prices = [p[wish.rule.attribute] for p in PRODUCTS if all(_holds(p, w) for w in others)]
    return float(min(prices)) if prices else None


BUDGET = _wish("budget", "price", "le", 1200, 4, [{"widen_pct": 15}])
CARBON = _wish(
    "carbon", "frame_material", "eq", "carbon", 3, [{"substitute": {"carbon": ["titanium"]}}]
)
SIZE = _wish("size", "frame_size_cm", "eq", 56, 9, [{"widen_by": 2}])


def test_relax_nothing_when_wishes_can_be_met() -> None:
    assert relax([BUDGET, SIZE], count) == []


def test_relax_prefers_gentlest_step_of_cheapest_wish() -> None:
    choices = relax([BUDGET, CARBON, SIZE], count, bound=bound)
    # Titanium costs €1,300, over budget too: the carbon wish must go entirely, which
    # weighs less than more than doubling the budget.
    assert [c.describe() for c in choices] == [
        ["without carbon"],
        ["budget: up to €2,500 instead of €1,200"],
    ]
    assert [c.count for c in choices] == [1, 1]


def test_relax_finds_minimal_sets_only() -> None:
    choices = relax([BUDGET, CARBON, SIZE], count)
    for choice in choices:
        assert len(choice.loosened) == 1, "no superset of a working set is offered"


def test_relax_beyond_exhaustive_limit_uses_linear_search() -> None:
    extra = [_wish(f"any_{i}", "frame_size_cm", "le", 100, 1) for i in range(EXHAUSTIVE_LIMIT)]
    choices = relax([BUDGET, CARBON, SIZE, *extra], count, bound=bound)
    assert len(choices) == 1
    loosened = {w.rule.id for w in choices[0].loosened}
    assert loosened in ({"carbon"}, {"budget"})
    assert choices[0].count > 0


@pytest.mark.parametrize(
    ("wish", "level", "text"),
    [
        (BUDGET, 1, "budget: up to €1,380 instead of €1,200"),
        (BUDGET, 2, "budget: nothing within €1,200, showing the closest"),
        (SIZE, 1, "size: 54 to 58 cm instead of exactly 56 cm"),
        (CARBON, 2, "without carbon"),
    ],
    ids=["widen-pct", "dropped-bound", "widen-by", "dropped"],
)
def test_describe_loosened_wish(wish: Wish, level: int, text: str) -> None:
    assert wish.at(level).describe() == text
