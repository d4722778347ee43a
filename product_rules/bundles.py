"""Turn a main product into a ready-to-use offer: required items, fit checks, alerts, reasons.

Staff locks are honoured here: an item staff chose replaces the engine's pick, and a
pinned main product is offered even when it breaks a rule. Such an offer is built, never
refused; the rules it breaks come back as violations beside it (:class:`Bundle`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from catalog.models import Product, ProductRelation, RelationKind
from product_rules.breaches import (
    breach,
    budget_breach,
    compatibility_breach,
    filter_breaches,
    wish_breach,
)
from product_rules.i18n import gettext
from product_rules.locks import Locks, violation, violation_key
from product_rules.offers import (
    BreachPayload,
    OfferItemPayload,
    OfferPayload,
    Role,
    TraceEntry,
    ViolationPayload,
)
from product_rules.picking import RequirementPlan, ShortCache, preference, top_products
from product_rules.query import matches_item
from product_rules.schema import (
    Compatibility,
    ConditionSpec,
    Filter,
    Requirement,
    RuleSet,
)
from product_rules.text import money, render_text
from product_rules.vocabulary import Operator, attributes
from product_rules.wishes import Wish, number

__all__ = [
    "Bundle",
    "BundleBuilder",
    "RequirementPlan",
    "ShortCache",
    "bundle_budget",
    "preference",
    "top_products",
    "trace_entry",
]

Holds = Callable[[ConditionSpec | None, Mapping[str, Any]], bool]


def trace_entry(rule: str, kind: str, message: str) -> TraceEntry:
    """One line of the explanation trace."""
    return {"rule": rule, "kind": kind, "message": message}


def bundle_budget(wishes: Sequence[Wish]) -> Wish | None:
    """The wish that limits an offer's total price (a ``scope: bundle`` limit), if any."""
    for wish in wishes:
        if wish.rule.scope == "bundle" and not wish.dropped and wish.rule.op.spec.bound == "upper":
            return wish
    return None


@dataclass(slots=True)
class Bundle:
    """What building an offer around one main product gave.

    Attributes:
        offer: The offer, or None when it cannot be made ready (within budget).
        note: Why there is no offer, in the trace's words; empty when there is one.
        violations: The rules the offer breaks because of staff locks.
    """

    offer: OfferPayload | None
    note: str = ""
    violations: list[ViolationPayload] = field(default_factory=list)


