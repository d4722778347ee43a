"""Reading the items an offer needs: ordered queries, a short cache, the request's plan.

:class:`RequirementPlan` is what one request knows about its required items: the
candidates of every requirement (read once, not once per candidate bike), the staff's
locks and the products they name, and the trace. The bundle builder asks it for the
item that fulfils a requirement of a main product.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, literal
from sqlmodel import Session, col, select

from catalog.models import Product
from product_rules.breaches import derived_sources
from product_rules.clauses import ProductFilter
from product_rules.i18n import gettext
from product_rules.locks import Locks, load_components, lock_entry
from product_rules.offers import ComponentOptionPayload, TraceEntry, WishSourcePayload
from product_rules.query import indicator, matches_item, offerable, product_filter
from product_rules.schema import Requirement, Selection
from product_rules.text import render_text
from product_rules.vocabulary import Operator

if TYPE_CHECKING:
    from product_rules.bundles import BundleBuilder

__all__ = ["RequirementPlan", "ShortCache", "preference", "top_products"]

#: Candidates read for one required item, so an incompatible first pick has alternatives.
REQUIRED_CANDIDATES = 8

#: An ``in`` condition with at most this many values is split into one query per value.
SPLIT_IN_LIMIT = 6


def preference(prefer: str) -> list[Any]:
    """ORDER BY terms for a preference, on rows already filtered to what is in stock.

    Plain columns only, so an index on (category, price) or (category, stock, margin)
    can hand the rows over in order instead of sorting a whole category.
    """
    if prefer == "cheapest":
        terms: list[Any] = [col(Product.price)]
    elif prefer == "margin":
        terms = [col(Product.margin_pct).desc(), col(Product.price)]
    else:  # best: the deepest stock (what sells) first, then margin
        terms = [col(Product.stock).desc(), col(Product.margin_pct).desc()]
    return [*terms, col(Product.id)]  # id, not sku: the index holds it (rowid), no extra sort


def _sort_key(prefer: str) -> Callable[[Product], tuple[Any, ...]]:
    """The Python twin of :func:`preference`, for merging rows from several queries."""
    if prefer == "cheapest":
        return lambda p: (p.price, p.id)
    if prefer == "margin":
        return lambda p: (-p.margin_pct, p.price, p.id)
    return lambda p: (-p.stock, -p.margin_pct, p.id)


class ShortCache:
    """Query results kept for a few seconds, shared by the requests of one engine.

    Pedals for a cleat system or the best-stocked helmets are the same for every shopper
    asking within the same seconds; stock moves far slower than chats. Bounded in size.
    """

    def __init__(self, ttl: float = 5.0, size: int = 512) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, list[Product]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], list[Product]]) -> list[Product]:
        """The cached rows for ``key``, loaded when missing or older than ``ttl``."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        rows = load()
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()  # cheap and rare: a burst of distinct filters
            self._items[key] = (now + self.ttl, rows)
        return rows


def top_products(
    session: Session,
    flt: ProductFilter,
    values: Mapping[str, Any],
    *,
    prefer: str,
    limit: int,
    in_stock: bool,
    cache: ShortCache | None = None,
) -> list[Product]:
    """The first ``limit`` in-stock (or out-of-stock) products matching ``flt``.

    ``cleat_system in [spd_sl, look_keo]`` ordered by price cannot be read in order from
    an index: the database would sort every matching row (tens of thousands on a big
    catalogue). One query per value reads each in index order and stops after
    ``limit`` rows; merging a few short lists is free.
    """
    resolved = flt.resolved(values)
    splits = [resolved]
    for clause in resolved:
        if clause.op is Operator.IN and clause.explicit:
            options = clause.value
            if isinstance(options, list) and 1 < len(options) <= SPLIT_IN_LIMIT:
                splits = [resolved.where(clause.attribute, option) for option in options]
            break
    stock = col(Product.stock) > 0 if in_stock else col(Product.stock) <= 0

    def load() -> list[Product]:
        rows: list[Product] = []
        for part in splits:
            statement = (
                select(Product)
                .where(product_filter(part, {}), stock, offerable())
                .order_by(*preference(prefer))
                .limit(limit)
            )
            rows.extend(session.exec(statement))
        if len(splits) > 1:
            rows.sort(key=_sort_key(prefer))
        return rows[:limit]

    if cache is None:
        return load()
    key = json.dumps([resolved.dump(), prefer, limit, in_stock], sort_keys=True, default=str)
    return cache.get(key, load)


