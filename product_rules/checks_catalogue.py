"""Catalogue facts for the rule checks: which categories and attribute values exist.

Each question the checks ask the catalogue is one ``SELECT DISTINCT`` or ``COUNT`` over
indexed columns, built with the engine's own :func:`~product_rules.query.product_filter`
so the checks read filters exactly as offers do; answers are cached for one
:func:`~product_rules.checks.check_ruleset` call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlmodel import col

from catalog.models import Product
from product_rules.clauses import Clause, Path_, ProductFilter
from product_rules.i18n import lazy_gettext as _
from product_rules.query import column, offerable, product_filter
from product_rules.vocabulary import Operator, attributes

__all__ = ["Catalogue", "Path_", "Scope", "scope_label", "scope_of"]
Scope = tuple[str, ...] | None
"""The categories a rule picks from; None: the whole catalogue."""


def scope_of(flt: ProductFilter) -> Scope:
    """The categories a cross-sell target names, or None when it names none literally."""
    clause = flt.get("category")
    if clause is not None and clause.op in (Operator.EQ, Operator.IN) and clause.items():
        return tuple(str(v) for v, _ in clause.items())
    return None


def scope_label(scope: Scope) -> str:
    """``road_bike``, ``pedals or shoes``, or ``product`` for the whole catalogue.

    The slugs stay as written (they are names in the rules); "or" and "product" are words
    of the reader's language (a lazy message).
    """
    if not scope:
        return _("product")
    label: str = scope[-1]
    for category in reversed(scope[:-1]):
        label = _("{left} or {right}").format(left=category, right=label)
    return label


def _key(value: Any) -> Any:
    # Text columns hold strings while YAML may read 28 as a number: compare as text.
    return value if isinstance(value, bool) else str(value)


class Catalogue:
    """Cached answers from the catalogue database."""

    def __init__(self, db: Engine) -> None:
        self._db = db
        self._cache: dict[str, Any] = {}

    def categories(self) -> frozenset[str]:
        """Every category slug some product has."""
        return frozenset(str(v) for v in self.distinct("category", None))

    def distinct(
        self,
        attribute: str,
        scope: Scope,
        filters: Sequence[ProductFilter] = (),
        values: Mapping[str, Any] | None = None,
    ) -> frozenset[Any]:
        """The values of ``attribute`` among products in ``scope`` matching every filter.

        Clauses comparing with an answer missing from ``values`` are left out: they could
        match anything. An answer given as None matches nothing, as in the engine.
        """
        key = json.dumps(["distinct", attribute, scope, _dumps(filters), values], default=str)
        if key not in self._cache:
            where = self._where(scope, filters, values or {})
            statement = select(column(attribute)).where(*where).distinct()
            with self._db.connect() as connection:
                found = connection.execute(statement).scalars()
                self._cache[key] = frozenset(v for v in found if v is not None)
        result: frozenset[Any] = self._cache[key]
        return result

    def count(
        self,
        scope: Scope,
        filters: Sequence[ProductFilter] = (),
        values: Mapping[str, Any] | None = None,
    ) -> int:
        """How many products in ``scope`` match every filter (see :meth:`distinct`)."""
        key = json.dumps(["count", scope, _dumps(filters), values], default=str)
        if key not in self._cache:
            where = self._where(scope, filters, values or {})
            statement = select(func.count(col(Product.id))).where(*where)
            with self._db.connect() as connection:
                self._cache[key] = int(connection.execute(statement).scalar_one())
        result: int = self._cache[key]
        return result

    def absent(self, clause: Clause, scope: Scope) -> list[tuple[Any, Path_]]:
        """Values of an ``eq``/``in`` text or yes/no clause that no product in ``scope`` has.

        Categories themselves are checked separately, against the whole catalogue.
        """
        spec = attributes().get(clause.attribute)
        if (
            spec is None
            or spec.type not in ("str", "bool")
            or clause.op not in (Operator.EQ, Operator.IN)
            or clause.attribute == "category"
        ):
            return []
        present = {_key(v) for v in self.distinct(clause.attribute, scope)}
        return [(item, path) for item, path in clause.items() if _key(item) not in present]

    @staticmethod
    def _where(
        scope: Scope, filters: Sequence[ProductFilter], values: Mapping[str, Any]
    ) -> list[ColumnElement[bool]]:
        # What the shop no longer sells is missing for the rules too.
        where: list[ColumnElement[bool]] = [offerable()]
        if scope is not None:
            where.append(col(Product.category).in_(scope))
        for flt in filters:
            known = flt.only(c for c in flt if c.answer is None or c.answer in values)
            where.append(product_filter(known, values))
        return where


def _dumps(filters: Sequence[ProductFilter]) -> list[dict[str, Any]]:
    return [f.dump() for f in filters]
