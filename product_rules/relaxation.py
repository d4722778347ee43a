"""Find the smallest loosening of the shopper's wishes that leaves something to offer.

The search works on *correction sets*: sets of wishes whose loosening makes the query
return products. With up to :data:`EXHAUSTIVE_LIMIT` wishes every subset is tried by
size, so all minimal correction sets of the smallest size are found and offered to the
shopper as choices with their counts. Beyond that, one minimal set is found by linear
deletion (drop all, then restore the most important wishes while something still
matches), the same idea QuickXPlain applies to conflicts. In each set, every wish is
then tightened back as far as it goes: a budget widened by 15 % rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from product_rules.wishes import Wish

__all__ = ["Choice", "EXHAUSTIVE_LIMIT", "relax"]

#: Up to this many relaxable wishes, every subset is tried (2^8 = 256 at worst).
EXHAUSTIVE_LIMIT = 8

Counter = Callable[[Sequence[Wish]], int]
Matches = Callable[[Sequence[Wish]], bool]
#: The tightest bound of one wish's attribute under the other wishes (MIN(price) ...).
Bound = Callable[[Sequence[Wish], Wish], float | None]


@dataclass(frozen=True, slots=True)
class Choice:
    """One way out: the wishes as loosened, and how many products match then."""

    wishes: tuple[Wish, ...]
    count: int

    @property
    def loosened(self) -> list[Wish]:
        """The wishes this choice loosens."""
        return [w for w in self.wishes if w.loosened]

    @property
    def cost(self) -> int:
        """Total weight of what is loosened: the smallest is offered first."""
        return sum(w.cost() for w in self.wishes)

    def describe(self) -> list[str]:
        """What the shopper gives up, one phrase per loosened wish."""
        return [w.describe() for w in self.loosened]


def relax(
    wishes: Sequence[Wish],
    count: Counter,
    *,
    exists: Callable[[Sequence[Wish]], bool] | None = None,
    bound: Bound | None = None,
    max_choices: int = 3,
) -> list[Choice]:
    """Choices that make ``count`` positive, best (cheapest) first; [] if nothing needs it.

    Args:
        wishes: The hard wishes as asked (level 0).
        count: Counts the products matching a list of wishes (one SQL query); only the
            choices shown are counted.
        exists: Whether anything matches (``EXISTS``, far cheaper than a count on a big
            catalogue); the search itself needs no more. Defaults to ``count > 0``.
        bound: Finds the bound a numeric wish needs when its steps are not enough (the
            cheapest price that matches the other wishes), so the shopper hears "up to
            €2,499" rather than "no budget".
        max_choices: How many alternatives to return at most.
    """
    base = tuple(wishes)
    matches = exists or (lambda ws: count(ws) > 0)
    if not base or matches(base):
        return []
    if len(base) <= EXHAUSTIVE_LIMIT:
        sets = _minimal_sets_exhaustive(base, matches)
    else:
        found = _minimal_set_linear(base, matches)
        sets = [found] if found is not None else []
    tightened = [_tighten(base, indices, matches, bound) for indices in sets]
    tightened.sort(key=lambda ws: sum(w.cost() for w in ws))
    return [Choice(ws, count(ws)) for ws in tightened[:max_choices]]


def _with_dropped(base: tuple[Wish, ...], indices: Sequence[int]) -> tuple[Wish, ...]:
    chosen = set(indices)
    return tuple(w.at(w.max_level) if i in chosen else w for i, w in enumerate(base))


def _minimal_sets_exhaustive(base: tuple[Wish, ...], matches: Matches) -> list[tuple[int, ...]]:
    """All minimal correction sets of the smallest size that has any."""
    for size in range(1, len(base) + 1):
        found = [c for c in combinations(range(len(base)), size) if matches(_with_dropped(base, c))]
        if found:
            return found
    return []


def _minimal_set_linear(base: tuple[Wish, ...], matches: Matches) -> tuple[int, ...] | None:
    """One minimal correction set by linear deletion, restoring important wishes first."""
    dropped = set(range(len(base)))
    if not matches(_with_dropped(base, sorted(dropped))):
        return None
    for i in sorted(dropped, key=lambda i: -base[i].rule.importance):
        trial = dropped - {i}
        if matches(_with_dropped(base, sorted(trial))):
            dropped = trial
    return tuple(sorted(dropped))


def _tighten(
    base: tuple[Wish, ...], indices: tuple[int, ...], matches: Matches, bound: Bound | None
) -> tuple[Wish, ...]:
    """Bring each loosened wish back to the gentlest level that still matches."""
    current = list(_with_dropped(base, indices))
    for i in indices:
        wish = base[i]
        others = [w for j, w in enumerate(current) if j != i]
        if bound is not None and wish.rule.op.spec.bound is not None:
            # With the tightest bound the others allow known, no step needs a query: a
            # step reaching the bound matches (the bounding product does), one short of
            # it cannot.
            limit = bound(others, wish)
            if limit is not None:
                current[i] = _gentlest_reaching(wish, limit)
            continue
        for level in range(1, wish.max_level):
            trial = [*current]
            trial[i] = wish.at(level)
            if matches(trial):
                current = trial
                break
    return tuple(current)


def _gentlest_reaching(wish: Wish, limit: float) -> Wish:
    for level in range(1, wish.max_level):
        step = wish.at(level)
        value = step.effective
        # A step reaches the bound when the product at the bound passes it.
        if isinstance(value, int | float) and not isinstance(value, bool):
            if wish.rule.op.holds(limit, value):
                return step
    return wish.bounded(limit)
