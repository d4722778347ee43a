"""Compile rule filters to SQL over :class:`catalog.models.Product` columns.

Nothing here loops over the catalogue in Python: every filter becomes a SQL predicate and
every ranking term a SQL expression, so the database answers from its indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, true
from sqlalchemy.orm import InstrumentedAttribute

from catalog.models import Product

__all__ = ["column", "compare", "product_filter", "matches_item", "resolve_value"]


def column(attribute: str) -> InstrumentedAttribute[Any]:
    """The Product column of a vocabulary attribute (validated at load time)."""
    col: InstrumentedAttribute[Any] = getattr(Product, attribute)
    return col


def resolve_value(value: Any, values: Mapping[str, Any]) -> Any:
    """Resolve ``{answer: id}`` references against the answers and derived values."""
    if isinstance(value, dict) and set(value) == {"answer"}:
        return values.get(str(value["answer"]))
    return value


def compare(attribute: str, op: str, value: Any) -> ColumnElement[bool]:
    """``attribute <op> value`` as a SQL predicate; ``None`` never matches."""
    col = column(attribute)
    if value is None:
        return false()
    if op in ("in", "not_in"):
        items = value if isinstance(value, list) else [value]
        return col.in_(items) if op == "in" else col.not_in(items)
    if isinstance(value, list):
        # A list with eq means "one of" (a mapped answer may give several values).
        return col.in_(value) if op == "eq" else col.not_in(value)
    match op:
        case "eq":
            return col == value  # type: ignore[no-any-return]
        case "ne":
            return col != value  # type: ignore[no-any-return]
        case "lt":
            return col < value  # type: ignore[no-any-return]
        case "le":
            return col <= value  # type: ignore[no-any-return]
        case "gt":
            return col > value  # type: ignore[no-any-return]
        case "ge":
            return col >= value  # type: ignore[no-any-return]
    raise ValueError(f"unknown operator {op!r}")


def product_filter(flt: Mapping[str, Any], values: Mapping[str, Any]) -> ColumnElement[bool]:
    """Compile ``{attribute: value | {op: value}}`` to one SQL predicate."""
    clauses: list[ColumnElement[bool]] = []
    for attribute, condition in flt.items():
        if isinstance(condition, dict) and set(condition) != {"answer"}:
            op, raw = next(iter(condition.items()))
            clauses.append(compare(attribute, op, resolve_value(raw, values)))
        else:
            clauses.append(compare(attribute, "eq", resolve_value(condition, values)))
    return and_(true(), *clauses)


def matches_item(flt: Mapping[str, Any], item: Product, values: Mapping[str, Any]) -> bool:
    """Evaluate a product filter on one loaded product (for ``if_item`` conditions)."""
    for attribute, condition in flt.items():
        actual = getattr(item, attribute)
        if isinstance(condition, dict) and set(condition) != {"answer"}:
            op, raw = next(iter(condition.items()))
        else:
            op, raw = "eq", condition
        expected = resolve_value(raw, values)
        if not _holds(actual, op, expected):
            return False
    return True


def _holds(actual: Any, op: str, expected: Any) -> bool:
    if actual is None or expected is None:
        return False
    items = expected if isinstance(expected, list) else [expected]
    match op:
        case "eq" | "in":
            return actual in items
        case "ne" | "not_in":
            return actual not in items
        case "lt":
            return bool(actual < expected)
        case "le":
            return bool(actual <= expected)
        case "gt":
            return bool(actual > expected)
        case "ge":
            return bool(actual >= expected)
    return False


def indicator(predicate: ColumnElement[bool]) -> ColumnElement[float]:
    """1.0 where ``predicate`` holds, else 0.0 (for weighted ranking in SQL)."""
    return case((predicate, literal(1.0)), else_=literal(0.0))


def distance(attribute: str, target: float) -> ColumnElement[float]:
    """``|attribute - target|`` as SQL, for preferring the closest size once widened."""
    return func.abs(column(attribute) - target)
