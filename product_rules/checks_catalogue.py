"""Catalogue facts for the rule checks: which categories and attribute values exist.

Each question the checks ask the catalogue is one ``SELECT DISTINCT`` or ``COUNT`` over
indexed columns, built with the engine's own :func:`~product_rules.query.product_filter`
so the checks read filters exactly as offers do; answers are cached for one
:func:`~product_rules.checks.check_ruleset` call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlmodel import col

from catalog.attributes import vocabulary
from catalog.models import Product
from product_rules.query import column, product_filter

__all__ = ["Catalogue", "Clause", "Path_", "Scope", "clauses", "scope_label", "scope_of"]

Path_ = tuple[str | int, ...]
Scope = tuple[str, ...] | None
"""The categories a rule picks from; None: the whole catalogue."""

_SYMBOLS = {"eq": "==", "ne": "!=", "not_in": "not in", "lt": "<", "le": "<=", "gt": ">"}
_SYMBOLS |= {"ge": ">=", "in": "in"}


@dataclass(frozen=True, slots=True)
class Clause:
    """One ``attribute: value | {op: value}`` entry of a product filter."""

    attribute: str
    op: str
    value: Any
    answer: str | None
    path: Path_

    def items(self) -> list[tuple[Any, Path_]]:
        """The literal values with the path of each, for exact positions."""
        if self.answer is not None:
            return []
        if isinstance(self.value, list):
            return [(v, (*self.path, i)) for i, v in enumerate(self.value)]
        return [(self.value, self.path)]

    def show(self, values: Mapping[str, Any]) -> str:
        """The clause as a merchandiser reads it, answers filled in where known."""
        if self.answer is not None and self.answer not in values:
            return f"{self.attribute} {_SYMBOLS.get(self.op, self.op)} the answer {self.answer}"
        value = values[self.answer] if self.answer is not None else self.value
        op = self.op
        if isinstance(value, list) and op in ("eq", "ne"):
            op = "in" if op == "eq" else "not_in"  # a list means one of its values
        elif not isinstance(value, list) and op in ("in", "not_in"):
            op = "eq" if op == "in" else "ne"
        return f"{self.attribute} {_SYMBOLS.get(op, op)} {value!r}"


def clauses(flt: Mapping[str, Any], path: Path_) -> list[Clause]:
    """The clauses of a product filter at ``path`` in the rule files."""
    result: list[Clause] = []
    for attribute, condition in flt.items():
        at: Path_ = (*path, attribute)
        op, raw = "eq", condition
        if isinstance(condition, dict) and set(condition) != {"answer"} and len(condition) == 1:
            op, raw = next(iter(condition.items()))
            at = (*at, op)
        answer = raw.get("answer") if isinstance(raw, dict) and set(raw) == {"answer"} else None
        value = None if answer is not None else raw
        result.append(
            Clause(attribute, str(op), value, None if answer is None else str(answer), at)
        )
    return result


def scope_of(flt: Mapping[str, Any]) -> Scope:
    """The categories a cross-sell target names, or None when it names none literally."""
    for clause in clauses(flt, ()):
        if clause.attribute == "category" and clause.op in ("eq", "in") and clause.items():
            return tuple(str(v) for v, _ in clause.items())
    return None


def scope_label(scope: Scope) -> str:
    """``road_bike``, ``pedals or shoes``, or ``product`` for the whole catalogue."""
    return " or ".join(scope) if scope else "product"


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
        filters: Sequence[Mapping[str, Any]] = (),
        values: Mapping[str, Any] | None = None,
    ) -> frozenset[Any]:
        """The values of ``attribute`` among products in ``scope`` matching every filter.

        Clauses comparing with an answer missing from ``values`` are left out: they could
        match anything. An answer given as None matches nothing, as in the engine.
        """
        key = json.dumps(["distinct", attribute, scope, filters, values], default=str)
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
        filters: Sequence[Mapping[str, Any]] = (),
        values: Mapping[str, Any] | None = None,
    ) -> int:
        """How many products in ``scope`` match every filter (see :meth:`distinct`)."""
        key = json.dumps(["count", scope, filters, values], default=str)
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
        spec = vocabulary().get(clause.attribute)
        if (
            spec is None
            or spec.type not in ("str", "bool")
            or clause.op not in ("eq", "in")
            or clause.attribute == "category"
        ):
            return []
        present = {_key(v) for v in self.distinct(clause.attribute, scope)}
        return [(item, path) for item, path in clause.items() if _key(item) not in present]

    @staticmethod
    def _where(
        scope: Scope, filters: Sequence[Mapping[str, Any]], values: Mapping[str, Any]
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if scope is not None:
            where.append(col(Product.category).in_(scope))
        for flt in filters:
            known = {
                attribute: condition
                for attribute, condition in flt.items()
                if all(
                    c.answer is None or c.answer in values
                    for c in clauses({attribute: condition}, ())
                )
            }
            where.append(product_filter(known, values))
        return where
