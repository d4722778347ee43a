"""The expert view: every ranked candidate with its score, and who was left out and why.

Both come from work the engine does anyway. Candidates are the rows the ranking read;
exclusions cost one bounded query per request: the main products nearest the shopper's
price that fail at least one hard wish (fewest failed wishes first), whose reasons are
then evaluated on the loaded rows in Python (:mod:`product_rules.breaches`).

The exclusion statement is prepared once per shape of the wishes (which wishes apply,
with which operator) with every value a bound parameter: building a statement of this
size costs SQLAlchemy more Python time than the database needs to answer it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    bindparam,
    case,
    func,
    literal,
    union_all,
)
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from catalog.models import Product
from product_rules.breaches import CENT, budget_breach, wish_breach
from product_rules.bundles import bundle_budget
from product_rules.offers import (
    BreachPayload,
    CandidatePayload,
    CandidateStatus,
    ExclusionPayload,
)
from product_rules.picking import RequirementPlan
from product_rules.query import column, offerable, product_filter
from product_rules.scoring import ScorePart, points
from product_rules.vocabulary import Operator
from product_rules.wishes import Wish, number

__all__ = ["EXCLUSION_ROWS", "Exclusions", "Ranked", "candidates"]

#: Excluded products shown to staff.
EXCLUSION_ROWS = 20

#: Rows read on each side of the shopper's price to choose them from (index walks).
EXCLUSION_SCAN = 100


@dataclass(slots=True)
class Ranked:
    """A main product as one ranking round saw it: its part values and what became of it.

    Cheap to record; only the round whose offers are kept is turned into payloads.
    """

    product: Product
    values: tuple[Any, ...]
    status: CandidateStatus = "not_needed"
    offer_rank: int | None = None
    note: str = ""


def candidates(
    ranked: Sequence[Ranked],
    parts: Sequence[ScorePart],
    attributes: Callable[[Product], dict[str, Any]],
) -> list[CandidatePayload]:
    """The candidates of a ranking round, in ranking order, with their score parts."""
    result: list[CandidatePayload] = []
    for seen in ranked:
        product = seen.product
        score, shown = points(parts, seen.values)
        result.append(
            {
                "sku": product.sku,
                "name": product.name,
                "group_sku": product.group_sku,
                "price": round(product.price, 2),
                "stock": product.stock,
                "margin_pct": product.margin_pct,
                "attributes": attributes(product),
                "score": score,
                "parts": shown,
                "status": seen.status,
                "offer_rank": seen.offer_rank,
                "note": seen.note,
            }
        )
    return result


#: Prepared statements kept per engine (one per shape of the wishes); cleared when full.
STATEMENTS = 256


def _check(attribute: str, op: Operator, name: str) -> ColumnElement[bool]:
    """``attribute <op> :name`` with the value bound at execution (``compare``'s twin)."""
    operand: Any
    if op.spec.operand == "range":
        operand = (bindparam(f"{name}_low"), bindparam(f"{name}_high"))
    elif op.spec.operand == "list":
        operand = bindparam(name, expanding=True)
    else:
        operand = bindparam(name)
    # The operand is already what the operator compares with (see _bind): no normalizing.
    return op.spec.sql(column(attribute), operand)


def _bind(wish: Wish, name: str, params: dict[str, Any]) -> Operator | None:
    """Put a wish's value into ``params``; the operator it is checked with, or None."""
    value = wish.effective
    if wish.dropped or value is None:
        return None
    if isinstance(value, tuple):  # ("between", low, high)
        params[f"{name}_low"], params[f"{name}_high"] = value[1], value[2]
        return Operator.BETWEEN
    op, operand = wish.rule.op.normalized(value)  # as compare(): a list means one of
    params[name] = list(operand) if op.spec.operand == "list" else operand
    return op


def _reasons(
    plan: RequirementPlan, product: Product, wishes: Sequence[Wish]
) -> list[BreachPayload]:
    budget_wish = bundle_budget(wishes)
    reasons: list[BreachPayload] = []
    for wish in wishes:
        if wish is budget_wish:
            found = budget_breach(wish, product.price + plan.extra_for(product))
        else:
            source = plan.sources.get(wish.rule.answer) if wish.rule.answer else None
            found = wish_breach(wish, product, source=source)
        if found is not None:
            reasons.append(found)
    return reasons


class Exclusions:
    """Main products of one category that fail a hard wish, nearest misses first.

    Nearest means the fewest failed wishes, then the price closest to the anchor (the
    budget, else the first offer's price). The query walks the price index from the
    anchor up and down, :data:`EXCLUSION_SCAN` rows each way, so its cost does not grow
    with the catalogue. A bundle budget counts the cheapest required items too, as the
    offer query does; the reason's ``actual`` is then that total.
    """

    def __init__(self, category: str, *, limit: int = EXCLUSION_ROWS) -> None:
        self.category = category
        self.limit = limit
        self._statements: dict[Hashable, SelectOfScalar[Product]] = {}
        self._lock = threading.Lock()

    def find(
        self,
        plan: RequirementPlan,
        wishes: Sequence[Wish],
        *,
        anchor: float | None,
        skip: Collection[str] = (),
    ) -> list[ExclusionPayload]:
        """The excluded products for the wishes as finally applied (after relaxation).

        Args:
            plan: The request's plan (session, answers, requirement candidates, sources).
            wishes: The hard wishes as applied.
            anchor: The price to look around; None: from the cheapest up.
            skip: SKUs not to list (excluded by staff, pinned).
        """
        params: dict[str, Any] = {"category": self.category}
        budget_wish = bundle_budget(wishes)
        checks: list[tuple[str, Operator, bool]] = []
        for i, wish in enumerate(wishes):
            op = _bind(wish, f"w{i}", params)
            if op is not None:
                checks.append((wish.rule.attribute, op, wish is budget_wish))
        if not checks:
            return []
        extras: list[tuple[str, str]] = []
        if budget_wish is not None and (limit := number(budget_wish.effective)) is not None:
            params["bundle_limit"] = limit + CENT
            for j, (requirement, cheapest) in enumerate(plan.extras()):
                applies = requirement.if_item.resolved(plan.values).dump()
                extras.append((requirement.id, json.dumps(applies, sort_keys=True, default=str)))
                params[f"extra_{j}"] = cheapest
        if anchor is not None:
            params["anchor"] = anchor
        if skip:
            params["skip"] = sorted(skip)
        shape = (tuple(checks), tuple(extras), anchor is None, bool(skip))
        with self._lock:
            statement = self._statements.get(shape)
        if statement is None:
            statement = self._statement(plan, checks, len(extras), anchor is None, bool(skip))
            with self._lock:
                if len(self._statements) >= STATEMENTS:
                    self._statements.clear()
                self._statements[shape] = statement
        loaded = list(plan.session.exec(statement, params=params))
        # IN keeps no order: sort again by the same keys (the misses are the reasons).
        found = [(item, _reasons(plan, item, wishes)) for item in loaded]
        found.sort(
            key=lambda pair: (
                len(pair[1]),
                abs(pair[0].price - anchor) if anchor is not None else pair[0].price,
                pair[0].id or 0,
            )
        )
        return [
            {"sku": item.sku, "name": item.name, "price": round(item.price, 2), "reasons": reasons}
            for item, reasons in found
            if reasons  # a cent's rounding apart from SQL: not worth showing
        ]

    def _statement(
        self,
        plan: RequirementPlan,
        checks: Sequence[tuple[str, Operator, bool]],
        extras: int,
        from_cheapest: bool,
        skip: bool,
    ) -> SelectOfScalar[Product]:
        extra: ColumnElement[float] = literal(0.0)
        for j, (requirement, _) in enumerate(plan.extras()[:extras]):
            applies = product_filter(requirement.if_item.resolved(plan.values), {})
            amount = bindparam(f"extra_{j}", type_=Float())
            extra = extra + case((applies, amount), else_=literal(0.0))
        misses: ColumnElement[int] = literal(0)
        for i, (attribute, op, bundle) in enumerate(checks):
            check = _check(attribute, op, f"w{i}")
            if bundle:
                check = and_(check, col(Product.price) + extra <= bindparam("bundle_limit"))
            misses = misses + case((check, 0), else_=1)
        where = [col(Product.category) == bindparam("category"), offerable(), misses > 0]
        if skip:
            where.append(col(Product.sku).not_in(bindparam("skip", expanding=True)))
        price, ident = col(Product.price), col(Product.id)
        anchor = bindparam("anchor", type_=Float())
        sides: list[tuple[ColumnElement[bool] | None, Any, Any]] = (
            [(None, price, ident)]
            if from_cheapest
            else [(price >= anchor, price, ident), (price < anchor, price.desc(), ident.desc())]
        )
        walks = []
        for side, *order in sides:
            # Narrow rows (id, price, misses) until the winners are known.
            walk = (
                select(ident.label("id"), price.label("price"), misses.label("misses"))
                .where(*where, *([] if side is None else [side]))
                .order_by(*order)
                .limit(EXCLUSION_SCAN)
                .subquery()
            )
            walks.append(walk.select())
        rows = union_all(*walks).subquery() if len(walks) > 1 else walks[0].subquery()
        nearness = rows.c.price if from_cheapest else func.abs(rows.c.price - anchor)
        nearest = select(rows.c.id).order_by(rows.c.misses, nearness, rows.c.id)
        return select(Product).where(ident.in_(nearest.limit(self.limit)))
