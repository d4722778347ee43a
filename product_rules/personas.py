"""Persona tests kept beside the rules (``personas*.yml``): answers in, expected offers out.

Persona files are read like rule files, so every mistake is reported as
``file:line:column: message``; answers are checked against the rule set's questions
before anything runs, so a typo fails loudly instead of silently testing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.models import Product
from product_rules.clauses import ProductFilter
from product_rules.conditions import answer_types
from product_rules.engine import AdviceEngine
from product_rules.errors import RuleProblem, RuleSetError, did_you_mean
from product_rules.i18n import gettext, localized
from product_rules.i18n import lazy_gettext as _
from product_rules.loader import (
    LoadedRuleSet,
    SourceMap,
    _read_file,
    _RulesLoader,
    load_ruleset,
    schema_message,
)
from product_rules.offers import OfferPayload
from product_rules.schema import RuleSet
from product_rules.validate import check_product_filter
from product_rules.vocabulary import VALUE_OPERATORS, Operator, value_operator
from product_rules.wishes import number

__all__ = ["Persona", "PersonaResult", "format_results", "load_personas", "run_personas"]

Path_ = tuple[str | int, ...]
Problems = Iterator[RuleProblem]
Values = Mapping[str, Any]
Products = Mapping[str, Product]
ValueOp = Annotated[Operator, BeforeValidator(value_operator)]
"""An operator comparing with one number (``total_price: {le: 1500}``)."""
#: Pseudo child of a path holding where its key starts (the loader keeps the values').
_KEY = "\0key"


class _Model(BaseModel):
    # As in rule files: an unknown key is a typo far more often than intent. Strict, so
    # a quoted "3" or a YAML 1.1 "no" is not silently taken for a number or a boolean.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CountExpect(_Model):
    """How many offers are expected (inclusive bounds)."""

    min: int = Field(default=1, ge=0)
    max: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CountExpect:
        if self.min > self.max:
            message = _("min ({min}) must not exceed max ({max})")
            raise ValueError(message.format(min=self.min, max=self.max))
        return self


class OfferExpect(_Model):
    """Expected properties of one offer: product filters, total, alerts."""

    main: ProductFilter = Field(default_factory=ProductFilter)
    total_price: dict[ValueOp, float] = {}
    required: dict[str, ProductFilter] = {}
    alerts: bool | None = None


class CrossSellExpect(_Model):
    """Categories that must, or must not, be suggested beside the offers."""

    includes: list[str] = []
    excludes: list[str] = []


class Expect(_Model):
    """Everything a persona expects of the recommendation."""

    offers: CountExpect = CountExpect()
    relaxed: bool | None = None
    relaxed_mentions: list[str] = []
    reasons_mention: list[str] = Field(
        default=[], description="Words every offer's reasons hold (in the persona's language)."
    )
    each_offer: OfferExpect = OfferExpect()
    first_offer: OfferExpect = OfferExpect()
    cross_sell: CrossSellExpect = CrossSellExpect()


class Persona(_Model):
    """One persona case; ``file`` and ``line`` say where it is written."""

    name: str = Field(min_length=1)
    language: Literal["en", "de"] = Field(
        default="en", description="The language the offers are explained in."
    )
    answers: dict[str, Any]
    expect: Expect = Expect()
    _file: str = PrivateAttr(default="<personas>")
    _line: int = PrivateAttr(default=1)

    @property
    def file(self) -> str:
        """The persona file, relative to the root given to :func:`load_personas`."""
        return self._file

    @property
    def line(self) -> int:
        """The line where the persona starts."""
        return self._line


class PersonaFile(_Model):
    """A ``personas.yml`` file."""

    personas: list[Persona]


@dataclass(frozen=True, slots=True)
class PersonaResult:
    """The outcome of one persona: one message per difference from what it expects."""

    name: str
    file: str
    line: int
    passed: bool
    failures: list[str] = field(default_factory=list)


def load_personas(
    ruleset_dir: Path, *, root: Path | None = None, ruleset: RuleSet | None = None
) -> list[Persona]:
    """Load and check the persona files of the rule set in ``ruleset_dir``.

    Args:
        ruleset_dir: The rule set folder; every ``personas*.yml`` in it is read.
        root: Positions are shown relative to this folder.
        ruleset: The already loaded rule set; loaded from ``ruleset_dir`` when omitted.

    Returns:
        The personas in file order; empty when the folder has no persona file.

    Raises:
        RuleSetError: with every problem, each at its file, line and column: schema
            errors, answers naming unknown questions or options, bad filters.
    """
    if ruleset is None:
        ruleset = load_ruleset(ruleset_dir, root=root).ruleset
    files = sorted([*ruleset_dir.glob("personas*.yml"), *ruleset_dir.glob("personas*.yaml")])
    problems: list[RuleProblem] = []
    personas: list[Persona] = []
    for file in files:
        personas += _load_file(file, root, ruleset, problems)
    if problems:
        raise RuleSetError(sorted(problems, key=lambda p: (p.file, p.line, p.column)))
    return personas


def _key_positions(node: yaml.Node | None, path: Path_, file: Path, out: dict[Path_, Any]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            mark = key_node.start_mark
            out[(*path, key, _KEY)] = (file, mark.line + 1, mark.column + 1)
            _key_positions(value_node, (*path, key), file, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _key_positions(item, (*path, i), file, out)


def _load_file(file: Path, root: Path | None, rs: RuleSet, out: list[RuleProblem]) -> list[Persona]:
    src = SourceMap(root, default_file=file)
    document: dict[str, Any] = {}
    before = len(out)
    _read_file(file, src, document, out)  # the rule loader's reader: same positions
    if len(out) > before:
        return []
    node = yaml.compose(file.read_text(encoding="utf-8"), Loader=_RulesLoader)
    _key_positions(node, (), file, src.positions)
    try:
        parsed = PersonaFile.model_validate(document)
    except ValidationError as exc:
        out.extend(_schema_problems(exc, src))
        return []
    for i, persona in enumerate(parsed.personas):
        persona._file, persona._line = src.locate(("personas", i))[:2]
        out.extend(_persona_problems(persona, ("personas", i), rs, src))
    return list(parsed.personas)


def _schema_problems(exc: ValidationError, src: SourceMap) -> Problems:
    for error in exc.errors():
        loc: Path_ = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            name = str(loc[-1])
            hint = did_you_mean(name, _allowed_fields(loc[:-1]))
            yield src.problem((*loc, _KEY), _("unknown key {key!r}").format(key=name), hint)
        elif loc and loc[-1] == "[key]":  # only total_price has typed keys: operators
            name = str(loc[-2])
            hint = did_you_mean(name, VALUE_OPERATORS)
            message = _("unknown operator {operator!r}").format(operator=name)
            yield src.problem((*loc[:-1], _KEY), message, hint)
        elif error["type"] == "missing":
            message = _("missing required key {key!r}").format(key=str(loc[-1]))
            yield src.problem(loc[:-1], message)
        else:
            said = schema_message(error)
            name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
            if name:
                said = _("{key}: {message}").format(key=name, message=said)
            yield src.problem(loc, said)


def _allowed_fields(parent: Path_) -> list[str]:
    model: Any = PersonaFile
    for part in (p for p in parent if isinstance(p, str)):
        annotation = model.model_fields[part].annotation
        model = next(a for a in get_args(annotation) or [annotation] if issubclass(a, BaseModel))
    return list(model.model_fields)


def _persona_problems(p: Persona, path: Path_, rs: RuleSet, src: SourceMap) -> Problems:
    ids = [q.id for q in rs.questions]
    for key, answer in p.answers.items():
        at = (*path, "answers", key)
        question = rs.question(key)
        if question is None:
            message = _("unknown question {id!r}").format(id=key)
            yield src.problem((*at, _KEY), message, did_you_mean(key, ids))
        elif question.type == "choice":
            options = [o.id for o in question.options]
            if not isinstance(answer, str) or question.option(answer) is None:
                message = _("{literal!r} is not an option of question {question!r} ({options})")
                message = message.format(literal=answer, question=key, options=", ".join(options))
                yield src.problem(at, message, did_you_mean(str(answer), options))
        elif question.type == "boolean":
            if not isinstance(answer, bool):
                message = _("{attribute} is true or false, not {value!r}")
                yield src.problem(at, message.format(attribute=key, value=answer))
        elif (value := number(answer)) is None:
            message = _("{attribute} is a number, not {value!r}")
            yield src.problem(at, message.format(attribute=key, value=answer))
        elif (question.min is not None and value < question.min) or (
            question.max is not None and value > question.max
        ):
            message = _("{answer} {value} is outside {low} to {high}").format(
                answer=key, value=_show(value), low=_show(question.min), high=_show(question.max)
            )
            yield src.problem(at, message)
    names = set(answer_types(rs))
    needed = sorted({r.category for r in rs.requirements})
    for block in ("each_offer", "first_offer"):
        expect: OfferExpect = getattr(p.expect, block)
        at = (*path, "expect", block)
        yield from check_product_filter(expect.main, (*at, "main"), src, names)
        for category, flt in expect.required.items():
            if category not in needed:
                message = _("no requirement adds {category!r} items").format(category=category)
                hint = did_you_mean(category, needed)
                yield src.problem((*at, "required", category, _KEY), message, hint)
            yield from check_product_filter(flt, (*at, "required", category), src, names)
    # Categories are checked only when every cross-sell rule names a single one.
    targets = [_single_category(rule.target) for rule in rs.cross_sell]
    known = sorted(str(t) for t in targets) if all(t is not None for t in targets) else None
    cross = p.expect.cross_sell
    for kind, categories in (("includes", cross.includes), ("excludes", cross.excludes)):
        for j, category in enumerate(categories):
            at = (*path, "expect", "cross_sell", kind, j)
            if known is not None and category not in known:
                hint = did_you_mean(category, known)
                message = _("no cross-sell rule suggests {category!r}").format(category=category)
                yield src.problem(at, message, hint)
            elif kind == "excludes" and category in cross.includes:
                message = _("{category!r} is both included and excluded")
                yield src.problem(at, message.format(category=category))


def run_personas(
    loaded: LoadedRuleSet, engine: AdviceEngine, personas: Sequence[Persona]
) -> list[PersonaResult]:
    """Run every persona through ``engine`` and compare with what it expects.

    Args:
        loaded: The rule set the personas belong to; ``engine`` must run it.
        engine: An engine over that rule set and the catalogue.
        personas: The personas, as :func:`load_personas` returns them.

    Returns:
        One result per persona, in order, with a message for each difference.

    Raises:
        ValueError: when ``engine`` runs another rule set than ``loaded``.
    """
    if engine.ruleset.id != loaded.ruleset.id:
        raise ValueError(f"engine runs {engine.ruleset.id!r}, not {loaded.ruleset.id!r}")
    results = []
    engines = {"en": engine}
    for p in personas:
        if p.language not in engines:
            # The German view explains in German; the products and rules are the same.
            engines[p.language] = AdviceEngine(loaded.localized(p.language).ruleset, engine.db)
        runner = engines[p.language]
        try:
            failures = _failures(runner, p)
        except Exception as exc:
            # One persona that breaks the engine must not hide the results of the others.
            failures = [_("error: {kind}: {error}").format(kind=type(exc).__name__, error=exc)]
        results.append(PersonaResult(p.name, p.file, p.line, not failures, failures))
    return results


def _failures(engine: AdviceEngine, persona: Persona) -> list[str]:
    result, expect = engine.recommend(persona.answers), persona.expect
    failures: list[str] = []
    count, bounds = len(result.offers), expect.offers
    if not bounds.min <= count <= bounds.max:
        wanted: str = str(bounds.min)
        if bounds.min != bounds.max:
            wanted = _("{low} to {high}").format(low=bounds.min, high=bounds.max)
        failures.append(
            _("got {count} offers, expected {wanted}").format(count=count, wanted=wanted)
        )
    relaxed = "; ".join(result.relaxed)
    if expect.relaxed is True and not result.relaxed:
        failures.append(_("nothing was relaxed, expected a relaxation"))
    if expect.relaxed is False and result.relaxed:
        failures.append(_("relaxed {relaxed!r}, expected nothing relaxed").format(relaxed=relaxed))
    for word in expect.relaxed_mentions:
        if not any(word.lower() in r.lower() for r in result.relaxed):
            message = _("relaxed does not mention {word!r} ({relaxed})")
            failures.append(message.format(word=word, relaxed=relaxed or _("nothing relaxed")))
    for word in expect.reasons_mention:
        for offer in result.offers:
            said = " ".join(offer["reasons"])
            if word.lower() not in said.lower():
                message = _("offer {rank}: reasons do not mention {word!r} ({said})")
                failures.append(message.format(rank=offer["rank"], word=word, said=said))
    products = _products(engine.db, result.offers)
    checks: list[tuple[str, OfferPayload, OfferExpect]] = [
        (_("offer {rank}").format(rank=o["rank"]), o, expect.each_offer) for o in result.offers
    ]
    checks += [(_("first offer"), o, expect.first_offer) for o in result.offers[:1]]
    for label, offer, wanted_offer in checks:
        failures += _offer_failures(label, offer, wanted_offer, products, result.values)
    suggested = {c["category"]: c["sku"] for c in reversed(result.cross_sell)}
    failures += [
        _("cross_sell lacks {category}").format(category=c)
        for c in expect.cross_sell.includes
        if c not in suggested
    ]
    for category in (c for c in expect.cross_sell.excludes if c in suggested):
        message = _("cross_sell has {category} ({sku}), expected none")
        failures.append(message.format(category=category, sku=suggested[category]))
    return failures


def _products(db: Engine, offers: Sequence[OfferPayload]) -> dict[str, Product]:
    # Filters read the products, not the payload: attributes the widget hides count too.
    skus = {item["sku"] for offer in offers for item in offer["items"]}
    with Session(db) as session:
        return {p.sku: p for p in session.exec(select(Product).where(col(Product.sku).in_(skus)))}


def _offer_failures(
    label: str, offer: OfferPayload, expect: OfferExpect, products: Products, values: Values
) -> list[str]:
    main = next(i for i in offer["items"] if i["role"] == "main")
    what = _("{offer}: main").format(offer=label)
    failures = _filter_failures(what, products[main["sku"]], expect.main, values)
    total = offer["total_price"]
    for op, limit in expect.total_price.items():
        # Compare cents, as totals are rounded.
        if not op.holds(round(total, 2), round(limit, 2)):
            wanted = _expected(op, limit)
            message = _("{offer}: total_price is {total}, expected {wanted}")
            failures.append(message.format(offer=label, total=_show(total), wanted=wanted))
    for category, flt in expect.required.items():
        for item in offer["items"]:
            if item["role"] == "required" and item["category"] == category:
                what = _("{offer}: required {category} {sku}").format(
                    offer=label, category=category, sku=item["sku"]
                )
                failures += _filter_failures(what, products[item["sku"]], flt, values)
    if expect.alerts is True and not offer["alerts"]:
        failures.append(_("{offer}: no alerts, expected some").format(offer=label))
    if expect.alerts is False and offer["alerts"]:
        message = _("{offer}: alerts {alerts!r}, expected none")
        failures.append(message.format(offer=label, alerts="; ".join(offer["alerts"])))
    return failures


def _filter_failures(label: str, product: Product, flt: ProductFilter, values: Values) -> list[str]:
    failures: list[str] = []
    for clause in flt:
        # One clause at a time, with the rules' own matcher, to say which one differs.
        actual = getattr(product, clause.attribute)
        if clause.holds(actual, values):
            continue
        expected = _expected(clause.op, clause.resolve(values))
        message = _("{item} {attribute} is {actual}, expected {expected}")
        failures.append(
            message.format(
                item=label, attribute=clause.attribute, actual=_show(actual), expected=expected
            )
        )
    return failures


def _single_category(target: ProductFilter) -> str | None:
    """The one category a cross-sell target names, written as a bare value."""
    clause = target.get("category")
    if clause is None or clause.explicit or not isinstance(clause.value, str):
        return None
    return clause.value


def _expected(op: Operator, value: Any) -> str:
    op, operand = op.normalized(value)
    return op.spec.expected.format(value=_show(operand))


def _show(value: Any) -> str:
    if value is None:
        return _("not set")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def format_results(results: Sequence[PersonaResult]) -> str:
    """Render persona results for the terminal, in the current language.

    PASS and FAIL stay as they are, for scripts that grep for them.

    Args:
        results: What :func:`run_personas` returned.

    Returns:
        ``PASS|FAIL file:line name`` per persona, failures indented, ``N passed, M failed``.
    """
    lines = []
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'} {r.file}:{r.line} {r.name}")
        lines += [f"    {localized(failure)}" for failure in r.failures]
    passed = sum(r.passed for r in results)
    summary = gettext("{passed} passed, {failed} failed")
    lines.append(summary.format(passed=passed, failed=len(results) - passed))
    return "\n".join(lines)
