"""When can a condition hold at all? Reasoning over ``ask_if`` and ``when`` for the checks.

A condition is turned into a disjunction of terms; a term maps choice and yes/no answers to
the values they may take (an unanswered question is the value :data:`UNANSWERED`). Only
comparisons of an answer with literals are understood (``usage == 'racing'``,
``usage != 'commute'``, ``usage in ['a', 'b']``, a bare yes/no answer), combined with
``and``, ``or``, ``not`` and ``all``/``any``/``not`` trees. Anything else (numbers,
arithmetic, functions) may hold either way, so the checks never report on shapes they do
not understand.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from typing import Any

import rule_engine
from rule_engine import ast

from product_rules.conditions import answer_types, leaves
from product_rules.errors import RuleProblem, did_you_mean
from product_rules.i18n import Message
from product_rules.i18n import lazy_gettext as _
from product_rules.loader import SourceMap
from product_rules.schema import AllOf, ConditionSpec, NotOf, RuleSet

__all__ = ["FALSE", "TRUE", "UNANSWERED", "Conditions", "Terms", "condition_problems"]

#: The value of a question not answered yet: ``!=`` and ``not in`` hold for it, ``==`` not.
UNANSWERED = "<unanswered>"

Term = dict[str, frozenset[Any]]
Terms = list[Term]
TRUE: Terms = [{}]
FALSE: Terms = []

#: Beyond this many terms a condition counts as holding for any answers, so the checks
#: stay fast on pathological trees and never call such a condition impossible.
MAX_TERMS = 256

_LITERALS = (ast.StringExpression, ast.BooleanExpression, ast.NullExpression)
Path_ = tuple[str | int, ...]


class Conditions:
    """The conditions of one rule set, as sets of possible answers."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.options = {q.id: [o.id for o in q.options] for q in ruleset.questions}
        self.domains: dict[str, frozenset[Any]] = {}
        for question in ruleset.questions:
            if question.type == "choice":
                self.domains[question.id] = frozenset([*self.options[question.id], UNANSWERED])
            elif question.type == "boolean":
                self.domains[question.id] = frozenset([True, False, UNANSWERED])
        # Offers come only once no question is left to ask: a question without ask_if
        # is then answered, with its default when the shopper does not know.
        answered = {
            q.id: self.domains[q.id] - {UNANSWERED}
            for q in ruleset.questions
            if q.id in self.domains and q.ask_if is None and q.default is not None
        }
        self._offered: Terms = [answered]
        resolver = rule_engine.type_resolver_from_dict(dict(answer_types(ruleset)))
        self._context = rule_engine.Context(type_resolver=resolver, default_value=None)
        self._parsed: dict[str, Any] = {}

    def expression(self, source: str) -> Any:
        """The syntax tree of one expression, or None if it does not compile."""
        if source not in self._parsed:
            try:
                self._parsed[source] = rule_engine.Rule(source, context=self._context)
            except rule_engine.EngineError:
                self._parsed[source] = None
        rule = self._parsed[source]
        return None if rule is None else rule.statement.expression

    def terms(
        self, spec: ConditionSpec | None, positive: bool = True, conflicts: set[str] | None = None
    ) -> Terms:
        """The answers under which ``spec`` holds (``positive``) or does not.

        Args:
            spec: The condition; None is a rule without condition, which always holds.
            positive: False for the answers under which the condition does not hold.
            conflicts: Collects the answers whose constraints contradicted each other.
        """
        conflicts = set() if conflicts is None else conflicts
        if spec is None:
            return list(TRUE) if positive else []
        if isinstance(spec, str):
            node = self.expression(spec)
            return list(TRUE) if node is None else self._node(node, positive, conflicts)
        if isinstance(spec, NotOf):
            return self.terms(spec.not_, not positive, conflicts)
        parts = spec.all if isinstance(spec, AllOf) else spec.any
        each = [self.terms(p, positive, conflicts) for p in parts]
        # De Morgan: a negated ``all`` is an ``any`` of negations and vice versa.
        if isinstance(spec, AllOf) == positive:
            return reduce(lambda a, b: self.both(a, b, conflicts), each)
        return reduce(_either, each)

    def both(self, left: Terms, right: Terms, conflicts: set[str] | None = None) -> Terms:
        """The answers under which both hold."""
        result: Terms = []
        for a in left:
            for b in right:
                term = dict(a)
                for name, values in b.items():
                    term[name] = term[name] & values if name in term else values
                empty = [name for name, values in term.items() if not values]
                if empty:
                    if conflicts is not None:
                        conflicts.update(empty)
                    continue
                result.append(term)
        return list(TRUE) if len(result) > MAX_TERMS else result

    def at_offer(self, terms: Terms) -> Terms:
        """The answers of ``terms`` that are possible when offers are made."""
        return self.both(terms, self._offered)

    def allowed(self, terms: Terms, name: str) -> frozenset[Any]:
        """The values of answer ``name`` under which ``terms`` can hold."""
        domain = self.domains.get(name, frozenset())
        return frozenset().union(*(t.get(name, domain) for t in terms))

    def symbols(self, spec: ConditionSpec) -> set[str]:
        """Every answer or derived value a condition reads."""
        return {
            node.name
            for source, _ in leaves(spec, ())
            for node in _walk(self.expression(source))
            if isinstance(node, ast.SymbolExpression)
        }

    def _node(self, node: Any, positive: bool, conflicts: set[str]) -> Terms:
        if isinstance(node, ast.LogicExpression):
            left = self._node(node.left, positive, conflicts)
            right = self._node(node.right, positive, conflicts)
            if (node.type == "and") == positive:
                return self.both(left, right, conflicts)
            return _either(left, right)
        if isinstance(node, ast.UnaryExpression) and node.type == "not":
            return self._node(node.right, not positive, conflicts)
        if isinstance(node, ast.BooleanExpression):
            return list(TRUE) if bool(node.value) == positive else []
        atom = self._atom(node)
        if atom is None:
            return list(TRUE)  # a shape we do not understand may hold either way
        name, values = atom
        domain = self.domains[name]
        allowed = values & domain if positive else domain - values
        if not allowed:
            conflicts.add(name)
            return []
        return [{name: allowed}]

    def _atom(self, node: Any) -> tuple[str, frozenset[Any]] | None:
        """``(answer, values for which the node holds)`` for the comparisons we read."""
        if isinstance(node, ast.SymbolExpression):
            # A bare yes/no answer holds when it is yes; a bare text answer we do not read.
            if True in self.domains.get(node.name, ()):
                return node.name, frozenset([True])
            return None
        if isinstance(node, ast.ComparisonExpression) and node.type in ("eq", "ne"):
            sides = (node.left, node.right)
            symbol = next((s for s in sides if isinstance(s, ast.SymbolExpression)), None)
            literal = next((s for s in sides if isinstance(s, _LITERALS)), None)
            if symbol is None or literal is None or symbol.name not in self.domains:
                return None
            value = frozenset([_literal(literal)])
            return symbol.name, value if node.type == "eq" else self.domains[symbol.name] - value
        if isinstance(node, ast.ContainsExpression):
            member, container = node.member, node.container
            items = getattr(container, "value", None)
            if (
                isinstance(member, ast.SymbolExpression)
                and member.name in self.domains
                and isinstance(container, ast.ArrayExpression | ast.SetExpression)
                and isinstance(items, tuple | list | set | frozenset)
                and all(isinstance(i, _LITERALS) for i in items)
            ):
                return member.name, frozenset(_literal(i) for i in items)
        return None

    def compared(self, source: str) -> Iterator[tuple[str, str]]:
        """``(question, literal)`` for each text literal compared with a choice answer."""
        for node in _walk(self.expression(source)):
            sides: tuple[Any, ...]
            literals: tuple[Any, ...]
            # Only == and != : =~ and friends are comparisons too, but with patterns.
            if isinstance(node, ast.ComparisonExpression) and node.type in ("eq", "ne"):
                sides = literals = (node.left, node.right)
            elif isinstance(node, ast.ContainsExpression):
                sides, literals = (node.member,), tuple(getattr(node.container, "value", ()))
            else:
                continue
            for symbol in sides:
                if isinstance(symbol, ast.SymbolExpression) and self.options.get(symbol.name):
                    for literal in literals:
                        if isinstance(literal, ast.StringExpression):
                            yield symbol.name, str(literal.value)


