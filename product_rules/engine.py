"""The configurator: from answers to the next question, or to at most three offers.

The engine holds no category-specific code: questions, filters, size tables,
requirements, compatibility, alerts and cross-sell come from the rule set; products come
from SQL queries. When the wishes cannot all be met, :mod:`product_rules.relaxation`
finds the smallest loosening, applies the best one and reports the alternatives with
their counts, so the shopper can choose.

For sales staff the same request also yields the expert view (every ranked candidate
with its score parts, the products left out and why) and honours their locks (pinned,
excluded and chosen items, :mod:`product_rules.locks`); rules a lock breaks come back as
violations, never as a refusal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, func
from sqlmodel import Session, col, select

from catalog.models import Product
from product_rules.bundles import BundleBuilder, bundle_budget, trace_entry
from product_rules.conditions import Condition, answer_types, compile_condition, condition_source
from product_rules.errors import UnknownItemError
from product_rules.expert import Exclusions, Ranked, candidates
from product_rules.i18n import gettext, ngettext
from product_rules.locks import Locks, load_pinned
from product_rules.offers import (
    CandidatePayload,
    ComponentOptionPayload,
    CrossSellPayload,
    ExclusionPayload,
    OfferPayload,
    OffersMessage,
    RelaxationPayload,
    TraceEntry,
    ViolationPayload,
)
from product_rules.picking import RequirementPlan, top_products
from product_rules.query import offerable
from product_rules.relaxation import Choice, relax
from product_rules.schema import ConditionSpec, Filter, Option, Question, RuleSet
from product_rules.scoring import ScorePart, score_parts, total
from product_rules.text import render_text
from product_rules.wishes import Wish, number

__all__ = ["AdviceEngine", "Recommendation"]

#: Candidate rows one offer query reads: enough to fill three offers from distinct models
#: even when some bundles exceed the budget, small enough to stay cheap.
CANDIDATE_ROWS = 60

#: Rows the ranking looks at: the ones nearest the shopper's price (see ``_offers``).
RETRIEVAL_ROWS = 400

#: Model counts shown to shoppers stop here ("100+ models"), reading at most COUNT_ROWS.
COUNT_CAP = 100
COUNT_ROWS = 2000

#: Items listed for staff choosing the item of a requirement.
COMPONENT_OPTIONS = 20


@dataclass(slots=True)
class Recommendation:
    """What the engine offers for a set of answers, and why.

    ``payload()`` is what shoppers get. ``candidates``, ``excluded`` and ``violations``
    are the staff's expert view and never part of it.
    """

    ruleset: str
    answers: dict[str, Any]
    values: dict[str, Any]
    offers: list[OfferPayload]
    cross_sell: list[CrossSellPayload]
    relaxed: list[str]
    relaxation: RelaxationPayload | None = None
    trace: list[TraceEntry] = field(default_factory=list)
    #: Every main product the ranking considered, in ranking order (the last round).
    candidates: list[CandidatePayload] = field(default_factory=list)
    #: Main products failing at least one hard wish as applied, nearest misses first.
    excluded: list[ExclusionPayload] = field(default_factory=list)
    #: Rules broken by staff locks, per offer.
    violations: list[ViolationPayload] = field(default_factory=list)

    def payload(self) -> OffersMessage:
        """The ``custom`` payload of the offers message (shared/DESIGN.md)."""
        return {
            "type": "offers",
            "ruleset": self.ruleset,
            "answers": dict(self.answers),
            "offers": self.offers,
            "cross_sell": self.cross_sell,
            "relaxation": self.relaxation,
        }


@dataclass(slots=True)
class _Round:
    """One round of ranking: its offers, every candidate read, the locks' violations."""

    parts: list[ScorePart]
    offers: list[OfferPayload] = field(default_factory=list)
    ranked: list[Ranked] = field(default_factory=list)
    violations: list[ViolationPayload] = field(default_factory=list)


