"""Compile rule filters to SQL over :class:`catalog.models.Product` columns.

Nothing here loops over the catalogue in Python: every filter becomes a SQL predicate and
every ranking term a SQL expression, so the database answers from its indexes. What each
operator means is declared in :mod:`product_rules.vocabulary`; :func:`matches_item` is
the Python twin used on products already loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, true
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import col

from catalog.models import Product
from product_rules.clauses import Clause, ProductFilter
from product_rules.vocabulary import Operator

__all__ = ["column", "compare", "matches_item", "offerable", "product_filter"]


def column(attribute: str) -> InstrumentedAttribute[Any]:
    """The Product column of a vocabulary attribute (validated at load time)."""
    col: InstrumentedAttribute[Any] = getattr(Product, attribute)
    return col


def offerable() -> ColumnElement[bool]:
    """Products the shop still sells: every query that offers a product must say so.

    A product that left the shop's feed stays in the catalogue (offers and share links
    may name it) with ``available`` false; it must never be offered again.
    """
    return col(Product.available) == true()


def compare(attribute: str, op: Operator, value: Any) -> ColumnElement[bool]:
    """``attribute <op> value`` as a SQL predicate; ``None`` never matches."""
    return op.sql(column(attribute), value)


def clause_sql(clause: Clause, values: Mapping[str, Any]) -> ColumnElement[bool]:
    """One clause as a SQL predicate, its answer taken from ``values``."""
    return compare(clause.attribute, clause.op, clause.resolve(values))


def product_filter(
    flt: ProductFilter | Mapping[str, Any], values: Mapping[str, Any]
) -> ColumnElement[bool]:
    """Compile a product filter to one SQL predicate (every clause must hold).

    A mapping in the YAML form is parsed first (benchmarks write filters inline).
    """
    parsed = _checked(flt if isinstance(flt, ProductFilter) else ProductFilter.parse(flt))
    return and_(true(), *(clause_sql(c, values) for c in parsed))


def matches_item(flt: ProductFilter, item: Product, values: Mapping[str, Any]) -> bool:
    """Evaluate a product filter on one loaded product (for ``if_item`` conditions)."""
    return all(c.holds(getattr(item, c.attribute), values) for c in _checked(flt))


def _checked(flt: ProductFilter) -> ProductFilter:
    # Parsing leaves out what it found wrong; the loader refuses such a rule set, but one
    # built without the loader must not run with clauses silently missing.
    if flt.findings:
        raise ValueError("; ".join(f.message for f in flt.findings))
    return flt


def indicator(predicate: ColumnElement[bool]) -> ColumnElement[float]:
    """1.0 where ``predicate`` holds, else 0.0 (for weighted ranking in SQL)."""
    return case((predicate, literal(1.0)), else_=literal(0.0))


def distance(attribute: str, target: float) -> ColumnElement[float]:
    """``|attribute - target|`` as SQL, for preferring the closest size once widened."""
    return func.abs(column(attribute) - target)
