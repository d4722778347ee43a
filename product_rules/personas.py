"""Persona tests: answers in, expected properties of the offers out.

Each rule set may keep ``personas.yml`` (or ``personas_*.yml``) beside its rules; the
rule loader skips these files. Persona files are read like rule files, so every mistake
is reported as ``file:line:column: message``; answers are checked against the rule
set's questions before anything runs, so a typo fails loudly instead of testing
nothing. The file format is described in ``docs``/the spec: ``name``, ``answers`` and
``expect`` with ``offers``, ``relaxed``, ``relaxed_mentions``, ``each_offer``,
``first_offer`` and ``cross_sell``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.models import Product
from product_rules.conditions import answer_types
from product_rules.engine import AdviceEngine
from product_rules.errors import RuleProblem, RuleSetError, did_you_mean, relative
from product_rules.loader import LoadedRuleSet, SourceMap, _RulesLoader, _walk, load_ruleset
from product_rules.offers import OfferPayload
from product_rules.query import matches_item, resolve_value
from product_rules.schema import ProductFilter, RuleSet
from product_rules.validate import check_product_filter
from product_rules.wishes import number

__all__ = [
    "CountExpect",
    "CrossSellExpect",
    "Expect",
    "OfferExpect",
    "Persona",
    "PersonaFile",
    "PersonaResult",
    "format_results",
    "load_personas",
    "run_personas",
]

Path_ = tuple[str | int, ...]
NumericOp = Literal["eq", "ne", "lt", "le", "gt", "ge"]
_OP_TEXT = {"ne": "not ", "lt": "< ", "le": "<= ", "gt": "> ", "ge": ">= "}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


class _Model(BaseModel):
    # As in rule files: an unknown key is a typo far more often than intent.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountExpect(_Model):
    """How many offers are expected (inclusive bounds)."""

    min: StrictInt = Field(default=1, ge=0)
    max: StrictInt = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CountExpect:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class OfferExpect(_Model):
    """Expected properties of one offer."""

    main: ProductFilter = {}
    total_price: dict[NumericOp, StrictFloat] = {}
    required: dict[str, ProductFilter] = {}
    alerts: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_total(cls, data: Any) -> Any:
        # ``total_price: 1423.9`` reads as equality, like a bare value in a filter.
        if isinstance(data, dict) and number(data.get("total_price")) is not None:
            return {**data, "total_price": {"eq": data["total_price"]}}
        return data


class CrossSellExpect(_Model):
    """Categories that must, or must not, be suggested beside the offers."""

    includes: list[str] = []
    excludes: list[str] = []


class Expect(_Model):
    """Everything a persona expects of the recommendation."""

    offers: CountExpect = CountExpect()
    relaxed: StrictBool | None = None
    relaxed_mentions: list[str] = []
    each_offer: OfferExpect = OfferExpect()
    first_offer: OfferExpect = OfferExpect()
    cross_sell: CrossSellExpect = CrossSellExpect()


class Persona(_Model):
    """One persona case; ``file`` and ``line`` say where it is written."""

    name: str = Field(min_length=1)
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
    """The outcome of one persona: what differed from what it expects."""

    name: str
    file: str
    line: int
    passed: bool
    failures: list[str] = field(default_factory=list)
    ruleset: str = ""


# -- loading -----------------------------------------------------------------------


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
    files = sorted(
        p
        for p in ruleset_dir.iterdir()
        if p.name.startswith("personas") and p.suffix in {".yml", ".yaml"}
    )
    problems: list[RuleProblem] = []
    personas: list[Persona] = []
    seen: dict[str, str] = {}
    for file in files:
        personas += _load_file(file, root, ruleset, problems, seen)
    if problems:
        raise RuleSetError(problems)
    return personas


def _key_positions(node: yaml.Node, path: Path_, file: Path, out: dict[Path_, Any]) -> None:
    # The loader records where values start; an unknown key is best shown at the key.
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            mark = key_node.start_mark
            out[(*path, key)] = (file, mark.line + 1, mark.column + 1)
            _key_positions(value_node, (*path, key), file, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _key_positions(item, (*path, i), file, out)


@dataclass(slots=True)
class _Sources:
    values: SourceMap
    keys: SourceMap

    def at_key(self, path: Path_, message: str, suggestion: str | None = None) -> RuleProblem:
        source = self.keys if tuple(path) in self.keys.positions else self.values
        return source.problem(path, message, suggestion)


def _load_file(
    file: Path,
    root: Path | None,
    ruleset: RuleSet,
    problems: list[RuleProblem],
    seen: dict[str, str],
) -> list[Persona]:
    shown = relative(file, root)
    try:
        node = yaml.compose(file.read_text(encoding="utf-8"), Loader=_RulesLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(RuleProblem(shown, line, column, f"invalid YAML: {exc.problem}"))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(RuleProblem(shown, 1, 1, f"cannot read file: {exc}"))
        return []
    src = _Sources(SourceMap(root, default_file=file), SourceMap(root, default_file=file))
    document: Any = {}
    if node is not None:
        document = _walk(node, (), file, src.values.positions)
        _key_positions(node, (), file, src.keys.positions)
    try:
        parsed = PersonaFile.model_validate(document)
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, src))
        return []
    for i, persona in enumerate(parsed.personas):
        path: Path_ = ("personas", i)
        _, persona._line, _ = src.values.locate(path)
        persona._file = shown
        where = f"{shown}:{persona.line}"
        if persona.name in seen:
            message = f"persona {persona.name!r} is already defined at {seen[persona.name]}"
            problems.append(src.values.problem((*path, "name"), message))
        seen.setdefault(persona.name, where)
        problems.extend(_persona_problems(persona, path, ruleset, src))
    return list(parsed.personas)


def _schema_problems(exc: ValidationError, src: _Sources) -> Iterator[RuleProblem]:
    for error in exc.errors():
        loc: Path_ = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            name = str(loc[-1])
            hint = did_you_mean(name, _allowed_fields(loc[:-1]))
            yield src.at_key(loc, f"unknown key {name!r}", hint)
        elif loc and loc[-1] == "[key]":
            # Only total_price has typed keys: its comparison operators.
            name = str(loc[-2])
            hint = did_you_mean(name, get_args(NumericOp))
            yield src.at_key(loc[:-1], f"unknown operator {name!r}", hint)
        elif error["type"] == "missing":
            yield src.values.problem(loc[:-1], f"missing required key {str(loc[-1])!r}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
            yield src.values.problem(loc, f"{name}: {message}" if name else message)


def _allowed_fields(parent: Path_) -> list[str]:
    model: type[BaseModel] = PersonaFile
    for part in parent:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return []
        inner = getattr(info.annotation, "__args__", (info.annotation,))
        nested = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _persona_problems(
    persona: Persona, path: Path_, ruleset: RuleSet, src: _Sources
) -> Iterator[RuleProblem]:
    ids = [q.id for q in ruleset.questions]
    for key, answer in persona.answers.items():
        at = (*path, "answers", key)
        question = ruleset.question(key)
        if question is None:
            yield src.at_key(at, f"unknown question {key!r}", did_you_mean(key, ids))
        elif question.type == "choice":
            options = [o.id for o in question.options]
            if not isinstance(answer, str) or question.option(answer) is None:
                yield src.values.problem(
                    at,
                    f"{answer!r} is not an option of question {key!r} ({', '.join(options)})",
                    did_you_mean(str(answer), options),
                )
        elif question.type == "boolean":
            if not isinstance(answer, bool):
                yield src.values.problem(at, f"{key} is true or false, not {answer!r}")
        elif (value := number(answer)) is None:
            yield src.values.problem(at, f"{key} is a number, not {answer!r}")
        elif (question.min is not None and value < question.min) or (
            question.max is not None and value > question.max
        ):
            limits = f"{_show(question.min)} to {_show(question.max)}"
            yield src.values.problem(at, f"{key} {_show(value)} is outside {limits}")

    names = set(answer_types(ruleset))
    needed = sorted({r.category for r in ruleset.requirements})
    for block in ("each_offer", "first_offer"):
        expect: OfferExpect = getattr(persona.expect, block)
        at = (*path, "expect", block)
        yield from check_product_filter(expect.main, (*at, "main"), src.values, names)
        for category, flt in expect.required.items():
            if category not in needed:
                message = f"no requirement adds {category!r} items"
                yield src.at_key(
                    (*at, "required", category), message, did_you_mean(category, needed)
                )
            yield from check_product_filter(flt, (*at, "required", category), src.values, names)

    suggested = _cross_sell_categories(ruleset)
    cross = persona.expect.cross_sell
    for kind, categories in (("includes", cross.includes), ("excludes", cross.excludes)):
        for j, category in enumerate(categories):
            at = (*path, "expect", "cross_sell", kind, j)
            if suggested is not None and category not in suggested:
                hint = did_you_mean(category, suggested)
                yield src.values.problem(at, f"no cross-sell rule suggests {category!r}", hint)
            elif kind == "excludes" and category in cross.includes:
                yield src.values.problem(at, f"{category!r} is both included and excluded")


def _cross_sell_categories(ruleset: RuleSet) -> list[str] | None:
    """Categories the cross-sell rules can suggest; None when a target does not say."""
    found: set[str] = set()
    for rule in ruleset.cross_sell:
        target = rule.target.get("category")
        if isinstance(target, dict):
            target = target.get("eq", target.get("in"))
        if isinstance(target, str):
            found.add(target)
        elif isinstance(target, list):
            found.update(str(t) for t in target)
        else:
            return None
    return sorted(found)


# -- running -----------------------------------------------------------------------


def run_personas(
    loaded: LoadedRuleSet, engine: AdviceEngine, personas: Sequence[Persona]
) -> list[PersonaResult]:
    """Run every persona through ``engine`` and compare with what it expects.

    Args:
        loaded: The rule set the personas belong to (named in the results).
        engine: An engine over that rule set and the catalogue.
        personas: The personas, as :func:`load_personas` returns them.

    Returns:
        One result per persona, in order, with a message for each difference.
    """
    results = []
    for persona in personas:
        try:
            failures = _failures(engine, persona)
        except Exception as exc:
            # One persona that breaks the engine must not hide the results of the others.
            failures = [f"error: {type(exc).__name__}: {exc}"]
        results.append(
            PersonaResult(
                persona.name, persona.file, persona.line, not failures, failures, loaded.ruleset.id
            )
        )
    return results


def _failures(engine: AdviceEngine, persona: Persona) -> list[str]:
    result = engine.recommend(persona.answers)
    expect = persona.expect
    failures: list[str] = []
    count, bounds = len(result.offers), expect.offers
    if not bounds.min <= count <= bounds.max:
        wanted = str(bounds.min) if bounds.min == bounds.max else f"{bounds.min} to {bounds.max}"
        failures.append(f"got {count} offers, expected {wanted}")
    relaxed = "; ".join(result.relaxed)
    if expect.relaxed is True and not result.relaxed:
        failures.append("nothing was relaxed, expected a relaxation")
    if expect.relaxed is False and result.relaxed:
        failures.append(f"relaxed {relaxed!r}, expected nothing relaxed")
    for word in expect.relaxed_mentions:
        if not any(word.lower() in r.lower() for r in result.relaxed):
            failures.append(f"relaxed does not mention {word!r} ({relaxed or 'nothing relaxed'})")
    products = _products(engine.db, result.offers)
    for offer in result.offers:
        label = f"offer {offer['rank']}"
        failures += _offer_failures(label, offer, expect.each_offer, products, result.values)
    if "first_offer" in expect.model_fields_set:
        if result.offers:
            first = result.offers[0]
            failures += _offer_failures(
                "first offer", first, expect.first_offer, products, result.values
            )
        elif count >= bounds.min:  # otherwise the count message already says it
            failures.append("first offer: there are no offers")
    suggested = {c["category"]: c["sku"] for c in reversed(result.cross_sell)}
    for category in expect.cross_sell.includes:
        if category not in suggested:
            failures.append(f"cross_sell lacks {category}")
    for category in expect.cross_sell.excludes:
        if category in suggested:
            failures.append(f"cross_sell has {category} ({suggested[category]}), expected none")
    return failures


def _products(db: Engine, offers: Sequence[OfferPayload]) -> dict[str, Product]:
    # Filters are checked on the products themselves, not on the payload, so attributes
    # the widget does not display (pedals_included ...) can be expected too.
    skus = {item["sku"] for offer in offers for item in offer["items"]}
    with Session(db) as session:
        rows = session.exec(select(Product).where(col(Product.sku).in_(skus))).all()
        return {p.sku: p for p in rows}


def _offer_failures(
    label: str,
    offer: OfferPayload,
    expect: OfferExpect,
    products: Mapping[str, Product],
    values: Mapping[str, Any],
) -> list[str]:
    failures: list[str] = []
    main = next(i for i in offer["items"] if i["role"] == "main")
    failures += _filter_failures(f"{label}: main", products[main["sku"]], expect.main, values)
    total = offer["total_price"]
    for op, limit in expect.total_price.items():
        # Totals are rounded to cents, so compare cents: 0.1 + 0.2 must equal 0.3.
        if not _COMPARE[op](round(total, 2), round(limit, 2)):
            failures.append(
                f"{label}: total_price is {_show(total)}, expected {_expected(op, limit)}"
            )
    for category, flt in expect.required.items():
        for item in offer["items"]:
            if item["role"] == "required" and item["category"] == category:
                what = f"{label}: required {category} {item['sku']}"
                failures += _filter_failures(what, products[item["sku"]], flt, values)
    if expect.alerts is True and not offer["alerts"]:
        failures.append(f"{label}: no alerts, expected some")
    if expect.alerts is False and offer["alerts"]:
        failures.append(f"{label}: alerts {'; '.join(offer['alerts'])!r}, expected none")
    return failures


def _filter_failures(
    label: str, product: Product, flt: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    failures = []
    for attribute, condition in flt.items():
        if matches_item({attribute: condition}, product, values):
            continue
        if isinstance(condition, dict) and set(condition) != {"answer"}:
            op, raw = next(iter(condition.items()))
        else:
            op, raw = "eq", condition
        expected = _expected(op, resolve_value(raw, values))
        actual = _show(getattr(product, attribute))
        failures.append(f"{label} {attribute} is {actual}, expected {expected}")
    return failures


def _expected(op: str, value: Any) -> str:
    if op in ("in", "not_in") or (op in ("eq", "ne") and isinstance(value, list)):
        items = value if isinstance(value, list) else [value]
        negated = op in ("not_in", "ne")
        return f"{'none' if negated else 'one'} of {_show(items)}"
    return _OP_TEXT.get(op, "") + _show(value)


def _show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


# -- reporting ---------------------------------------------------------------------


def format_results(results: Sequence[PersonaResult]) -> str:
    """One line per persona, failure details indented, then a summary.

    Args:
        results: What :func:`run_personas` returned.

    Returns:
        ``PASS file:line name`` / ``FAIL file:line name`` lines and ``N passed, M failed``.
    """
    lines = []
    for result in results:
        lines.append(
            f"{'PASS' if result.passed else 'FAIL'} {result.file}:{result.line} {result.name}"
        )
        lines += [f"    {failure}" for failure in result.failures]
    passed = sum(r.passed for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
