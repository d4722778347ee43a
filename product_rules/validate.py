"""Checks of a rule set beyond its schema: names, attributes, values, conditions, texts.

Each finding is a :class:`~product_rules.errors.RuleProblem` at the position of the value
that is wrong, with a suggestion where a close name exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from catalog.attributes import AttributeSpec
from product_rules.clauses import ProductFilter, misapplied, value_findings
from product_rules.conditions import ConditionError, answer_types, compile_condition, leaves
from product_rules.errors import RuleProblem, did_you_mean
from product_rules.i18n import lazy_gettext as _
from product_rules.loader import SourceMap
from product_rules.schema import ConditionSpec, RuleSet
from product_rules.text import compile_text
from product_rules.vocabulary import attributes

__all__ = ["fingerprint", "validate", "check_product_filter"]


def fingerprint(files: Sequence[Path]) -> str:
    """A digest of the rule files' names and contents, to tell versions apart."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def validate(ruleset: RuleSet, sources: SourceMap) -> list[RuleProblem]:
    """Return every semantic problem of ``ruleset``."""
    return list(_problems(ruleset, sources))


def _problems(rs: RuleSet, src: SourceMap) -> Iterator[RuleProblem]:
    vocab = attributes()
    types = answer_types(rs)
    questions = {q.id: q for q in rs.questions}
    names = set(types)

    yield from _duplicates([q.id for q in rs.questions], ("questions",), "question", src)
    for i, question in enumerate(rs.questions):
        path = ("questions", i)
        yield from _duplicates([o.id for o in question.options], (*path, "options"), "option", src)
        if question.ask_if:
            yield from _condition(question.ask_if, types, (*path, "ask_if"), src)
        if question.default is not None and question.type == "choice":
            if question.option(str(question.default)) is None:
                yield src.problem(
                    (*path, "default"),
                    _("default {default!r} is not an option of this question").format(
                        default=question.default
                    ),
                    did_you_mean(str(question.default), [o.id for o in question.options]),
                )

    for i, derived in enumerate(rs.derived):
        for j, source in enumerate(derived.sources):
            if source.source not in names:
                yield src.problem(
                    ("derived", i, "from", j, "source"),
                    _("unknown answer {answer!r}").format(answer=source.source),
                    did_you_mean(source.source, names),
                )

    for i, flt in enumerate(rs.filters):
        path = ("filters", i)
        spec = vocab.get(flt.attribute)
        if spec is None:
            yield src.problem(
                (*path, "attribute"),
                _("unknown attribute {attribute!r}").format(attribute=flt.attribute),
                did_you_mean(flt.attribute, vocab),
            )
        elif (message := misapplied(flt.op, spec)) is not None:
            yield src.problem((*path, "op"), message)
        if flt.when:
            yield from _condition(flt.when, types, (*path, "when"), src)
        if flt.answer is not None and flt.answer not in names:
            yield src.problem(
                (*path, "answer"),
                _("unknown answer {answer!r}").format(answer=flt.answer),
                did_you_mean(flt.answer, names),
            )
        if flt.map is not None and flt.answer in questions:
            question = questions[flt.answer]
            for key, value in flt.map.items():
                if question.option(key) is None:
                    yield src.problem(
                        (*path, "map", key),
                        _("{option!r} is not an option of question {question!r}").format(
                            option=key, question=question.id
                        ),
                        did_you_mean(key, [o.id for o in question.options]),
                    )
                if spec is not None:
                    yield from _values(spec, value, (*path, "map", key), src)
        if flt.value is not None and spec is not None:
            yield from _values(spec, flt.value, (*path, "value"), src)
        if flt.reason:
            yield from _text(flt.reason, (*path, "reason"), src)

    for i, req in enumerate(rs.requirements):
        path = ("requirements", i)
        yield from check_product_filter(req.if_item, (*path, "if_item"), src, names)
        for j, sel in enumerate(req.select):
            if sel.when:
                yield from _condition(sel.when, types, (*path, "select", j, "when"), src)
            yield from check_product_filter(sel.filter, (*path, "select", j, "filter"), src, names)
            yield from _text(sel.reason, (*path, "select", j, "reason"), src)

    for i, rule in enumerate(rs.cross_sell):
        path = ("cross_sell", i)
        if rule.when:
            yield from _condition(rule.when, types, (*path, "when"), src)
        yield from check_product_filter(rule.target, (*path, "target"), src, names)


def check_product_filter(
    flt: ProductFilter, path: tuple[str | int, ...], src: SourceMap, names: set[str]
) -> Iterator[RuleProblem]:
    """The findings of a parsed product filter, and the answers it names that do not exist."""
    for finding in flt.findings:
        yield src.problem((*path, *finding.path), finding.message, finding.suggestion)
    for clause in flt.at(path):
        if clause.answer is not None and clause.answer not in names:
            # Shown where the name is written: {answer: x} alone, or the operator's value.
            at = clause.path if clause.explicit else (*clause.path, "answer")
            yield src.problem(
                at,
                _("unknown answer {answer!r}").format(answer=clause.answer),
                did_you_mean(clause.answer, names),
            )


def _values(
    spec: AttributeSpec, value: Any, path: tuple[str | int, ...], src: SourceMap
) -> Iterator[RuleProblem]:
    for finding in value_findings(spec, value, path):
        yield src.problem(finding.path, finding.message, finding.suggestion)


def _condition(
    spec: ConditionSpec, types: Mapping[str, Any], path: tuple[str | int, ...], src: SourceMap
) -> Iterator[RuleProblem]:
    for source, at in leaves(spec, path):
        try:
            compile_condition(source, types)
        except ConditionError as exc:
            yield src.problem(at, exc.message, exc.suggestion)


def _text(source: str, path: tuple[str | int, ...], src: SourceMap) -> Iterator[RuleProblem]:
    try:
        compile_text(source)
    except TemplateError as exc:
        # Jinja2's own explanation is English only; it is quoted as it comes.
        yield src.problem(path, _("invalid text template: {error}").format(error=exc))


_DUPLICATE = {
    "question": _("duplicate question id {id!r}"),
    "option": _("duplicate option id {id!r}"),
}


def _duplicates(
    ids: list[str], path: tuple[str | int, ...], what: str, src: SourceMap
) -> Iterator[RuleProblem]:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            yield src.problem((*path, i, "id"), _DUPLICATE[what].format(id=ident))
        seen.add(ident)