def _literal(node: Any) -> Any:
    return UNANSWERED if isinstance(node, ast.NullExpression) else node.value


def _either(left: Terms, right: Terms) -> Terms:
    result = [*left, *right]
    return list(TRUE) if len(result) > MAX_TERMS else result


def _walk(node: Any) -> Iterator[Any]:
    """Every node of a syntax tree; generic, so new node kinds are still searched."""
    if not isinstance(node, ast.ExpressionBase):
        return
    yield node
    names = set(getattr(node, "__dict__", {}))
    names.update(s for cls in type(node).__mro__ for s in getattr(cls, "__slots__", ()))
    for name in sorted(names - {"context"}):
        child = getattr(node, name, None)
        for item in child if isinstance(child, tuple | list) else (child,):
            yield from _walk(item)


# -- checks ------------------------------------------------------------------------


def condition_problems(rs: RuleSet, src: SourceMap, conds: Conditions) -> Iterator[RuleProblem]:
    """Questions never asked, rules that never apply, literals that are no option."""
    places: list[tuple[ConditionSpec | None, Path_, Message, str]] = []
    for i, question in enumerate(rs.questions):
        subject = _("question {question!r} is never asked").format(question=question.id)
        places.append((question.ask_if, ("questions", i, "ask_if"), subject, "ask_if"))
    for i, flt in enumerate(rs.filters):
        places.append(
            (
                flt.when,
                ("filters", i, "when"),
                _("filter {filter!r} never applies").format(filter=flt.id),
                "when",
            )
        )
    for i, req in enumerate(rs.requirements):
        for j, sel in enumerate(req.select):
            subject = _("selection {number} of {requirement!r} never applies").format(
                number=j + 1, requirement=req.id
            )
            places.append((sel.when, ("requirements", i, "select", j, "when"), subject, "when"))
    for i, rule in enumerate(rs.cross_sell):
        subject = _("cross-sell {rule!r} never applies").format(rule=rule.id)
        places.append((rule.when, ("cross_sell", i, "when"), subject, "when"))
    for i, alert in enumerate(rs.alerts):
        subject = _("alert {alert!r} never applies").format(alert=alert.id)
        places.append((alert.when, ("alerts", i, "when"), subject, "when"))

    for spec, path, subject, key in places:
        if spec is None:
            continue
        literal_problems = list(_literal_problems(spec, path, src, conds))
        yield from literal_problems
        conflicts: set[str] = set()
        # A literal that is no option already explains why the condition cannot hold.
        if not literal_problems and not conds.terms(spec, True, conflicts):
            if conflicts:
                message = _(
                    "{subject}: {key} can never hold (contradictory conditions on {names})"
                ).format(subject=subject, key=key, names=_names(conflicts))
            else:
                message = _("{subject}: {key} can never hold").format(subject=subject, key=key)
            yield src.problem(path, message)
    yield from _order_problems(rs, src, conds)