@dataclass(slots=True)
class _Candidates:
    """The items that may fulfil one requirement in this request, best first."""

    requirement: Requirement
    selection: Selection
    in_stock: list[Product]
    out_of_stock: list[Product] | None  # read only when nothing in stock fits

    @property
    def filter(self) -> ProductFilter:
        return self.selection.filter

    @property
    def reason(self) -> str:
        return self.selection.reason

    @property
    def cheapest(self) -> float:
        pool = self.in_stock or self.out_of_stock or []
        return min((p.price for p in pool), default=0.0)


class RequirementPlan:
    """One request's required items, locks and trace, read once per request.

    Attributes:
        session: The request's database session.
        values: Answers plus derived values.
        locks: The staff's overrides (empty for shoppers).
        trace: The request's explanation trace, appended to by every stage.
        sources: Derived value id to the answer it came from (frame size from height).
        products: Every product placed in an offer during this request, by SKU, so
            cross-sell can check fit without loading them again.
    """

    def __init__(
        self,
        builder: BundleBuilder,
        session: Session,
        values: Mapping[str, Any],
        *,
        locks: Locks | None = None,
        trace: list[TraceEntry] | None = None,
    ) -> None:
        self._builder = builder
        self.session = session
        self.values = values
        self.locks = locks if locks is not None else Locks()
        self.trace: list[TraceEntry] = trace if trace is not None else []
        self.products: dict[str, Product] = {}
        self.sources: dict[str, WishSourcePayload] = derived_sources(builder.ruleset, values)
        self._excluded = frozenset(self.locks.excluded)
        self._chosen = load_components(session, self.locks) if self.locks.components else {}
        self._noted: set[tuple[str, str]] = set()
        self._extras: list[tuple[Requirement, float]] | None = None
        self.candidates: dict[str, _Candidates | None] = {}
        for requirement in builder.ruleset.requirements:
            self.candidates[requirement.id] = self._select(requirement)

    def _query(self, requirement: Requirement, flt: ProductFilter, in_stock: bool) -> list[Product]:
        rows = top_products(
            self.session,
            flt.where("category", requirement.category),
            self.values,
            prefer=requirement.prefer,
            limit=REQUIRED_CANDIDATES,
            in_stock=in_stock,
            cache=self._builder.cache,
        )
        return [p for p in rows if p.sku not in self._excluded] if self._excluded else rows

    def _select(self, requirement: Requirement) -> _Candidates | None:
        for selection in requirement.select:
            if not self._builder.holds(selection.when, self.values):
                continue
            in_stock = self._query(requirement, selection.filter, True)
            out = None if in_stock else self._query(requirement, selection.filter, False)
            if in_stock or out:
                return _Candidates(requirement, selection, in_stock, out)
        return None

    def selection(self, requirement: Requirement) -> Selection | None:
        """The selection that applies to this request, if any.

        That is the one the picks come from, else the first whose condition holds; its
        filter is what an item chosen by staff must meet.
        """
        found = self.candidates.get(requirement.id)
        if found is not None:
            return found.selection
        holding = (s for s in requirement.select if self._builder.holds(s.when, self.values))
        return next(holding, None)

    def extras(self) -> list[tuple[Requirement, float]]:
        """The requirements that add to a main product's price, with their cheapest item.

        Fixed once the plan is read (a pool read later only backs up a non-empty one).
        """
        if self._extras is None:
            self._extras = []
            for requirement in self._builder.ruleset.requirements:
                found = self.candidates.get(requirement.id)
                if found is not None and found.cheapest > 0:
                    self._extras.append((requirement, found.cheapest))
        return self._extras

    def extra_sql(self) -> ColumnElement[float]:
        """What the required items add to a main product's price at least, as SQL."""
        extra: ColumnElement[float] = literal(0.0)
        for requirement, cheapest in self.extras():
            applies = product_filter(requirement.if_item, self.values)
            extra = extra + case((applies, literal(cheapest)), else_=literal(0.0))
        return extra

    def extra_for(self, main: Product) -> float:
        """The Python twin of :meth:`extra_sql` for one loaded main product."""
        extra = 0.0
        for requirement, cheapest in self.extras():
            if matches_item(requirement.if_item, main, self.values):
                extra += cheapest
        return extra

    def note(self, rule: str, message: str) -> None:
        """Trace a lock once per request, however many bundles apply it."""
        if (rule, message) not in self._noted:
            self._noted.add((rule, message))
            self.trace.append(lock_entry(rule, message))

    def locked(self, main: Product, requirement: Requirement) -> Product | None:
        """The item staff chose for this requirement of ``main``, if any can be used."""
        sku = self.locks.components.get(main.sku, {}).get(requirement.id)
        if sku is None:
            return None
        product = self._chosen.get(sku)
        if sku in self._excluded:
            self.note(
                requirement.id,
                gettext("{main}: {sku} chosen by staff but excluded").format(
                    main=main.sku, sku=sku
                ),
            )
        elif product is None:
            self.note(
                requirement.id,
                gettext("{main}: {sku} chosen by staff, not in the catalogue").format(
                    main=main.sku, sku=sku
                ),
            )
        else:
            self.note(
                requirement.id,
                gettext("{main}: {sku} chosen by staff ({label})").format(
                    main=main.sku, sku=sku, label=requirement.label
                ),
            )
            return product
        return None

    def pick(
        self, requirement: Requirement, remaining: float | None, chosen: Sequence[Product]
    ) -> tuple[Product, str] | None:
        """The best fitting item: in stock and within the remaining budget first."""
        found = self.candidates.get(requirement.id)
        if found is None:
            return None
        for pool in (found.in_stock, None):
            if pool is None:  # nothing in stock fits: look at what can be ordered
                if found.out_of_stock is None:
                    found.out_of_stock = self._query(requirement, found.filter, False)
                pool = found.out_of_stock
            fitting = [
                p for p in pool if all(self._builder.compatible(self.session, p, o) for o in chosen)
            ]
            if not fitting:
                continue
            within = [p for p in fitting if remaining is None or p.price <= remaining + 0.005]
            product = (within or fitting)[0]
            return product, render_text(found.reason, item=product, answers=self.values)
        return None

    def options(
        self, main: Product, requirement: Requirement, *, limit: int
    ) -> list[ComponentOptionPayload]:
        """Items staff may choose for ``requirement`` of ``main``, fitting ones first.

        One query: the requirement's category without the excluded SKUs, those meeting
        the selection's filter first, then in stock, then the requirement's preference.
        Each item is checked like a chosen one (:meth:`BundleBuilder.component_problems`)
        against the main product and the items staff chose for its other requirements.
        """
        others = [main]
        for other in self._builder.ruleset.requirements:
            chosen = self.locked(main, other) if other is not requirement else None
            if chosen is not None:
                others.append(chosen)
        selection = self.selection(requirement)
        meets = (
            indicator(product_filter(selection.filter, self.values))
            if selection is not None
            else literal(1.0)
        )
        where = [col(Product.category) == requirement.category, offerable()]
        if self._excluded:
            where.append(col(Product.sku).not_in(sorted(self._excluded)))
        statement = (
            select(Product)
            .where(*where)
            .order_by(
                meets.desc(),
                indicator(col(Product.stock) > 0).desc(),
                *preference(requirement.prefer),
            )
            .limit(limit)
        )
        options: list[ComponentOptionPayload] = []
        for product in self.session.exec(statement):
            problems = self._builder.component_problems(self, main, requirement, product, others)
            options.append(
                {
                    "sku": product.sku,
                    "name": product.name,
                    "price": round(product.price, 2),
                    "in_stock": product.in_stock,
                    "attributes": self._builder.attributes(product),
                    "fits": not problems,
                    "problems": problems,
                }
            )
        options.sort(key=lambda o: (not o["fits"], not o["in_stock"]))  # stable
        return options
