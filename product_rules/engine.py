"""The configurator: from answers to the next question, or to at most three offers.

The engine holds no category-specific code: questions, filters, size tables,
requirements and cross-sell come from the rule set; products come from SQL queries.
When nothing matches, hard wishes are loosened, least important first, and each
loosening is reported in ``relaxed`` so the shopper knows what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, literal, true
from sqlmodel import Session, col, select

from catalog.attributes import vocabulary
from catalog.models import Product
from product_rules.conditions import Condition, answer_types, compile_condition
from product_rules.offers import (
    CrossSellPayload,
    OfferItemPayload,
    OfferPayload,
    OffersMessage,
    TraceEntry,
)
from product_rules.query import (
    compare,
    distance,
    indicator,
    matches_item,
    product_filter,
)
from product_rules.schema import Filter, Question, Requirement, RuleSet
from product_rules.text import money, render_text

__all__ = ["AdviceEngine", "Recommendation"]

#: How many candidate rows one query reads: enough to fill three offers from distinct
#: models even when some bundles exceed the budget, small enough to stay index-bound.
CANDIDATE_ROWS = 60


@dataclass(slots=True)
class _Wish:
    """A hard filter as it applies now, with its current loosening step."""

    rule: Filter
    value: Any
    step: int = -1  # index into rule.relax; -1 = as asked
    dropped: bool = False
    widened: Any = None  # the loosened value, when a widen/substitute step applies

    @property
    def effective(self) -> Any:
        return self.value if self.widened is None else self.widened


@dataclass(slots=True)
class Recommendation:
    """What the engine offers for a set of answers, and why."""

    answers: dict[str, Any]
    values: dict[str, Any]
    offers: list[OfferPayload]
    cross_sell: list[CrossSellPayload]
    relaxed: list[str]
    trace: list[TraceEntry] = field(default_factory=list)

    def payload(self) -> OffersMessage:
        """The ``custom`` payload of the offers message (shared/DESIGN.md)."""
        return {
            "type": "offers",
            "answers": dict(self.answers),
            "offers": self.offers,
            "cross_sell": self.cross_sell,
        }


class AdviceEngine:
    """Runs one rule set against the catalogue database."""

    def __init__(self, ruleset: RuleSet, db: Engine) -> None:
        self.ruleset = ruleset
        self.db = db
        types = answer_types(ruleset)
        self._conditions: dict[str, Condition] = {}
        sources = [q.ask_if for q in ruleset.questions] + [f.when for f in ruleset.filters]
        sources += [s.when for r in ruleset.requirements for s in r.select]
        sources += [c.when for c in ruleset.cross_sell]
        for source in sources:
            if source and source not in self._conditions:
                self._conditions[source] = compile_condition(source, types)
        self._display = {name for name, spec in vocabulary().items() if spec.display}

    # -- questions -----------------------------------------------------------------

    def _holds(self, source: str | None, values: Mapping[str, Any]) -> bool:
        return source is None or self._conditions[source].holds(values)

    def next_question(self, answers: Mapping[str, Any]) -> Question | None:
        """The first question not answered yet whose ``ask_if`` holds, else None."""
        values = self.derive(answers)
        for question in self.ruleset.questions:
            if question.id not in answers and self._holds(question.ask_if, values):
                return question
        return None

    def derive(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Answers plus derived values (frame size from body height ...)."""
        values = dict(answers)
        for derived in self.ruleset.derived:
            source = values.get(derived.source)
            if source is None:
                continue
            number = float(source)
            row = next((r for r in derived.table if r.min <= number < r.max), None)
            if row is None:  # outside the table: clamp to the nearest end
                rows = sorted(derived.table, key=lambda r: r.min)
                row = rows[0] if number < rows[0].min else rows[-1]
            values[derived.id] = row.value
        return values

    # -- recommendation ------------------------------------------------------------

    def recommend(self, answers: Mapping[str, Any]) -> Recommendation:
        """At most ``max_offers`` ranked offers plus cross-sell; never nothing to show."""
        values = self.derive(answers)
        trace: list[TraceEntry] = []
        for derived in self.ruleset.derived:
            if derived.id in values:
                trace.append(
                    _trace(
                        derived.id,
                        "derived",
                        f"{derived.label} = {values[derived.id]} "
                        f"from {derived.source} = {values.get(derived.source)}",
                    )
                )
        wishes, soft = self._active_filters(values, trace)
        with Session(self.db) as session:
            offers = self._offers(session, values, wishes, soft, trace)
            # Loosen the least important wish first, step by step, and drop it when its
            # steps are used up; only then touch the next one.
            for wish in sorted(wishes, key=lambda w: w.rule.importance):
                while not offers and self._loosen(wish):
                    trace.append(_trace(wish.rule.id, "relaxed", self._describe(wish)))
                    offers = self._offers(session, values, wishes, soft, trace)
                if offers:
                    break
            relaxed = [self._describe(w) for w in wishes if w.dropped or w.widened is not None]
            for offer in offers:
                offer["relaxed"] = list(relaxed)
            cross = self._cross_sell(session, values, offers, trace)
        return Recommendation(dict(answers), values, offers, cross, relaxed, trace)

    def _active_filters(
        self, values: Mapping[str, Any], trace: list[TraceEntry]
    ) -> tuple[list[_Wish], list[tuple[Filter, Any]]]:
        hard: list[_Wish] = []
        soft: list[tuple[Filter, Any]] = []
        for rule in self.ruleset.filters:
            if not self._holds(rule.when, values):
                continue
            value: Any = rule.value
            if rule.answer is not None:
                value = values.get(rule.answer)
                if value is None:
                    continue  # not asked or skipped: no wish to honour
                if rule.map is not None:
                    value = rule.map.get(str(value))
                    if value is None:
                        continue
            if rule.hard:
                hard.append(_Wish(rule, value))
            else:
                soft.append((rule, value))
            trace.append(
                _trace(
                    rule.id,
                    "filter" if rule.hard else "preference",
                    f"{rule.attribute} {rule.op} {value!r}",
                )
            )
        return hard, soft

    def _loosen(self, wish: _Wish) -> bool:
        """Move ``wish`` one relaxation step further; False when it has none left."""
        if wish.dropped:
            return False
        wish.step += 1
        if wish.step >= len(wish.rule.relax):
            wish.dropped = True  # steps used up: the wish goes, so something is shown
            return True
        step = wish.rule.relax[wish.step]
        if step.drop:
            wish.dropped = True
        elif step.widen_pct is not None:
            factor = 1 + step.widen_pct / 100
            if wish.rule.op in ("le", "lt"):
                wish.widened = round(float(wish.value) * factor, 2)
            else:
                wish.widened = round(float(wish.value) / factor, 2)
        elif step.widen_by is not None:
            wish.widened = (
                "between",
                float(wish.value) - step.widen_by,
                float(wish.value) + step.widen_by,
            )
        elif step.substitute is not None:
            current = wish.value if isinstance(wish.value, list) else [wish.value]
            extra = [v for c in current for v in step.substitute.get(str(c), [])]
            wish.widened = list(dict.fromkeys([*current, *extra]))
        return True

    def _describe(self, wish: _Wish) -> str:
        rule = wish.rule
        widened = wish.widened
        if wish.dropped and rule.op in ("le", "lt") and _number(wish.value) is not None:
            return f"{rule.label}: nothing within {_format(rule, wish.value)}, showing the closest"
        if wish.dropped:
            return f"{rule.label}: not applied, nothing matched it"
        if widened is None:
            return rule.label
        if isinstance(widened, tuple):
            return (
                f"{rule.label}: {widened[1]:g} to {widened[2]:g} instead of exactly {wish.value:g}"
            )
        if rule.attribute == "price":
            return f"{rule.label}: up to {money(widened)} instead of {money(wish.value)}"
        return f"{rule.label}: {widened} instead of {wish.value}"

    def _predicate(self, wish: _Wish) -> ColumnElement[bool]:
        if wish.dropped:
            return true()
        value = wish.effective
        if isinstance(value, tuple):
            _, low, high = value
            return and_(
                compare(wish.rule.attribute, "ge", low), compare(wish.rule.attribute, "le", high)
            )
        op = wish.rule.op
        if isinstance(value, list) and op == "eq":
            op = "in"
        return compare(wish.rule.attribute, op, value)

    def _score(
        self, values: Mapping[str, Any], wishes: list[_Wish], soft: list[tuple[Filter, Any]]
    ) -> ColumnElement[float]:
        ranking = self.ruleset.ranking
        score: ColumnElement[float] = literal(0.0)
        for rule, value in soft:
            op = "in" if isinstance(value, list) and rule.op == "eq" else rule.op
            score = score + indicator(compare(rule.attribute, op, value)) * rule.weight
        score = score + indicator(col(Product.stock) > 0) * ranking.in_stock
        score = score + col(Product.margin_pct) / 10.0 * ranking.margin
        for wish in wishes:
            attribute, number = wish.rule.attribute, _number(wish.value)
            if number is None:
                continue
            if isinstance(wish.widened, tuple) or (wish.dropped and wish.rule.op == "eq"):
                # Once loosened, the closer to what was asked the better.
                score = score - distance(attribute, number) * 0.5
            elif wish.rule.op in ("le", "lt") and number > 0:
                price = col(getattr(Product, attribute)) / number
                if wish.dropped or wish.widened is not None:
                    score = score - price * 5.0  # over budget: cheapest first
                elif attribute == "price":
                    score = score + price * ranking.price_fit
        return score

    def _offers(
        self,
        session: Session,
        values: Mapping[str, Any],
        wishes: list[_Wish],
        soft: list[tuple[Filter, Any]],
        trace: list[TraceEntry],
    ) -> list[OfferPayload]:
        score = self._score(values, wishes, soft).label("score")
        statement = (
            select(Product, score)
            .where(Product.category == self.ruleset.category)
            .where(*[self._predicate(w) for w in wishes])
            .order_by(score.desc(), col(Product.price))
            .limit(CANDIDATE_ROWS)
        )
        budget = self._bundle_limit(wishes)
        offers: list[OfferPayload] = []
        seen_models: set[str] = set()
        for product, _ in session.exec(statement):
            if product.group_sku in seen_models:
                continue
            offer = self._build_offer(session, product, values, wishes, soft, budget, trace)
            if offer is None:
                continue
            seen_models.add(product.group_sku)
            offer["rank"] = len(offers) + 1
            offers.append(offer)
            if len(offers) == self.ruleset.max_offers:
                break
        return offers

    def _bundle_limit(self, wishes: list[_Wish]) -> float | None:
        for wish in wishes:
            if wish.rule.scope == "bundle" and not wish.dropped and wish.rule.op in ("le", "lt"):
                return float(wish.effective)
        return None

    def _build_offer(
        self,
        session: Session,
        main: Product,
        values: Mapping[str, Any],
        wishes: list[_Wish],
        soft: list[tuple[Filter, Any]],
        budget: float | None,
        trace: list[TraceEntry],
    ) -> OfferPayload | None:
        items = [self._item(main, "main")]
        reasons: list[str] = []
        total = main.price
        for requirement in self.ruleset.requirements:
            if not matches_item(requirement.if_item, main, values):
                continue
            picked = self._fulfil(
                session, requirement, values, None if budget is None else budget - total
            )
            if picked is None:
                trace.append(
                    _trace(
                        requirement.id,
                        "requirement",
                        f"{main.sku}: no {requirement.label} available, skipped",
                    )
                )
                return None
            product, reason = picked
            items.append(self._item(product, "required"))
            reasons.append(reason)
            total += product.price
            trace.append(
                _trace(
                    requirement.id,
                    "requirement",
                    f"{main.sku}: added {product.sku} ({requirement.label})",
                )
            )
        if budget is not None and total > budget + 0.005:
            trace.append(
                _trace(
                    "budget",
                    "bundle",
                    f"{main.sku}: total {money(total)} exceeds {money(budget)}, skipped",
                )
            )
            return None
        reasons = self._reasons(main, values, wishes, soft) + reasons
        names = [main.name] + [i["name"] for i in items[1:]]
        return {
            "rank": 0,
            "title": " with ".join(names[:2]) + (" and more" if len(names) > 2 else ""),
            "total_price": round(total, 2),
            "currency": main.currency,
            "items": items,
            "reasons": reasons,
            "relaxed": [],
        }

    def _fulfil(
        self,
        session: Session,
        requirement: Requirement,
        values: Mapping[str, Any],
        remaining: float | None,
    ) -> tuple[Product, str] | None:
        for selection in requirement.select:
            if not self._holds(selection.when, values):
                continue
            statement = (
                select(Product)
                .where(
                    col(Product.category) == requirement.category,
                    product_filter(selection.filter, values),
                )
                .order_by(*_preference(requirement.prefer, remaining))
                .limit(1)
            )
            product = session.exec(statement).first()
            if product is None:
                continue
            reason = render_text(selection.reason, item=product, answers=values)
            return product, reason
        return None

    def _reasons(
        self,
        main: Product,
        values: Mapping[str, Any],
        wishes: list[_Wish],
        soft: list[tuple[Filter, Any]],
    ) -> list[str]:
        reasons: list[str] = []
        rules = [w.rule for w in wishes if not w.dropped] + [r for r, _ in soft]
        for rule in rules:
            if rule.reason is None:
                continue
            if not rule.hard:
                value = next(v for r, v in soft if r is rule)
                op = "in" if isinstance(value, list) and rule.op == "eq" else rule.op
                if not matches_item({rule.attribute: {op: value}}, main, values):
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

    def _item(self, product: Product, role: str) -> OfferItemPayload:
        attributes = {
            name: getattr(product, name)
            for name in self._display
            if getattr(product, name) is not None
        }
        return {
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "role": role,  # type: ignore[typeddict-item]
            "price": round(product.price, 2),
            "in_stock": product.in_stock,
            "attributes": attributes,
        }

    def _cross_sell(
        self,
        session: Session,
        values: Mapping[str, Any],
        offers: list[OfferPayload],
        trace: list[TraceEntry],
    ) -> list[CrossSellPayload]:
        taken = {item["sku"] for offer in offers for item in offer["items"]}
        taken_models: set[str] = set()
        result: list[CrossSellPayload] = []
        for rule in self.ruleset.cross_sell:
            if not self._holds(rule.when, values):
                continue
            statement = (
                select(Product)
                .where(product_filter(rule.target, values), Product.stock > 0)
                .order_by(*_preference(rule.prefer, None))
                .limit(rule.limit * 8)
            )
            added = 0
            for product in session.exec(statement):
                if product.sku in taken or product.group_sku in taken_models:
                    continue
                taken.add(product.sku)
                taken_models.add(product.group_sku)
                result.append(
                    {
                        "sku": product.sku,
                        "name": product.name,
                        "category": product.category,
                        "price": round(product.price, 2),
                        "reason": render_text(rule.reason, item=product, answers=values),
                    }
                )
                trace.append(_trace(rule.id, "cross_sell", f"suggested {product.sku}"))
                added += 1
                if added == rule.limit:
                    break
        return result


def _preference(prefer: str, remaining: float | None) -> list[Any]:
    """ORDER BY terms: in stock first, within the remaining budget first, then by taste."""
    terms: list[Any] = [indicator(col(Product.stock) > 0).desc()]
    if remaining is not None:
        terms.append(indicator(col(Product.price) <= remaining).desc())
    if prefer == "cheapest":
        terms.append(col(Product.price))
    elif prefer == "margin":
        terms += [col(Product.margin_pct).desc(), col(Product.price)]
    else:  # best: the deepest stock (what sells) first, then margin
        terms += [col(Product.stock).desc(), col(Product.margin_pct).desc()]
    terms.append(col(Product.sku))
    return terms


def _format(rule: Filter, value: Any) -> str:
    return money(value) if rule.attribute == "price" else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _trace(rule: str, kind: str, message: str) -> TraceEntry:
    return {"rule": rule, "kind": kind, "message": message}