class AdviceEngine:
    """Runs one rule set against the catalogue database."""

    def __init__(self, ruleset: RuleSet, db: Engine) -> None:
        self.ruleset = ruleset
        self.db = db
        types = answer_types(ruleset)
        self._conditions: dict[str, Condition] = {}
        specs: list[ConditionSpec | None] = [q.ask_if for q in ruleset.questions]
        specs += [f.when for f in ruleset.filters]
        specs += [s.when for r in ruleset.requirements for s in r.select]
        specs += [c.when for c in ruleset.cross_sell] + [a.when for a in ruleset.alerts]
        for spec in specs:
            if spec is not None:
                source = condition_source(spec)
                self._conditions.setdefault(source, compile_condition(source, types))
        self.bundles = BundleBuilder(ruleset, self.holds)
        self._exclusions = Exclusions(ruleset.category)

    def holds(self, spec: ConditionSpec | None, values: Mapping[str, Any]) -> bool:
        """Whether a rule's condition holds for these answers (no condition: always)."""
        return spec is None or self._conditions[condition_source(spec)].holds(values)

    # -- questions -----------------------------------------------------------------

    def next_question(self, answers: Mapping[str, Any]) -> Question | None:
        """The first question not answered yet whose ``ask_if`` holds, else None."""
        values = self.derive(answers)
        for question in self.ruleset.questions:
            if question.id not in answers and self.holds(question.ask_if, values):
                return question
        return None

    def available_options(self, question: Question, answers: Mapping[str, Any]) -> list[Option]:
        """Progressive filtering: the options some in-stock product can still satisfy.

        An option is kept when at least one in-stock main product matches the hard
        wishes of the earlier answers together with the wishes this option would add.
        Options that no filter reads are always kept. Should every option be ruled out
        (a catalogue gap), all are shown: the relaxation explains it later.
        """
        if question.type != "choice":
            return list(question.options)
        values = self.derive(answers)
        base = [w.predicate() for w in self._active(values)[0]]
        kept: list[Option] = []
        with Session(self.db) as session:
            for option in question.options:
                trial = self.derive({**answers, question.id: option.id})
                extra = [
                    w.predicate()
                    for w in self._active(trial)[0]
                    if w.rule.answer == question.id or w.rule.when is not None
                ]
                if not extra or self._any(session, [*base, *extra], in_stock=True):
                    kept.append(option)
        return kept or list(question.options)

    def derive(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Answers plus derived values; the first source with a value wins."""
        values = dict(answers)
        for derived in self.ruleset.derived:
            for source in derived.sources:
                raw = number(values.get(source.source))
                if raw is None:
                    continue
                rows = sorted(source.table, key=lambda r: r.min)
                row = next((r for r in rows if r.min <= raw < r.max), None)
                if row is None:  # outside the table: clamp to the nearest end
                    row = rows[0] if raw < rows[0].min else rows[-1]
                values[derived.id] = row.value
                break
        return values

    # -- recommendation ------------------------------------------------------------

    def recommend(
        self, answers: Mapping[str, Any], locks: Locks | None = None, *, expert: bool = True
    ) -> Recommendation:
        """At most ``max_offers`` ranked offers plus cross-sell; never nothing to show.

        Args:
            answers: Question id to answer.
            locks: Staff overrides: pinned main products come first (then the engine's
                offers fill the remaining places), excluded products are never used,
                chosen items replace the engine's picks. Rules they break are reported
                in ``violations``.
            expert: Also find excluded products and build the candidate list (the
                staff's expert view); the shopper's chat, which never shows them, skips
                that query.
        """
        locks = locks if locks is not None else Locks()
        values = self.derive(answers)
        trace: list[TraceEntry] = []
        for derived in self.ruleset.derived:
            if derived.id in values:
                used = next(s.source for s in derived.sources if values.get(s.source) is not None)
                trace.append(
                    trace_entry(
                        derived.id,
                        "derived",
                        gettext("{label} = {value} from {source} = {given}").format(
                            label=derived.label,
                            value=values[derived.id],
                            source=used,
                            given=values[used],
                        ),
                    )
                )
        wishes, soft = self._active(values)
        for wish in wishes:
            trace.append(
                trace_entry(
                    wish.rule.id, "filter", f"{wish.rule.attribute} {wish.rule.op} {wish.value!r}"
                )
            )
        for rule, value in soft:
            trace.append(
                trace_entry(
                    rule.id,
                    "preference",
                    gettext("{attribute} {op} {value!r} (weight {weight:g})").format(
                        attribute=rule.attribute, op=rule.op, value=value, weight=rule.weight
                    ),
                )
            )
        relaxation: RelaxationPayload | None = None
        with Session(self.db) as session:
            plan = self.bundles.plan(session, values, locks=locks, trace=trace)
            pins = load_pinned(session, locks, self.ruleset.max_offers, trace) if locks else []
            open_places = len(pins) < self.ruleset.max_offers
            ranked = self._offers(plan, wishes, soft, pins)
            if not ranked.offers and open_places:
                choices = relax(
                    wishes,
                    lambda ws: self._count_models(session, ws),
                    exists=lambda ws: self._exists(session, ws),
                    bound=lambda ws, w: self._bound(session, ws, w),
                )
                if choices:
                    # The other ways out become buttons that set the answers they name:
                    # give their bounds the same room for required items as the applied
                    # one gets below, so taking one finds offers within what it says.
                    roomy = [
                        self._with_room(plan, list(c.wishes), soft, pins)[0] for c in choices[1:]
                    ]
                    choices = [
                        choices[0],
                        *(
                            Choice(tuple(w), c.count)
                            for w, c in zip(roomy, choices[1:], strict=True)
                        ),
                    ]
                    wishes = list(choices[0].wishes)
                    relaxation = self._relaxation_payload(choices)
                    for choice in choices:
                        trace.append(
                            trace_entry(
                                "relaxation",
                                "choice",
                                ngettext(
                                    "{wishes}: {count} product",
                                    "{wishes}: {count} products",
                                    choice.count,
                                ).format(wishes="; ".join(choice.describe()), count=choice.count),
                            )
                        )
                    ranked = self._offers(plan, wishes, soft, pins)
                if not ranked.offers:
                    wishes, ranked = self._with_room(plan, wishes, soft, pins)
                # Still nothing: loosen further, least important first.
                for index in sorted(range(len(wishes)), key=lambda i: wishes[i].rule.importance):
                    while not ranked.offers and not wishes[index].dropped:
                        wishes[index] = wishes[index].at(wishes[index].level + 1)
                        trace.append(
                            trace_entry(wishes[index].rule.id, "relaxed", wishes[index].describe())
                        )
                        ranked = self._offers(plan, wishes, soft, pins)
            relaxed = [w.describe() for w in wishes if w.loosened]
            if relaxation is not None:  # what was finally applied, after any extra room
                relaxation["choices"][0]["relax"] = list(relaxed)
            # Pinned offers are built once the wishes are final: their violations name
            # the wishes as applied. They never fail, so the ranks given above hold.
            pinned = [self.bundles.build(plan, p, wishes, soft, pinned=True) for p in pins]
            offers = [b.offer for b in pinned if b.offer is not None] + ranked.offers
            for rank, offer in enumerate(offers, start=1):
                offer["rank"] = rank
                offer["relaxed"] = list(relaxed)
            violations = [v for b in pinned for v in b.violations] + ranked.violations
            cross = self._cross_sell(plan, offers)
            budget_wish = bundle_budget(wishes)
            anchor = None if budget_wish is None else number(budget_wish.effective)
            if anchor is None and offers:
                anchor = offers[0]["items"][0]["price"]
            skip = {*locks.excluded, *(p.sku for p in pins)}
            excluded = (
                self._exclusions.find(plan, wishes, anchor=anchor, skip=skip) if expert else []
            )
        return Recommendation(
            self.ruleset.id,
            dict(answers),
            values,
            offers,
            cross,
            relaxed,
            relaxation,
            trace,
            candidates=candidates(ranked.ranked, ranked.parts, self.bundles.attributes)
            if expert
            else [],
            excluded=excluded,
            violations=violations,
        )

    def component_options(
        self,
        answers: Mapping[str, Any],
        main_sku: str,
        requirement_id: str,
        locks: Locks | None = None,
        *,
        limit: int = COMPONENT_OPTIONS,
    ) -> list[ComponentOptionPayload]:
        """Items staff may choose for one requirement of one main product.

        Products of the requirement's category (staff-excluded ones left out), those
        meeting the requirement's selection first, then in stock first, then in the
        requirement's preference. Each says whether it fits and, if not, why: the
        selection's filter (pedals for the customer's shoes), compatibility with the main
        product and with the items staff chose for its other requirements.

        Raises:
            UnknownItemError: No such requirement in the rule set, or no such product.
        """
        requirements = {r.id: r for r in self.ruleset.requirements}
        requirement = requirements.get(requirement_id)
        if requirement is None:
            raise UnknownItemError("requirement", requirement_id, requirements)
        locks = locks if locks is not None else Locks()
        values = self.derive(answers)
        with Session(self.db) as session:
            main = session.exec(select(Product).where(col(Product.sku) == main_sku)).first()
            if main is None:
                raise UnknownItemError("product", main_sku)
            plan = self.bundles.plan(session, values, locks=locks)
            return plan.options(main, requirement, limit=limit)

    def _with_room(
        self,
        plan: RequirementPlan,
        wishes: list[Wish],
        soft: Sequence[tuple[Filter, Any]],
        pins: Sequence[Product],
    ) -> tuple[list[Wish], _Round]:
        """The wishes with room for required items, and the offers they then give.

        A bound from the catalogue counts the main item only; the required items cost
        extra. Bounded wishes get 10 % more, up to three times, until offers appear.
        """
        ranked = self._offers(plan, wishes, soft, pins)
        for _ in range(3):
            if ranked.offers or not any(w.override is not None for w in wishes):
                break
            wishes = [
                w.bounded(math.ceil(w.override * 1.1 / 10) * 10)
                if w.override is not None and w.rule.op.spec.bound == "upper"
                else w
                for w in wishes
            ]
            ranked = self._offers(plan, wishes, soft, pins)
        return wishes, ranked

    def _relaxation_payload(self, choices: Sequence[Choice]) -> RelaxationPayload:
        unmet = sorted({w.rule.label for c in choices for w in c.loosened})
        return {
            "unmet": unmet,
            "choices": [
                {
                    "relax": c.describe(),
                    "filters": [w.rule.id for w in c.loosened],
                    "count": c.count,
                    "applied": i == 0,
                    "answers": self._choice_answers(c),
                }
                for i, c in enumerate(choices)
            ],
        }

    def _choice_answers(self, choice: Choice) -> dict[str, Any] | None:
        """The answers a shopper would change to take this way out, if answers can say it.

        Dropping a wish means "no preference" for its answer; a wider bound on a number
        answer (the budget) is that number. Sizes from a table or substituted values are
        not answers the shopper gave, so such a choice is shown but not offered as a button.
        """
        changes: dict[str, Any] = {}
        for wish in choice.loosened:
            question = self.ruleset.question(wish.rule.answer) if wish.rule.answer else None
            if question is None:
                return None
            if wish.dropped:
                changes[question.id] = None
            elif question.type == "number" and number(wish.effective) is not None:
                changes[question.id] = number(wish.effective)
            else:
                return None
        return changes

    def _active(self, values: Mapping[str, Any]) -> tuple[list[Wish], list[tuple[Filter, Any]]]:
        hard: list[Wish] = []
        soft: list[tuple[Filter, Any]] = []
        for rule in self.ruleset.filters:
            if not self.holds(rule.when, values):
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
                hard.append(Wish(rule, value))
            else:
                soft.append((rule, value))
        return hard, soft

    def _where(self, predicates: Sequence[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
        return [col(Product.category) == self.ruleset.category, offerable(), *predicates]

    def _count(self, session: Session, predicates: Sequence[ColumnElement[bool]]) -> int:
        where = self._where(predicates)
        # Capped: the shopper reads "100+ models" as well as "83,412 models", and reading
        # at most COUNT_ROWS rows keeps the count cheap on a big catalogue.
        rows = select(col(Product.group_sku)).where(*where).limit(COUNT_ROWS).subquery()
        statement = select(func.count(), func.count(rows.c.group_sku.distinct()))
        read, models = session.exec(statement.select_from(rows)).one()
        return COUNT_CAP if read >= COUNT_ROWS else min(int(models), COUNT_CAP)

    def _bound(self, session: Session, others: Sequence[Wish], wish: Wish) -> float | None:
        column = col(getattr(Product, wish.rule.attribute))
        extreme = func.min(column) if wish.rule.op.spec.bound == "upper" else func.max(column)
        statement = select(extreme).where(*self._where([w.predicate() for w in others]))
        return number(session.exec(statement).one())

    def _any(
        self, session: Session, predicates: Sequence[ColumnElement[bool]], *, in_stock: bool = False
    ) -> bool:
        where = self._where(predicates)
        if in_stock:
            where.append(col(Product.stock) > 0)
        return session.exec(select(Product.id).where(*where).limit(1)).first() is not None

    def _exists(self, session: Session, wishes: Sequence[Wish]) -> bool:
        return self._any(session, [w.predicate() for w in wishes])

    def _count_models(self, session: Session, wishes: Sequence[Wish]) -> int:
        return self._count(session, [w.predicate() for w in wishes])

    def _score(
        self, wishes: Sequence[Wish], soft: Sequence[tuple[Filter, Any]]
    ) -> ColumnElement[Any]:
        """The score as one SQL expression (bench/recommend.py rebuilds the ranking query)."""
        parts = score_parts(self.ruleset.ranking, wishes, soft)
        return total([part.expression for part in parts])

    def _offers(
        self,
        plan: RequirementPlan,
        wishes: Sequence[Wish],
        soft: Sequence[tuple[Filter, Any]],
        pins: Sequence[Product],
    ) -> _Round:
        parts = score_parts(self.ruleset.ranking, wishes, soft)
        budget_wish = bundle_budget(wishes)
        budget = None if budget_wish is None else number(budget_wish.effective)
        where = self._where([w.predicate() for w in wishes])
        if plan.locks.excluded:
            where.append(col(Product.sku).not_in(plan.locks.excluded))
        if budget is not None:
            # Leave room for what the bundle must add: a bike that only fits the budget
            # without its pedals is never a candidate, so candidates are not wasted.
            where.append(col(Product.price) + plan.extra_sql() <= budget + 0.005)
        # Retrieval, then ranking, then loading. Retrieval walks the price index from the
        # budget down (or, once the budget is loosened, from the cheapest up) and keeps
        # RETRIEVAL_ROWS rows: the products nearest the shopper's price, which is where
        # the ranking looks anyway. Ranking scores only those, from the columns a
        # covering index holds; then only the winning rows are loaded. On catalogues where
        # fewer rows match, this is exactly the full ranking. Each score part is a column
        # and the score their sum, so staff see exactly the numbers the ranking used.
        cheapest_first = any(w.loosened and w.rule.attribute == "price" for w in wishes)
        price_order = col(Product.price) if cheapest_first else col(Product.price).desc()
        id_order = col(Product.id) if cheapest_first else col(Product.id).desc()
        retrieved = (
            select(
                col(Product.id).label("id"),
                col(Product.price).label("price"),
                *(part.expression.label(f"part_{i}") for i, part in enumerate(parts)),
            )
            .where(*where)
            .order_by(price_order, id_order)
            .limit(RETRIEVAL_ROWS)
            .subquery()
        )
        columns = [retrieved.c[f"part_{i}"] for i in range(len(parts))]
        rows = plan.session.exec(
            select(retrieved.c.id, *columns)
            .order_by(total(columns).desc(), retrieved.c.price, retrieved.c.id)
            .limit(CANDIDATE_ROWS)
        ).all()
        result = _Round(parts)
        if not rows:
            return result
        ids = [row[0] for row in rows]
        statement = select(Product).where(col(Product.id).in_(ids))
        loaded = {p.id: p for p in plan.session.exec(statement)}
        pinned = {p.sku: rank for rank, p in enumerate(pins, start=1)}
        models = {p.group_sku: p.sku for p in pins}  # model -> the SKU offered for it
        places = self.ruleset.max_offers - len(pins)
        for row in rows:
            product = loaded[row[0]]
            seen = Ranked(product, tuple(row[1:]))
            result.ranked.append(seen)
            if product.sku in pinned:
                seen.status, seen.offer_rank, seen.note = "offered", pinned[product.sku], "pinned"
                continue
            if product.group_sku in models:
                seen.status = "same_model"
                seen.note = f"same model as {models[product.group_sku]}"
                continue
            if len(result.offers) >= places:
                continue  # not needed: the offers are complete
            bundle = self.bundles.build(plan, product, wishes, soft)
            if bundle.offer is None:
                seen.status, seen.note = "not_bundled", bundle.note
                continue
            models[product.group_sku] = product.sku
            rank = len(pins) + len(result.offers) + 1
            bundle.offer["rank"] = rank
            result.offers.append(bundle.offer)
            result.violations += bundle.violations
            seen.status, seen.offer_rank = "offered", rank
        return result

    def _cross_sell(
        self, plan: RequirementPlan, offers: list[OfferPayload]
    ) -> list[CrossSellPayload]:
        session, values, trace = plan.session, plan.values, plan.trace
        excluded = set(plan.locks.excluded)
        taken = {item["sku"] for offer in offers for item in offer["items"]}
        offered = [plan.products[sku] for sku in taken]
        taken_models: set[str] = set()
        result: list[CrossSellPayload] = []
        for rule in self.ruleset.cross_sell:
            if not self.holds(rule.when, values):
                continue
            candidates = top_products(
                session,
                rule.target,
                values,
                prefer=rule.prefer,
                limit=rule.limit * 8,
                in_stock=True,
                cache=self.bundles.cache,
            )
            added = 0
            for product in candidates:
                if product.sku in taken or product.group_sku in taken_models:
                    continue
                if product.sku in excluded:
                    continue
                misfit = next(
                    (o for o in offered if not self.bundles.compatible(session, product, o)), None
                )
                if misfit is not None:
                    trace.append(
                        trace_entry(
                            rule.id,
                            "compatibility",
                            gettext("{sku} does not fit {other}").format(
                                sku=product.sku, other=misfit.sku
                            ),
                        )
                    )
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
                trace.append(
                    trace_entry(
                        rule.id, "cross_sell", gettext("suggested {sku}").format(sku=product.sku)
                    )
                )
                added += 1
                if added == rule.limit:
                    break
        return result
