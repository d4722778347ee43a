"""Checks of what an offer adds: selections matching nothing, clashes, misfits.

Selections no product matches, requirements adding the same category twice, required
items that cannot fit the items the answers bring (cross-sell) or imply (owned shoes).

A *pick* is one way an item joins an offer: a requirement's selection (in the category of
the requirement) or a cross-sell target. Filters that compare with a choice answer
(``cleat_system: {answer: shoes_owned}``) are checked once per option the pick's condition
allows, so each finding names the answer it happens for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from product_rules.checks_catalogue import Catalogue, Path_, Scope, scope_label, scope_of
from product_rules.checks_conditions import UNANSWERED, Conditions, Terms
from product_rules.clauses import ProductFilter
from product_rules.errors import RuleProblem
from product_rules.i18n import lazy_gettext as _
from product_rules.loader import SourceMap
from product_rules.schema import Compatibility, RuleSet

__all__ = ["requirement_problems"]

Case = tuple[Terms, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Pick:
    label: str
    scope: Scope
    own: Terms  # answers under which its own condition holds
    chosen: Terms  # answers under which it is the one used (earlier selections do not hold)
    filter: ProductFilter
    path: Path_
    requirement: int | None = None

    def at(self, attribute: str) -> Path_:
        """Where the filter names ``attribute``, else the filter itself."""
        found = [c.path for c in self.filter.at(self.path) if c.attribute == attribute]
        return found[0] if found else self.path


def requirement_problems(
    rs: RuleSet, src: SourceMap, catalogue: Catalogue, conds: Conditions
) -> Iterator[RuleProblem]:
    """Every finding about requirements, their selections and their fit."""
    known = catalogue.categories()
    picks = [p for p in _picks(rs, conds) if p.scope is None or set(p.scope) <= known]
    yield from _empty(src, catalogue, conds, picks)
    if rs.category in known:
        yield from _overlapping(rs, src, catalogue, conds)
    for rule in rs.compatibility:
        if rule.equal is not None and set(rule.categories) <= known:
            yield from _misfits(rs, src, catalogue, conds, picks, rule)


def _picks(rs: RuleSet, conds: Conditions) -> list[_Pick]:
    picks: list[_Pick] = []
    for i, req in enumerate(rs.requirements):
        # The first selection whose condition holds is used: later ones only when the
        # earlier conditions do not hold (or when an earlier one matches nothing).
        earlier: Terms = [{}]
        for j, sel in enumerate(req.select):
            own = conds.at_offer(conds.terms(sel.when))
            path = ("requirements", i, "select", j, "filter")
            label = _("selection {number} of {requirement!r}").format(
                number=j + 1, requirement=req.id
            )
            chosen = conds.both(own, earlier)
            picks.append(_Pick(label, (req.category,), own, chosen, sel.filter, path, i))
            earlier = conds.both(earlier, conds.terms(sel.when, positive=False))
    for i, rule in enumerate(rs.cross_sell):
        when = conds.at_offer(conds.terms(rule.when))
        label = _("cross-sell {rule!r}").format(rule=rule.id)
        picks.append(
            _Pick(
                label, scope_of(rule.target), when, when, rule.target, ("cross_sell", i, "target")
            )
        )
    return picks


def _cases(pick: _Pick, terms: Terms, conds: Conditions) -> list[Case]:
    """The pick once per value of each choice or yes/no answer its filter compares with."""
    result: list[Case] = [(terms, {})]
    for clause in pick.filter.at(pick.path):
        name = clause.answer
        if name is None or name not in conds.domains:
            continue
        expanded: list[Case] = []
        for narrowed, values in result:
            for value in sorted(conds.allowed(narrowed, name), key=str):
                only = conds.both(narrowed, [{name: frozenset([value])}])
                answer = None if value == UNANSWERED else value
                expanded.append((only, {**values, name: answer}))
        result = expanded
    return result


def _when(values: Mapping[str, Any]) -> str:
    """`` when usage is 'racing' and shoes_owned is unanswered``, or "" for no answers."""
    parts: list[str] = [
        _("{answer} is unanswered").format(answer=n)
        if v is None
        else _("{answer} is {value!r}").format(answer=n, value=v)
        for n, v in values.items()
    ]
    if not parts:
        return ""
    conditions = parts[-1]
    for part in reversed(parts[:-1]):
        conditions = _and(part, conditions)
    return _(" when {conditions}").format(conditions=conditions)


def _and(left: str, right: str) -> str:
    return _("{left} and {right}").format(left=left, right=right)


def _sorted(values: frozenset[Any]) -> list[Any]:
    return sorted(values, key=str)


def _empty(
    src: SourceMap, catalogue: Catalogue, conds: Conditions, picks: list[_Pick]
) -> Iterator[RuleProblem]:
    """Selections and cross-sell targets no product matches."""
    for pick in picks:
        parts = pick.filter.at(pick.path)
        if any(catalogue.absent(c, pick.scope) for c in parts):
            continue  # a value no product has is already reported where it is written
        for _terms, values in _cases(pick, pick.own, conds):
            if catalogue.count(pick.scope, [pick.filter], values) == 0:
                shown: str = _("any product")
                if parts:
                    shown = parts[-1].show(values)
                    for clause in reversed(parts[:-1]):
                        shown = _and(clause.show(values), shown)
                yield src.problem(
                    pick.path,
                    _("{pick} matches no {scope}{when}: {shown}").format(
                        pick=pick.label,
                        scope=scope_label(pick.scope),
                        when=_when(values),
                        shown=shown,
                    ),
                )
                break


def _overlapping(
    rs: RuleSet, src: SourceMap, catalogue: Catalogue, conds: Conditions
) -> Iterator[RuleProblem]:
    """Two requirements adding the same category to the same main product."""
    for (_i, a), (j, b) in combinations(enumerate(rs.requirements), 2):
        if a.category != b.category:
            continue
        both = [
            conds.at_offer(conds.both(conds.terms(x.when), conds.terms(y.when)))
            for x in a.select
            for y in b.select
        ]
        if not any(both):
            continue  # never both for the same answers
        count = catalogue.count((rs.category,), [a.if_item, b.if_item])
        if count:
            yield src.problem(
                ("requirements", j, "category"),
                _(
                    "requirements {first!r} and {second!r} both add {category} to the same "
                    "{count} {main} products: make their if_item exclusive or merge them"
                ).format(
                    first=a.id, second=b.id, category=b.category, count=count, main=rs.category
                ),
            )


def _misfits(
    rs: RuleSet,
    src: SourceMap,
    catalogue: Catalogue,
    conds: Conditions,
    picks: list[_Pick],
    rule: Compatibility,
) -> Iterator[RuleProblem]:
    """Selections whose items never fit the items the same answers bring or imply."""
    attribute = str(rule.equal)
    for mine, theirs in (rule.categories, rule.categories[::-1]):
        selections = [p for p in picks if p.requirement is not None and p.scope == (mine,)]
        # Answers a selection copies into the attribute ("pedals for the cleats of the
        # shoes you own") describe items the shopper already owns.
        owners = {
            c.answer
            for p in selections
            for c in p.filter.at(p.path)
            if c.attribute == attribute and c.answer in conds.domains
        }
        owned = (theirs, {str(v) for v in catalogue.distinct(attribute, (theirs,))})
        for pick in selections:
            for name in sorted(n for n in owners if n is not None):
                yield from _owned_misfit(catalogue, conds, pick, name, owned, rule, src)
            others = [
                o
                for o in picks
                if o.scope == (theirs,)
                and (o.requirement is None or _together(rs, catalogue, pick, o))
            ]
            for other in others:
                problem = _clash(src, catalogue, conds, pick, other, attribute, rule)
                if problem is not None:
                    yield problem


def _owned_misfit(
    catalogue: Catalogue,
    conds: Conditions,
    pick: _Pick,
    name: str,
    owned: tuple[str, set[str]],
    rule: Compatibility,
    src: SourceMap,
) -> Iterator[RuleProblem]:
    """A selection that may give shoppers items that do not fit what they own.

    ``owned`` is the other category of the rule and the attribute values its products have.
    The engine checks fit only among the items of an offer, never against what the shopper
    owns, so every value other than the owned one is a misfit, not only disjoint sets.
    """
    attribute, (theirs, owned_values) = str(rule.equal), owned
    fits_all: set[Any] = set()
    clash: set[Any] = set()
    for terms, values in _cases(pick, pick.chosen, conds):
        fits = {str(f) for f in catalogue.distinct(attribute, pick.scope, [pick.filter], values)}
        fits_all |= fits
        possible = {str(v) for v in conds.allowed(terms, name)} & owned_values
        clash |= {v for v in possible if fits and fits != {v}}
    if clash:
        answers: str = ""
        for value in reversed(sorted(clash)):
            answers = (
                _("{left} or {right}").format(left=repr(value), right=answers)
                if answers
                else repr(value)
            )
        mine = scope_label(pick.scope)
        yield src.problem(
            pick.at(attribute),
            _(
                "{pick} picks {mine} with {attribute} in {fits} for shoppers answering "
                "{answer} {answers}: their {theirs} fit only {mine} with the same {attribute} "
                "(compatibility {rule!r})"
            ).format(
                pick=pick.label,
                mine=mine,
                attribute=attribute,
                fits=sorted(fits_all),
                answer=name,
                answers=answers,
                theirs=theirs,
                rule=rule.id,
            ),
        )


def _together(rs: RuleSet, catalogue: Catalogue, pick: _Pick, other: _Pick) -> bool:
    """Whether two selections of different requirements can add items to one offer."""
    if other.requirement is None or pick.requirement is None:
        return True
    if other.requirement <= pick.requirement:
        return False  # each pair of requirements is looked at once, from the first
    a, b = rs.requirements[pick.requirement], rs.requirements[other.requirement]
    return catalogue.count((rs.category,), [a.if_item, b.if_item]) > 0


def _clash(
    src: SourceMap,
    catalogue: Catalogue,
    conds: Conditions,
    pick: _Pick,
    other: _Pick,
    attribute: str,
    rule: Compatibility,
) -> RuleProblem | None:
    for terms, values in _cases(pick, pick.chosen, conds):
        fits = catalogue.distinct(attribute, pick.scope, [pick.filter], values)
        for other_terms, other_values in _cases(other, other.chosen, conds):
            if not fits or not conds.both(terms, other_terms):
                continue
            theirs = catalogue.distinct(attribute, other.scope, [other.filter], other_values)
            if theirs and not fits & theirs:
                return src.problem(
                    pick.at(attribute),
                    _(
                        "{pick} picks {mine} with {attribute} in {fits}{when} that never fit "
                        "the {theirs} of {other} ({attribute} in {their_values}; "
                        "compatibility {rule!r})"
                    ).format(
                        pick=pick.label,
                        mine=scope_label(pick.scope),
                        attribute=attribute,
                        fits=_sorted(fits),
                        when=_when({**values, **other_values}),
                        theirs=scope_label(other.scope),
                        other=other.label,
                        their_values=_sorted(theirs),
                        rule=rule.id,
                    ),
                )
    return None
