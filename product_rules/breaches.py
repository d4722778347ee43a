"""Breaches: which rule a product breaks, as data (what is wanted, what it has, how far).

The engine asks SQL which products match. When staff ask why one is left out, or a lock
breaks a rule, these functions evaluate the same rules on products already loaded, in
Python with the operators' own Python semantics (:mod:`product_rules.vocabulary`), so no
product costs a query and the reasons agree with the queries. Nothing here writes a
sentence: templates do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.models import Product
from product_rules.clauses import ProductFilter
from product_rules.offers import BreachKind, BreachPayload, WishSourcePayload
from product_rules.schema import Compatibility, RuleSet
from product_rules.vocabulary import Operator
from product_rules.wishes import Wish, number

__all__ = [
    "breach",
    "budget_breach",
    "compatibility_breach",
    "derived_sources",
    "filter_breaches",
    "wish_breach",
]

#: Prices are compared with this tolerance, as in the engine's queries.
CENT = 0.005


def breach(
    rule: str,
    kind: BreachKind,
    label: str,
    attribute: str,
    op: str,
    wanted: Any,
    actual: Any,
    *,
    over_by: float | None = None,
    other: str | None = None,
) -> BreachPayload:
    """One breach, field by field (see :class:`BreachPayload`)."""
    return {
        "rule": rule,
        "kind": kind,
        "label": label,
        "attribute": attribute,
        "op": op,
        "wanted": wanted,
        "actual": actual,
        "over_by": over_by,
        "other": other,
    }


def _over(attribute: str, op: Operator, wanted: Any, actual: Any) -> float | None:
    """How many EUR a price is above its limit; None for anything but a price limit."""
    limit, value = number(wanted), number(actual)
    if attribute != "price" or op.spec.bound != "upper" or limit is None or value is None:
        return None
    return round(max(0.0, value - limit), 2)


def wish_breach(
    wish: Wish,
    product: Product,
    *,
    kind: BreachKind = "hard_wish",
    source: WishSourcePayload | None = None,
) -> BreachPayload | None:
    """The breach of one hard wish (at its current level) by ``product``, or None.

    A dropped wish is not applied and never breached. ``source`` names the answer a
    derived value came from (the frame size from the body height).
    """
    value = wish.effective
    if wish.dropped or value is None:
        return None
    attribute, op = wish.rule.attribute, wish.rule.op
    actual = getattr(product, attribute)
    if isinstance(value, tuple):  # a size widened to a range: ("between", low, high)
        _, low, high = value
        op, wanted = Operator.BETWEEN, [low, high]
    else:
        if isinstance(value, list) and op is Operator.EQ:
            op = Operator.IN
        wanted = value
    fits = op.holds(actual, wanted)
    if fits:
        return None
    found = breach(
        wish.rule.id,
        kind,
        wish.rule.label,
        attribute,
        op,
        wanted,
        actual,
        over_by=_over(attribute, op, wanted, actual),
    )
    if source is not None:
        found["source"] = source
    return found


def budget_breach(wish: Wish, total: float) -> BreachPayload | None:
    """The breach of a bundle budget by an offer's (or a bundle's cheapest) total."""
    limit = number(wish.effective)
    if wish.dropped or limit is None:
        return None
    over = total > limit + CENT if wish.rule.op is Operator.LE else total >= limit
    if not over:
        return None
    return breach(
        wish.rule.id,
        "budget",
        wish.rule.label,
        wish.rule.attribute,
        wish.rule.op,
        limit,
        round(total, 2),
        over_by=round(max(0.0, total - limit), 2),
    )


def filter_breaches(
    flt: ProductFilter,
    product: Product,
    values: Mapping[str, Any],
    *,
    rule: str,
    label: str,
    kind: BreachKind = "requirement",
) -> list[BreachPayload]:
    """One breach per clause of a product filter (``{cleat_system: {in: [...]}}``)."""
    breaches: list[BreachPayload] = []
    for clause in flt:
        actual = getattr(product, clause.attribute)
        if clause.holds(actual, values):
            continue
        wanted = clause.resolve(values)
        attribute, op = clause.attribute, clause.op
        breaches.append(
            breach(
                rule,
                kind,
                label,
                attribute,
                op,
                wanted,
                actual,
                over_by=_over(attribute, op, wanted, actual),
            )
        )
    return breaches


def compatibility_breach(rule: Compatibility, product: Product, other: Product) -> BreachPayload:
    """Why ``product`` does not fit ``other`` under ``rule`` (known not to hold)."""
    if rule.equal is not None:
        attribute, op = rule.equal, Operator.EQ.value
        wanted, actual = getattr(other, attribute), getattr(product, attribute)
    else:  # a pairs table or the catalogue's relations, by model
        attribute, op = "group_sku", "compatible"
        wanted, actual = other.group_sku, product.group_sku
    return breach(
        rule.id, "compatibility", rule.label, attribute, op, wanted, actual, other=other.sku
    )


def derived_sources(ruleset: RuleSet, values: Mapping[str, Any]) -> dict[str, WishSourcePayload]:
    """For each derived value present, the answer it was computed from (first source)."""
    sources: dict[str, WishSourcePayload] = {}
    for derived in ruleset.derived:
        if derived.id not in values:
            continue
        used = next((s.source for s in derived.sources if values.get(s.source) is not None), None)
        if used is not None:
            sources[derived.id] = {"answer": used, "value": values[used]}
    return sources
