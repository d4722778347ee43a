"""Wishes: hard filters as they apply to one request, and how far each is loosened.

A wish has levels: 0 is what the shopper asked, 1..n are the rule's ``relax`` steps in
order, and the last level drops the wish (always possible, so the advisor never ends with
nothing to show).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, true

from product_rules.i18n import N_, gettext, quantity
from product_rules.query import compare
from product_rules.schema import Filter
from product_rules.text import money
from product_rules.vocabulary import Operator, attributes

__all__ = ["Wish", "number"]

#: The shopper-visible wording of a loosened wish, by kind: gettext messages of
#: product_rules' own domain (:mod:`product_rules.i18n`), in the current language.
WORDING: dict[str, str] = {
    "closest": N_("{label}: nothing within {asked}, showing the closest"),
    "without": N_("without {label}"),
    "range": N_("{label}: {low} to {high} instead of exactly {asked}"),
    "upper": N_("{label}: up to {value} instead of {asked}"),
    "lower": N_("{label}: from {value} instead of {asked}"),
    "other": N_("{label}: {value} instead of {asked}"),
    "or": N_(" or "),
}


def _wording(key: str) -> str:
    return gettext(WORDING[key])


def number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class Wish:
    """A hard filter with the value asked for and its current loosening level."""

    rule: Filter
    value: Any
    level: int = 0
    #: A bound computed from the catalogue ("the cheapest match costs 2,499 EUR") that
    #: replaces the rule's steps when they are not enough; ``level`` is 1 then.
    override: float | None = None

    @property
    def max_level(self) -> int:
        """The level that drops the wish."""
        return len(self.rule.relax) + 1

    @property
    def dropped(self) -> bool:
        """Whether the wish is not applied at all."""
        return self.level >= self.max_level

    @property
    def loosened(self) -> bool:
        """Whether the wish is applied less strictly than asked."""
        return self.level > 0

    def at(self, level: int) -> Wish:
        """The same wish at another level."""
        return replace(self, level=max(0, min(level, self.max_level)), override=None)

    def bounded(self, bound: float) -> Wish:
        """The wish widened exactly to ``bound`` (for ``le``/``ge`` style wishes)."""
        return replace(self, level=1, override=bound)

    @property
    def effective(self) -> Any:
        """The value applied at this level: as asked, widened, or substituted."""
        if self.override is not None and not self.dropped:
            return self.override
        if self.level == 0 or self.dropped:
            return self.value
        step = self.rule.relax[self.level - 1]
        base = number(self.value)
        if step.widen_pct is not None and base is not None:
            factor = 1 + step.widen_pct / 100
            return (
                round(base * factor, 2)
                if self.rule.op.spec.bound == "upper"
                else round(base / factor, 2)
            )
        if step.widen_by is not None and base is not None:
            return (Operator.BETWEEN, base - step.widen_by, base + step.widen_by)
        if step.substitute is not None:
            current = self.value if isinstance(self.value, list) else [self.value]
            extra = [v for c in current for v in step.substitute.get(str(c), [])]
            return list(dict.fromkeys([*current, *extra]))
        if step.drop:
            return None
        return self.value

    def predicate(self) -> ColumnElement[bool]:
        """The SQL condition at this level."""
        value = self.effective
        if self.dropped or value is None:
            return true()
        if isinstance(value, tuple):  # ("between", low, high), a size widened to a range
            return compare(self.rule.attribute, Operator.BETWEEN, value[1:])
        return compare(self.rule.attribute, self.rule.op, value)

    def describe(self) -> str:
        """What loosening this wish means, in the shopper's words and language."""
        label, asked = self.rule.label, self._show(self.value)
        if self.dropped:
            if self.rule.op.spec.bound == "upper" and number(self.value) is not None:
                return _wording("closest").format(label=label, asked=asked)
            return _wording("without").format(label=label)
        value = self.effective
        if isinstance(value, tuple):
            low, high = self._show(value[1]).split(" ")[0], self._show(value[2])
            return _wording("range").format(label=label, low=low, high=high, asked=asked)
        key = {"upper": "upper", "lower": "lower"}.get(str(self.rule.op.spec.bound), "other")
        return _wording(key).format(label=label, value=self._show(value), asked=asked)

    def cost(self) -> int:
        """How much loosening this wish weighs: importance, scaled by how far it went."""
        if not self.loosened:
            return 0
        asked = number(self.value)
        if self.override is not None and asked:
            # A computed bound weighs by how far it moves: doubling a budget costs about
            # as much as dropping the wish.
            stretch = abs(self.override - asked) / abs(asked)
            return round(self.rule.importance * min(10.0, 1 + 10 * stretch))
        return self.rule.importance * (10 if self.dropped else self.level)

    def _show(self, value: Any) -> str:
        amount = number(value)
        if self.rule.attribute == "price" and amount is not None:
            return money(value)
        if isinstance(value, list):
            return _wording("or").join(str(v) for v in value)
        if amount is not None:
            spec = attributes().get(self.rule.attribute)
            # Shoppers read "from 500 Wh", not "from 500.0" or "from 50.48"; "8,5 kg" in German.
            whole = spec is None or spec.type == "int" or amount >= 100
            unit = spec.unit if spec is not None else None
            return quantity(round(amount) if whole else amount, unit, digits=0 if whole else 1)
        return str(value)