class BundleBuilder:
    """Builds offers for one rule set; holds nothing per request."""

    def __init__(self, ruleset: RuleSet, holds: Holds) -> None:
        self.ruleset = ruleset
        self.holds = holds
        self.cache = ShortCache()
        self._display = sorted(name for name, spec in attributes().items() if spec.display)

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

    def misfits(
        self, session: Session, product: Product, others: Sequence[Product]
    ) -> list[BreachPayload]:
        """Every compatibility rule ``product`` breaks with one of ``others``."""
        return [
            compatibility_breach(rule, product, other)
            for other in others
            for rule in self._rules_for(product, other)
            if not self._fits(session, rule, product, other)
        ]

    def component_problems(
        self,
        plan: RequirementPlan,
        main: Product,
        requirement: Requirement,
        product: Product,
        others: Sequence[Product],
    ) -> list[BreachPayload]:
        """What is wrong with ``product`` as the item of ``requirement`` for ``main``.

        The requirement may not apply to ``main`` at all (it ships with pedals: the
        breach names the main's attribute, ``other`` is the main's SKU); the item may be
        of another category or miss the selection's filter (pedals for the shoes the
        customer owns); or it may not fit ``others`` (the main and the other items).
        """
        label, values = requirement.label, plan.values
        problems: list[BreachPayload] = []
        for found in filter_breaches(
            requirement.if_item, main, values, rule=requirement.id, label=label
        ):
            problems.append({**found, "other": main.sku})
        if product.category != requirement.category:
            problems.append(
                breach(
                    requirement.id,
                    "requirement",
                    label,
                    "category",
                    Operator.EQ,
                    requirement.category,
                    product.category,
                )
            )
        selection = plan.selection(requirement)
        if selection is not None:
            problems += filter_breaches(
                selection.filter, product, values, rule=requirement.id, label=label
            )
        return problems + self.misfits(plan.session, product, others)

    # -- offers --------------------------------------------------------------------

    def plan(
        self,
        session: Session,
        values: Mapping[str, Any],
        *,
        locks: Locks | None = None,
        trace: list[TraceEntry] | None = None,
    ) -> RequirementPlan:
        """Read the candidates of every requirement once for this request."""
        return RequirementPlan(self, session, values, locks=locks, trace=trace)

    def build(
        self,
        plan: RequirementPlan,
        main: Product,
        wishes: Sequence[Wish],
        soft: Sequence[tuple[Filter, Any]],
        *,
        pinned: bool = False,
    ) -> Bundle:
        """The offer around ``main``; none when it cannot be made ready within budget.

        A pinned main product, and one with an item chosen by staff, is offered even
        when it breaks a rule; the bundle then lists the violations.
        """
        values, trace = plan.values, plan.trace
        violations = self._pin_violations(plan, main, wishes) if pinned else []
        budget_wish = bundle_budget(wishes)
        budget = None if budget_wish is None else number(budget_wish.effective)
        chosen = [main]
        items = [self.item(main, "main")]
        extra_reasons: list[str] = []
        total = main.price
        locked_any = False
        for requirement in self.ruleset.requirements:
            product = plan.locked(main, requirement)
            if product is not None:
                locked_any = True
                problems = self.component_problems(plan, main, requirement, product, chosen)
                violations += self._component_violations(
                    plan.locks, main, requirement, product, problems
                )
                selection = plan.selection(requirement)
                if not problems and selection is not None:
                    extra_reasons.append(
                        render_text(selection.reason, item=product, answers=values)
                    )
            elif not matches_item(requirement.if_item, main, values):
                continue
            else:
                remaining = None if budget is None else budget - total
                picked = plan.pick(requirement, remaining, chosen)
                if picked is None:
                    note = gettext("{sku}: no fitting {label}, skipped").format(
                        sku=main.sku, label=requirement.label
                    )
                    trace.append(trace_entry(requirement.id, "requirement", note))
                    if not pinned:
                        return Bundle(None, note)
                    violations.append(self._missing(plan.locks, main, requirement))
                    continue
                product, reason = picked
                extra_reasons.append(reason)
                trace.append(
                    trace_entry(
                        requirement.id,
                        "requirement",
                        gettext("{sku}: added {item} ({label})").format(
                            sku=main.sku, item=product.sku, label=requirement.label
                        ),
                    )
                )
            chosen.append(product)
            items.append(self.item(product, "required"))
            total += product.price
        if budget_wish is not None and budget is not None and total > budget + 0.005:
            note = gettext("{sku}: total {total} exceeds {budget}").format(
                sku=main.sku, total=money(total), budget=money(budget)
            )
            trace.append(trace_entry("budget", "bundle", note))
            if not (pinned or locked_any):
                return Bundle(None, note)
            over = budget_breach(budget_wish, total)
            if over is not None:
                key = violation_key("budget", main.sku, budget_wish.rule.id)
                violations.append(violation(plan.locks, key, main.sku, main.sku, over))
        plan.products.update((p.sku, p) for p in chosen)
        names = [p.name for p in chosen]
        title = names[0]
        if len(names) > 1:
            title = gettext("{main} with {item}").format(main=names[0], item=names[1])
        if len(names) > 2:
            title = gettext("{title} and more").format(title=title)
        broken = {v["rule"] for v in violations}
        offer: OfferPayload = {
            "rank": 0,
            "title": title,
            "total_price": round(total, 2),
            "currency": main.currency,
            "items": items,
            "reasons": self._reasons(main, values, wishes, soft, broken) + extra_reasons,
            "relaxed": [],
            "alerts": self._alerts(main, values, trace),
        }
        return Bundle(offer, violations=violations)

    def _pin_violations(
        self, plan: RequirementPlan, main: Product, wishes: Sequence[Wish]
    ) -> list[ViolationPayload]:
        """The hard wishes a pinned main product breaks (the budget is the bundle's)."""
        found: list[BreachPayload] = []
        if main.category != self.ruleset.category:
            found.append(
                breach(
                    "category",
                    "hard_wish",
                    self.ruleset.title,
                    "category",
                    Operator.EQ,
                    self.ruleset.category,
                    main.category,
                )
            )
        budget_wish = bundle_budget(wishes)
        for wish in wishes:
            if wish is budget_wish:
                continue
            source = plan.sources.get(wish.rule.answer) if wish.rule.answer else None
            broken = wish_breach(wish, main, source=source)
            if broken is not None:
                found.append(broken)
        return [
            violation(plan.locks, violation_key("pin", main.sku, b["rule"]), main.sku, main.sku, b)
            for b in found
        ]

    @staticmethod
    def _component_violations(
        locks: Locks,
        main: Product,
        requirement: Requirement,
        product: Product,
        problems: Sequence[BreachPayload],
    ) -> list[ViolationPayload]:
        """One violation for the requirement (its first problem), one per misfit."""
        result: list[ViolationPayload] = []
        wrong = [p for p in problems if p["kind"] == "requirement"]
        if wrong:
            key = violation_key("component", main.sku, requirement.id, product.sku)
            result.append(violation(locks, key, main.sku, product.sku, wrong[0]))
        for misfit in problems:
            if misfit["kind"] == "compatibility":
                parts = (main.sku, product.sku, str(misfit["other"]), misfit["rule"])
                key = violation_key("compatibility", *parts)
                result.append(violation(locks, key, main.sku, product.sku, misfit))
        return result

    @staticmethod
    def _missing(locks: Locks, main: Product, requirement: Requirement) -> ViolationPayload:
        """A pinned main product offered without a required item: nothing fits."""
        missing = breach(
            requirement.id,
            "requirement",
            requirement.label,
            "category",
            Operator.EQ,
            requirement.category,
            None,
        )
        key = violation_key("requirement", main.sku, requirement.id)
        return violation(locks, key, main.sku, main.sku, missing)

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
        broken: set[str],
    ) -> list[str]:
        reasons: list[str] = []
        applied: list[tuple[Filter, Any]] = [(w.rule, w.value) for w in wishes if not w.loosened]
        for rule, value in [*applied, *soft]:
            if rule.reason is None or rule.id in broken:
                continue
            if not rule.hard and not rule.op.holds(getattr(main, rule.attribute), value):
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

    def attributes(self, product: Product) -> dict[str, Any]:
        """The attributes shoppers see (the vocabulary's display attributes that are set).

        Read from the loaded row's values: an instrumented ``getattr`` per attribute costs
        more than the rest of a candidate (60 candidates x 20 attributes per request).
        """
        loaded = vars(product)
        shown: dict[str, Any] = {}
        for name in self._display:
            value = loaded[name] if name in loaded else getattr(product, name)
            if value is not None:
                shown[name] = value
        return shown

    def item(self, product: Product, role: Role) -> OfferItemPayload:
        """One product as the widget shows it."""
        attributes = self.attributes(product)
        return {
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "role": role,
            "price": round(product.price, 2),
            "in_stock": product.in_stock,
            "attributes": attributes,
        }