def _literal_problems(
    spec: ConditionSpec, path: Path_, src: SourceMap, conds: Conditions
) -> Iterator[RuleProblem]:
    for source, at in leaves(spec, path):
        for name, literal in conds.compared(source):
            options = conds.options[name]
            if literal not in options:
                yield src.problem(
                    at,
                    _("{literal!r} is not an option of question {question!r} ({options})").format(
                        literal=literal, question=name, options=", ".join(options)
                    ),
                    did_you_mean(literal, options),
                )


def _order_problems(rs: RuleSet, src: SourceMap, conds: Conditions) -> Iterator[RuleProblem]:
    """Questions whose ``ask_if`` reads only answers that are asked after them.

    The engine asks the first unanswered question whose ``ask_if`` holds, so such a
    question is passed over and only comes up once those later answers are in: out of
    the intended order, or never when it reads its own answer.
    """
    order = {q.id: i for i, q in enumerate(rs.questions)}
    derived = {d.id: [s.source for s in d.sources] for d in rs.derived}

    def asked_at(name: str, seen: frozenset[str]) -> int | None:
        if name in order:
            return order[name]
        if name not in derived or name in seen:
            return None
        # A derived value exists as soon as any of its sources has been answered.
        found = [asked_at(s, seen | {name}) for s in derived[name]]
        known = [f for f in found if f is not None]
        return min(known) if known and len(known) == len(found) else None

    for i, question in enumerate(rs.questions):
        if question.ask_if is None:
            continue
        names = conds.symbols(question.ask_if)
        positions = [asked_at(name, frozenset()) for name in sorted(names)]
        if not names or any(p is None or p < i for p in positions):
            continue
        path = ("questions", i, "ask_if")
        if question.id in names:
            message = _(
                "ask_if of question {question!r} reads its own answer, "
                "which is not known before the question is asked"
            ).format(question=question.id)
            yield src.problem(path, message)
        else:
            yield src.problem(
                path,
                _(
                    "question {question!r} comes before the answers its ask_if reads "
                    "({names}): it is skipped until they are given; move it below them"
                ).format(question=question.id, names=_names(names)),
            )


def _names(names: set[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names))
