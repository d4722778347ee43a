"""The ranking score, as named parts that add up.

Every term of the score is a :class:`ScorePart`: one per soft wish, the rule set's push
factors (``in_stock``, ``margin``, ``price_fit``) and the penalties of loosened wishes
(``distance:<filter>`` once a size is widened, ``over:<filter>`` once a limit such as the
budget is passed). Each part is a labelled SQL column of the retrieval query and the
score is their sum, so staff see exactly the numbers the ranking used.

Part ids are stable and are what templates should key on; labels are the filter's label
or, for the push factors, a short fallback from :data:`RANKING_LABELS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, literal
from sqlmodel import col

from catalog.models import Product
from product_rules.i18n import N_, gettext
from product_rules.offers import ScorePartPayload
from product_rules.query import column, compare, distance, indicator
from product_rules.schema import Filter, Ranking
from product_rules.vocabulary import Operator
from product_rules.wishes import Wish, number

__all__ = ["RANKING_LABELS", "ScorePart", "points", "ranking_label", "score_parts", "total"]

#: Fallback labels of the parts that no filter names (English msgids of product_rules'
#: catalogue: shown in the language of the step, see :func:`ranking_label`).
RANKING_LABELS = {
    "in_stock": N_("in stock"),
    "margin": N_("margin"),
    "price_fit": N_("uses the budget"),
}


def ranking_label(part: str) -> str:
    """The label of a ranking part in the current language."""
    return gettext(RANKING_LABELS[part])


#: Points are rounded to this many decimals; the score is the sum of the rounded parts.
DECIMALS = 3

#: Penalty weights of loosened wishes: per cm (or unit) away from the asked size, and per
#: multiple of the asked limit (beyond the budget: cheapest first).
DISTANCE_WEIGHT = 0.5
OVER_WEIGHT = 5.0


@dataclass(frozen=True, slots=True)
class ScorePart:
    """One named term of the score, as a SQL expression over a product row."""

    id: str
    label: str
    expression: ColumnElement[Any]


def score_parts(
    ranking: Ranking, wishes: Sequence[Wish], soft: Sequence[tuple[Filter, Any]]
) -> list[ScorePart]:
    """The parts of the score for this request, in the order they are summed."""
    parts: list[ScorePart] = []
    for rule, value in soft:
        matches = indicator(compare(rule.attribute, rule.op, value))
        parts.append(ScorePart(rule.id, rule.label, matches * rule.weight))
    in_stock = indicator(col(Product.stock) > 0) * ranking.in_stock
    parts.append(ScorePart("in_stock", ranking_label("in_stock"), in_stock))
    margin = col(Product.margin_pct) / 10.0 * ranking.margin
    parts.append(ScorePart("margin", ranking_label("margin"), margin))
    for wish in wishes:
        asked = number(wish.value)
        rule = wish.rule
        if asked is None or not wish.loosened and rule.op is Operator.EQ:
            continue
        if rule.op is Operator.EQ:  # once loosened, the closer to what was asked the better
            penalty = -(distance(rule.attribute, asked) * DISTANCE_WEIGHT)
            parts.append(ScorePart(f"distance:{rule.id}", rule.label, penalty))
        elif rule.op.spec.bound == "upper" and asked > 0:
            share = column(rule.attribute) / asked
            if wish.loosened:
                parts.append(ScorePart(f"over:{rule.id}", rule.label, -(share * OVER_WEIGHT)))
            elif rule.attribute == "price":
                part = (
                    "price_fit"
                    if all(p.id != "price_fit" for p in parts)
                    else f"price_fit:{rule.id}"
                )
                parts.append(ScorePart(part, ranking_label("price_fit"), share * ranking.price_fit))
    return parts


def total(terms: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """The score: the terms summed left to right from 0 (the ranking's order of terms).

    Pass the parts' columns of a subquery rather than their expressions, so each part is
    computed once and the score is exactly the sum of what staff are shown.
    """
    score: ColumnElement[Any] = literal(0.0)
    for term in terms:
        score = score + term
    return score


def points(parts: Sequence[ScorePart], row: Sequence[Any]) -> tuple[float, list[ScorePartPayload]]:
    """The score and its parts from a row of part values, rounded so that they add up."""
    shown: list[ScorePartPayload] = [
        {"part": part.id, "label": part.label, "points": round(float(value or 0.0), DECIMALS)}
        for part, value in zip(parts, row, strict=True)
    ]
    return round(sum(p["points"] for p in shown), DECIMALS), shown
