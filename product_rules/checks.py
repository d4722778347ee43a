"""Deep checks of a loaded rule set: against the catalogue and across the whole rule set.

:func:`~product_rules.loader.load_ruleset` already refuses names, keys and values that are
not in the vocabulary. What it cannot see needs the catalogue or the rule set as a whole:
categories nobody sells, values no product of the category has, options and products no
answers can reach, questions never asked, requirements that clash, derived values that
read each other. :func:`check_ruleset` finds those, each as a
:class:`~product_rules.errors.RuleProblem` at the offending value; any finding makes
``product-rules check`` fail, so a rule set goes live only once it is clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from product_rules.checks_catalogue import Catalogue, Path_, Scope, scope_label, scope_of
from product_rules.checks_conditions import Conditions, condition_problems
from product_rules.checks_requirements import requirement_problems
from product_rules.clauses import Clause, ProductFilter
from product_rules.errors import RuleProblem, did_you_mean
from product_rules.i18n import lazy_gettext as _
from product_rules.i18n import lazy_ngettext as ngettext
from product_rules.loader import LoadedRuleSet, SourceMap
from product_rules.schema import Filter, RuleSet
from product_rules.vocabulary import Operator

__all__ = ["check_ruleset"]

#: How many missing values a finding names before it abbreviates.
EXAMPLES = 5

_NEVER_MATCHES = _(
    "option {option!r} of question {question!r} can never match a {scope} ({clause})"
)


def check_ruleset(loaded: LoadedRuleSet, db: Engine) -> list[RuleProblem]:
    """Check a loaded rule set against the catalogue in ``db`` and against itself.

    Args:
        loaded: A rule set that passed :func:`~product_rules.loader.load_ruleset`.
        db: The catalogue database the rule set will run on.

    Returns:
        Every finding, sorted by file, line and column; empty when the rule set is clean.
    """
    check = _Check(loaded.ruleset, loaded.sources, Catalogue(db), Conditions(loaded.ruleset))
    found = {
        *check.categories(),
        *check.values(),
        *check.options(),
        *condition_problems(check.rs, check.src, check.conds),
        *check.unreachable_products(),
        *requirement_problems(check.rs, check.src, check.catalogue, check.conds),
        *check.derived_cycles(),
    }
    return sorted(found, key=lambda p: (p.file, p.line, p.column, p.message))


@dataclass(slots=True)
class _Check:
    rs: RuleSet
    src: SourceMap
    catalogue: Catalogue
    conds: Conditions

    @property
    def main(self) -> Scope:
        return (self.rs.category,)

    def known(self, scope: Scope) -> bool:
        """Whether every category of ``scope`` exists (unknown ones are reported once)."""
        return scope is None or set(scope) <= self.catalogue.categories()

    # -- 1. categories -------------------------------------------------------------

    def categories(self) -> Iterator[RuleProblem]:
        """Category slugs that no product in the catalogue has."""
        rs = self.rs
        spots: list[tuple[Any, tuple[str | int, ...]]] = [(rs.category, ("category",))]
        for i, req in enumerate(rs.requirements):
            spots.append((req.category, ("requirements", i, "category")))
        for i, rule in enumerate(rs.cross_sell):
            for clause in rule.target.at(("cross_sell", i, "target")):
                if clause.attribute == "category":
                    spots += clause.items()
        for i, compat in enumerate(rs.compatibility):
            spots += [
                (c, ("compatibility", i, "categories", j)) for j, c in enumerate(compat.categories)
            ]
        known = self.catalogue.categories()
        for value, path in spots:
            if str(value) not in known:
                yield self.src.problem(
                    path,
                    _("unknown category {category!r} (not in the catalogue)").format(
                        category=value
                    ),
                    did_you_mean(str(value), known),
                )

    # -- 2. values no product has --------------------------------------------------

    def values(self) -> Iterator[RuleProblem]:
        """Text and yes/no values that no product of the category they apply to has."""
        rs = self.rs
        places: list[tuple[list[Clause], Scope]] = []
        for i, flt in enumerate(rs.filters):
            if flt.value is not None:
                places.append(
                    (
                        [Clause(flt.attribute, flt.op, flt.value, None, ("filters", i, "value"))],
                        self.main,
                    )
                )
        for i, req in enumerate(rs.requirements):
            places.append((req.if_item.at(("requirements", i, "if_item")), self.main))
            for j, sel in enumerate(req.select):
                at = ("requirements", i, "select", j, "filter")
                places.append((sel.filter.at(at), (req.category,)))
        for i, alert in enumerate(rs.alerts):
            places.append((alert.if_item.at(("alerts", i, "if_item")), self.main))
        for i, rule in enumerate(rs.cross_sell):
            places.append((rule.target.at(("cross_sell", i, "target")), scope_of(rule.target)))
        for parts, scope in places:
            if self.known(scope):
                for clause in parts:
                    yield from self._absent(clause, self.catalogue.absent(clause, scope), scope)

    def _absent(
        self, clause: Clause, absent: list[tuple[Any, Path_]], scope: Scope
    ) -> Iterator[RuleProblem]:
        present = [str(v) for v in self.catalogue.distinct(clause.attribute, scope)]
        for item, path in absent:
            yield self.src.problem(
                path,
                _("no {scope} has {attribute} {value!r}").format(
                    scope=scope_label(scope), attribute=clause.attribute, value=item
                ),
                did_you_mean(str(item), present),
            )

    # -- 3. options that never match -----------------------------------------------

    def options(self) -> Iterator[RuleProblem]:
        """Choice options whose filter values no product of the main category has.

        Map entries are all looked at here: an entry none of whose values occur is an
        option that can never match; an entry with some missing values gets those
        reported one by one, as other values no product has.
        """
        if not self.known(self.main):
            return
        label = scope_label(self.main)
        for i, flt in enumerate(self.rs.filters):
            index, question = next(
                ((k, q) for k, q in enumerate(self.rs.questions) if q.id == flt.answer),
                (-1, None),
            )
            # A mapped list means one of its values.
            op = Operator.IN if flt.op is Operator.EQ else flt.op
            for key, mapped in (flt.map or {}).items():
                clause = Clause(flt.attribute, op, mapped, None, ("filters", i, "map", key))
                absent = self.catalogue.absent(clause, self.main)
                if question is None or len(absent) < len(clause.items()):
                    yield from self._absent(clause, absent, self.main)
                elif self._applies(flt, question.id, key):
                    yield self.src.problem(
                        clause.path,
                        _NEVER_MATCHES.format(
                            option=key, question=question.id, scope=label, clause=clause.show({})
                        ),
                    )
            if question is None or question.type != "choice" or flt.map is not None:
                continue
            for k, option in enumerate(question.options):
                path = ("questions", index, "options", k, "id")
                clause = Clause(flt.attribute, flt.op, option.id, None, path)
                if self.catalogue.absent(clause, self.main) and self._applies(
                    flt, question.id, option.id
                ):
                    yield self.src.problem(
                        path,
                        _NEVER_MATCHES.format(
                            option=option.id,
                            question=question.id,
                            scope=label,
                            clause=clause.show({}),
                        ),
                    )

    def _applies(self, flt: Filter, question: str, option: str) -> bool:
        """Whether the filter's ``when`` can hold once ``question`` is answered ``option``."""
        answered = [{question: frozenset([option])}]
        return bool(self.conds.both(self.conds.terms(flt.when), answered))

    # -- 5. products no answers reach ----------------------------------------------

    def unreachable_products(self) -> Iterator[RuleProblem]:
        """Main products an always-on hard filter excludes whatever the answers.

        A hard ``eq``/``in`` filter without ``when`` that compares with a derived value
        only lets through what the size tables give; with a choice question asked of
        everyone, only what its options (or their mapped values) give. Relaxation and
        skipped questions are not counted: they are fallbacks, not answer paths.
        """
        rs = self.rs
        if not self.known(self.main):
            return
        derived = {d.id: (k, d) for k, d in enumerate(rs.derived)}
        for i, flt in enumerate(rs.filters):
            if not flt.hard or flt.when is not None or flt.scope != "main" or flt.answer is None:
                continue
            if flt.op not in (Operator.EQ, Operator.IN):
                continue
            question = rs.question(flt.answer)
            given: set[Any]
            path: tuple[str | int, ...]
            reason: str
            if flt.answer in derived:
                k, value = derived[flt.answer]
                given = {row.value for source in value.sources for row in source.table}
                path = ("derived", k, "id")
                reason = _("no size table row gives")
            elif question is not None and question.type == "choice" and question.ask_if is None:
                ids = [o.id for o in question.options]
                if flt.map is not None and not set(ids) <= set(flt.map):
                    continue  # an unmapped option lets every product through
                given = set(ids)
                if flt.map is not None:
                    given = {v for o in ids for v in _listed(flt.map[o])}
                path = ("filters", i, "map" if flt.map is not None else "answer")
                reason = _("no answer to {question!r} gives").format(question=question.id)
            else:
                continue
            wanted = {_same(v) for v in given}
            present = self.catalogue.distinct(flt.attribute, self.main)
            missing = sorted((v for v in present if _same(v) not in wanted), key=_order)
            if not missing:
                continue
            left_out = ProductFilter.of([Clause(flt.attribute, Operator.IN, missing)])
            count = self.catalogue.count(self.main, [left_out])
            shown = ", ".join(str(v) for v in missing[:EXAMPLES])
            shown += ", ..." if len(missing) > EXAMPLES else ""
            message = ngettext(
                "{count} {category} product ({attribute} {shown}) can never be offered: "
                "{reason} {shown}",
                "{count} {category} products ({attribute} {shown}) can never be offered: "
                "{reason} {shown}",
                count,
            )
            yield self.src.problem(
                path,
                message.format(
                    category=rs.category, attribute=flt.attribute, shown=shown, reason=reason
                ),
            )

    # -- 7. derived values reading each other ---------------------------------------

    def derived_cycles(self) -> Iterator[RuleProblem]:
        """Cycles among derived values, at the source that closes each cycle."""
        derived = {d.id: k for k, d in enumerate(self.rs.derived)}
        done: set[str] = set()
        stack: list[str] = []
        reported: set[frozenset[str]] = set()

        def visit(name: str) -> Iterator[RuleProblem]:
            stack.append(name)
            k = derived[name]
            for j, source in enumerate(self.rs.derived[k].sources):
                following = source.source
                if following not in derived or following in done:
                    continue
                if following in stack:
                    cycle = [*stack[stack.index(following) :], following]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        yield self.src.problem(
                            ("derived", k, "from", j, "source"),
                            _("cycle in derived values: {cycle}").format(cycle=" -> ".join(cycle)),
                        )
                else:
                    yield from visit(following)
            stack.pop()
            done.add(name)

        for name in derived:
            if name not in done:
                yield from visit(name)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _same(value: Any) -> Any:
    """A comparable form: 56 and 56.0 are one frame size, '28' and 28 one wheel size."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _order(value: Any) -> tuple[int, Any]:
    same = _same(value)
    return (0, same) if isinstance(same, float) else (1, str(same))
