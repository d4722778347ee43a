"""Turn a main product into a ready-to-use offer: required items, fit checks, alerts, reasons."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog.attributes import vocabulary
from catalog.models import Product, ProductRelation, RelationKind
from product_rules.offers import OfferItemPayload, OfferPayload, Role, TraceEntry
from product_rules.query import matches_item, product_filter, resolve_value
from product_rules.schema import Compatibility, ConditionSpec, Filter, Requirement, RuleSet
from product_rules.text import money, render_text
from product_rules.wishes import Wish

__all__ = [
    "BundleBuilder",
    "RequirementPlan",
    "preference",
    "ShortCache",
    "top_products",
    "trace_entry",
]

#: Candidates read for one required item, so an incompatible first pick has alternatives.
REQUIRED_CANDIDATES = 8

Holds = Callable[[ConditionSpec | None, Mapping[str, Any]], bool]


def trace_entry(rule: str, kind: str, message: str) -> TraceEntry:
    """One line of the explanation trace."""
    return {"rule": rule, "kind": kind, "message": message}


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


#: An ``in`` condition with at most this many values is split into one query per value.
SPLIT_IN_LIMIT = 6


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
    flt: Mapping[str, Any],
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
    resolved = {k: _resolve(c, values) for k, c in flt.items()}
    splits: list[Mapping[str, Any]] = [resolved]
    for attribute, condition in resolved.items():
        if isinstance(condition, dict) and set(condition) == {"in"}:
            options = condition["in"]
            if isinstance(options, list) and 1 < len(options) <= SPLIT_IN_LIMIT:
                splits = [{**resolved, attribute: option} for option in options]
            break
    stock = col(Product.stock) > 0 if in_stock else col(Product.stock) <= 0

    def load() -> list[Product]:
        rows: list[Product] = []
        for part in splits:
            statement = (
                select(Product)
                .where(product_filter(part, {}), stock)
                .order_by(*preference(prefer))
                .limit(limit)
            )
            rows.extend(session.exec(statement))
        if len(splits) > 1:
            rows.sort(key=_sort_key(prefer))
        return rows[:limit]

    if cache is None:
        return load()
    key = json.dumps([resolved, prefer, limit, in_stock], sort_keys=True, default=str)
    return cache.get(key, load)


def _resolve(condition: Any, values: Mapping[str, Any]) -> Any:
    """A filter condition with its ``{answer: id}`` references replaced by the answers."""
    if isinstance(condition, dict) and set(condition) != {"answer"}:
        return {op: resolve_value(raw, values) for op, raw in condition.items()}
    return resolve_value(condition, values)


@dataclass(slots=True)
class _Candidates:
    """The items that may fulfil one requirement in this request, best first."""

    requirement: Requirement
    filter: Mapping[str, Any]
    reason: str
    in_stock: list[Product]
    out_of_stock: list[Product] | None  # read only when nothing in stock fits

    @property
    def cheapest(self) -> float:
        pool = self.in_stock or self.out_of_stock or []
        return min((p.price for p in pool), default=0.0)


class RequirementPlan:
    """Requirement candidates read once per request, not once per candidate bike."""

    def __init__(self, builder: BundleBuilder, session: Session, values: Mapping[str, Any]) -> None:
        self._builder = builder
        self._session = session
        self._values = values
        #: Every product placed in an offer during this request, by SKU, so cross-sell
        #: can check fit without loading them again.
        self.products: dict[str, Product] = {}
        self.candidates: dict[str, _Candidates | None] = {}
        for requirement in builder.ruleset.requirements:
            self.candidates[requirement.id] = self._select(requirement)

    def _query(
        self, requirement: Requirement, flt: Mapping[str, Any], in_stock: bool
    ) -> list[Product]:
        return top_products(
            self._session,
            {**flt, "category": requirement.category},
            self._values,
            prefer=requirement.prefer,
            limit=REQUIRED_CANDIDATES,
            in_stock=in_stock,
            cache=self._builder.cache,
        )

    def _select(self, requirement: Requirement) -> _Candidates | None:
        for selection in requirement.select:
            if not self._builder.holds(selection.when, self._values):
                continue
            in_stock = self._query(requirement, selection.filter, True)
            out = None if in_stock else self._query(requirement, selection.filter, False)
            if in_stock or out:
                return _Candidates(requirement, selection.filter, selection.reason, in_stock, out)
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
                p
                for p in pool
                if all(self._builder.compatible(self._session, p, o) for o in chosen)
            ]
            if not fitting:
                continue
            within = [p for p in fitting if remaining is None or p.price <= remaining + 0.005]
            product = (within or fitting)[0]
            return product, render_text(found.reason, item=product, answers=self._values)
        return None


class BundleBuilder:
    """Builds offers for one rule set; holds nothing per request."""

    def __init__(self, ruleset: RuleSet, holds: Holds) -> None:
        self.ruleset = ruleset
        self.holds = holds
        self.cache = ShortCache()
        self._display = sorted(name for name, spec in vocabulary().items() if spec.display)

    # -- compatibility -------------------------------------------------------------

    def compatible(self, session: Session, a: Product, b: Product) -> bool:
        """Whether two items may go together under every compatibility rule."""
        return all(self._fits(session, rule, a, b) for rule in self._rules_for(a, b))

    def _rules_for(self, a: Product, b: Product) -> list[Compatibility]:
        pair = {a.category, b.category}
        return [r for r in self.ruleset.compatibility if set(r.categories) == pair]

    def _fits(self, session: Session, rule: Compatibility, a: Product, b: Product) -> bool:
        if rule.equal is not None:
            left, right = getattr(a, rule.equal), getattr(b, rule.equal)
            return left is not None and left == right
        if rule.pairs is not None:
            allowed = {frozenset(p) for p in rule.pairs}
            return frozenset((a.group_sku, b.group_sku)) in allowed
        groups = [a.group_sku, b.group_sku]
        statement = select(ProductRelation.id).where(
            col(ProductRelation.kind) == RelationKind.COMPATIBLE_WITH,
            col(ProductRelation.source).in_(groups),
            col(ProductRelation.target).in_(groups),
        )
        return session.exec(statement.limit(1)).first() is not None

    # -- offers --------------------------------------------------------------------

    def plan(self, session: Session, values: Mapping[str, Any]) -> RequirementPlan:
        """Read the candidates of every requirement once for this request."""
        return RequirementPlan(self, session, values)

    def build(
        self,
        session: Session,
        plan: RequirementPlan,
        main: Product,
        values: Mapping[str, Any],
        wishes: Sequence[Wish],
        soft: Sequence[tuple[Filter, Any]],
        budget: float | None,
        trace: list[TraceEntry],
    ) -> OfferPayload | None:
        """The offer around ``main``, or None when it cannot be made ready within budget."""
        chosen = [main]
        items = [self.item(main, "main")]
        extra_reasons: list[str] = []
        total = main.price
        for requirement in self.ruleset.requirements:
            if not matches_item(requirement.if_item, main, values):
                continue
            remaining = None if budget is None else budget - total
            picked = plan.pick(requirement, remaining, chosen)
            if picked is None:
                trace.append(
                    trace_entry(
                        requirement.id,
                        "requirement",
                        f"{main.sku}: no fitting {requirement.label}, skipped",
                    )
                )
                return None
            product, reason = picked
            chosen.append(product)
            items.append(self.item(product, "required"))
            extra_reasons.append(reason)
            total += product.price
            trace.append(
                trace_entry(
                    requirement.id,
                    "requirement",
                    f"{main.sku}: added {product.sku} ({requirement.label})",
                )
            )
        if budget is not None and total > budget + 0.005:
            trace.append(
                trace_entry(
                    "budget", "bundle", f"{main.sku}: total {money(total)} exceeds {money(budget)}"
                )
            )
            return None
        plan.products.update((p.sku, p) for p in chosen)
        names = [p.name for p in chosen]
        title = " with ".join(names[:2]) + (" and more" if len(names) > 2 else "")
        offer: OfferPayload = {
            "rank": 0,
            "title": title,
            "total_price": round(total, 2),
            "currency": main.currency,
            "items": items,
            "reasons": self._reasons(main, values, wishes, soft) + extra_reasons,
            "relaxed": [],
            "alerts": self._alerts(main, values, trace),
        }
        return offer

    def _alerts(
        self, main: Product, values: Mapping[str, Any], trace: list[TraceEntry]
    ) -> list[str]:
        alerts = []
        for alert in self.ruleset.alerts:
            if self.holds(alert.when, values) and matches_item(alert.if_item, main, values):
                alerts.append(render_text(alert.message, item=main, answers=values))
                trace.append(trace_entry(alert.id, "alert", f"{main.sku}: {alerts[-1]}"))
        return alerts

    def _reasons(
        self,
        main: Product,
        values: Mapping[str, Any],
        wishes: Sequence[Wish],
        soft: Sequence[tuple[Filter, Any]],
    ) -> list[str]:
        reasons: list[str] = []
        applied: list[tuple[Filter, Any]] = [(w.rule, w.value) for w in wishes if not w.loosened]
        for rule, value in [*applied, *soft]:
            if rule.reason is None:
                continue
            op = "in" if isinstance(value, list) and rule.op == "eq" else rule.op
            if not rule.hard and not matches_item({rule.attribute: {op: value}}, main, values):
                continue
            answer = values.get(rule.answer) if rule.answer else rule.value
            option_label = ""
            question = self.ruleset.question(rule.answer) if rule.answer else None
            if question is not None and question.type == "choice":
                option = question.option(str(answer))
                option_label = option.label if option else str(answer)
            reasons.append(
                render_text(
                    rule.reason, item=main, answers=values, answer=answer, option_label=option_label
                )
            )
        return reasons

    def item(self, product: Product, role: Role) -> OfferItemPayload:
        """One product as the widget shows it."""
        attributes = {
            name: getattr(product, name)
            for name in self._display
            if getattr(product, name) is not None
        }
        return {
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "role": role,
            "price": round(product.price, 2),
            "in_stock": product.in_stock,
            "attributes": attributes,
        }
