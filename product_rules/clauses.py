"""Product filters parsed once, at load, into typed clauses.

A product filter is written in YAML as ``{weight_kg: {le: 9.0}, frame_material: carbon}``:
a bare value means ``eq``, a mapping names one operator, and a value may be a literal, a
list or ``{answer: id}``. :class:`ProductFilter` is its parsed form, a sequence of
:class:`Clause` (attribute, :class:`~product_rules.vocabulary.Operator`, value or
answer); the engine, the checks and the persona tests read only clauses.

Parsing never raises on a vocabulary mistake (an unknown attribute or operator, a value
an attribute cannot take): it keeps a :class:`Finding` at the path of the offending
value and leaves the clause out, so the loader reports it with every other finding of
the rule set in one pass, at its file, line and column, as compilers recover from an
error to report the next. A rule set is only handed out once it has no finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticKnownError, core_schema

from catalog.attributes import AttributeSpec
from product_rules.errors import did_you_mean
from product_rules.i18n import lazy_gettext as _
from product_rules.vocabulary import RULE_OPERATORS, Operator, attribute_kind, attributes

__all__ = ["Clause", "Finding", "Path_", "ProductFilter", "misapplied", "value_findings"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A mistake in a filter, at ``path`` relative to where the filter is written."""

    path: Path_
    message: str
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class Clause:
    """``attribute <op> value``, or ``attribute <op> the answer``.

    Attributes:
        attribute: A vocabulary attribute (a Product column).
        op: The comparison.
        value: The literal compared with (one value or a list); None with ``answer``.
        answer: The answer or derived value compared with, resolved per request.
        path: Where the value is written (``(attribute,)`` or ``(attribute, op)``),
            relative to the filter until :meth:`ProductFilter.at` places it.
        explicit: Whether the operator is written (``{le: 9}``) or implied (``9``).
    """

    attribute: str
    op: Operator
    value: Any
    answer: str | None = None
    path: Path_ = ()
    explicit: bool = False

    def resolve(self, values: Mapping[str, Any]) -> Any:
        """The value compared with in a request: the literal, or the answer (or None)."""
        return values.get(self.answer) if self.answer is not None else self.value

    def resolved(self, values: Mapping[str, Any]) -> Clause:
        """The clause with its answer replaced by the answer's value."""
        if self.answer is None:
            return self
        return replace(self, value=self.resolve(values), answer=None)

    def holds(self, actual: Any, values: Mapping[str, Any]) -> bool:
        """Whether an attribute value passes, the answers filled in from ``values``."""
        return self.op.holds(actual, self.resolve(values))

    def items(self) -> list[tuple[Any, Path_]]:
        """The literal values with the path of each, for exact positions."""
        if self.answer is not None:
            return []
        if isinstance(self.value, list):
            return [(v, (*self.path, i)) for i, v in enumerate(self.value)]
        return [(self.value, self.path)]

    def show(self, values: Mapping[str, Any]) -> str:
        """The clause as a merchandiser reads it, answers filled in where known."""
        if self.answer is not None and self.answer not in values:
            return _("{attribute} {symbol} the answer {answer}").format(
                attribute=self.attribute, symbol=self.op.spec.symbol, answer=self.answer
            )
        value = self.resolve(values)
        op = self.op
        if isinstance(value, list) and op in (Operator.EQ, Operator.NE):
            op = Operator.IN if op is Operator.EQ else Operator.NOT_IN  # one of its values
        elif not isinstance(value, list) and op in (Operator.IN, Operator.NOT_IN):
            op = Operator.EQ if op is Operator.IN else Operator.NE
        return f"{self.attribute} {op.spec.symbol} {value!r}"

    def dump(self) -> Any:
        """The clause's condition as written in YAML."""
        operand = {"answer": self.answer} if self.answer is not None else self.value
        return {self.op.value: operand} if self.explicit else operand


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """The clauses of one product filter, all of which must hold (AND).

    Attributes:
        clauses: One per attribute, in the order written.
        findings: Mistakes found while parsing; the loader refuses a rule set with any.
    """

    clauses: tuple[Clause, ...] = ()
    findings: tuple[Finding, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, written: Mapping[str, Any]) -> ProductFilter:
        """Parse ``{attribute: value | {op: value}}`` against the vocabulary."""
        clauses: list[Clause] = []
        findings: list[Finding] = []
        for attribute, condition in written.items():
            clause = _parse_clause(str(attribute), condition, findings)
            if clause is not None:
                clauses.append(clause)
        return cls(tuple(clauses), tuple(findings))

    @classmethod
    def of(cls, clauses: Iterable[Clause]) -> ProductFilter:
        """A filter of clauses built in code (``category in [...]``)."""
        return cls(tuple(clauses))

    def __iter__(self) -> Iterator[Clause]:
        return iter(self.clauses)

    def __len__(self) -> int:
        return len(self.clauses)

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def get(self, attribute: str) -> Clause | None:
        """The clause on ``attribute``, if any."""
        return next((c for c in self.clauses if c.attribute == attribute), None)

    def at(self, path: Path_) -> list[Clause]:
        """The clauses with their paths placed under ``path`` in the rule files."""
        return [replace(c, path=(*path, *c.path)) for c in self.clauses]

    def resolved(self, values: Mapping[str, Any]) -> ProductFilter:
        """The filter with every ``{answer: id}`` replaced by the answer's value."""
        return ProductFilter(tuple(c.resolved(values) for c in self.clauses))

    def where(self, attribute: str, value: Any) -> ProductFilter:
        """The filter with ``attribute == value`` in place of its own clause on it."""
        added = Clause(attribute, Operator.EQ, value, path=(attribute,))
        kept = [added if c.attribute == attribute else c for c in self.clauses]
        if self.get(attribute) is None:
            kept.append(added)
        return ProductFilter(tuple(kept))

    def only(self, keep: Iterable[Clause]) -> ProductFilter:
        """The filter restricted to some of its clauses."""
        wanted = list(keep)
        return ProductFilter(tuple(c for c in self.clauses if c in wanted))

    def dump(self) -> dict[str, Any]:
        """The filter as written in YAML: ``ProductFilter.parse(f.dump()) == f``."""
        return {c.attribute: c.dump() for c in self.clauses}

    # -- pydantic ------------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.dump()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        condition: dict[str, Any] = {
            "description": "A value (eq), a list (one of), {answer: id}, or {operator: value}."
        }
        return {
            "type": "object",
            "propertyNames": {"enum": list(attributes())},
            "additionalProperties": condition,
            "description": "Attribute conditions on products; operators: "
            + ", ".join(RULE_OPERATORS),
        }

    @classmethod
    def _validate(cls, value: Any) -> ProductFilter:
        if isinstance(value, ProductFilter):
            return value
        if not isinstance(value, Mapping):
            raise PydanticKnownError("dict_type")
        return cls.parse(value)


def _is_answer(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"answer"}


def _parse_clause(attribute: str, condition: Any, findings: list[Finding]) -> Clause | None:
    at: Path_ = (attribute,)
    vocab = attributes()
    spec = vocab.get(attribute)
    if spec is None:
        findings.append(
            Finding(
                at,
                _("unknown attribute {attribute!r}").format(attribute=attribute),
                did_you_mean(attribute, vocab),
            )
        )
        return None
    if _is_answer(condition):
        return Clause(attribute, Operator.EQ, None, str(condition["answer"]), at)
    if not isinstance(condition, dict):
        found = value_findings(spec, condition, at)
        findings += found
        return None if found else Clause(attribute, Operator.EQ, condition, None, at)
    if len(condition) != 1:
        findings.append(Finding(at, _("a condition takes exactly one operator")))
        return None
    name, operand = next(iter(condition.items()))
    at = (*at, name)
    if name not in RULE_OPERATORS:
        findings.append(
            Finding(
                at,
                _("unknown operator {operator!r}").format(operator=name),
                did_you_mean(str(name), RULE_OPERATORS),
            )
        )
        return None
    op = Operator(name)
    if (message := misapplied(op, spec)) is not None:
        findings.append(Finding(at, message))
        return None
    if _is_answer(operand):
        return Clause(attribute, op, None, str(operand["answer"]), at, explicit=True)
    if isinstance(operand, dict):
        findings.append(
            Finding(at, _("unknown answer {answer!r}").format(answer=operand.get("answer"))),
        )
        return None
    found = value_findings(spec, operand, at)
    findings += found
    return None if found else Clause(attribute, op, operand, None, at, explicit=True)


def misapplied(op: Operator, spec: AttributeSpec) -> str | None:
    """Why ``op`` cannot compare ``spec`` (``lt`` on a closed list of text), or None."""
    kind = attribute_kind(spec)
    if kind in op.spec.kinds:
        return None
    usable = [name for name in RULE_OPERATORS if kind in Operator(name).spec.kinds]
    return _("{operator} does not apply to {attribute} ({kind}); use {usable}").format(
        operator=op.value, attribute=spec.name, kind=kind, usable=", ".join(usable)
    )


def value_findings(spec: AttributeSpec, value: Any, path: Path_) -> list[Finding]:
    """Values an attribute cannot take: wrong type, or not one of its closed values."""
    found: list[Finding] = []
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        at = (*path, i) if isinstance(value, list) else path
        if spec.type == "bool" and not isinstance(item, bool):
            message = _("{attribute} is true or false, not {value!r}")
            found.append(Finding(at, message.format(attribute=spec.name, value=item)))
        elif spec.type in ("int", "float") and (
            isinstance(item, bool) or not isinstance(item, int | float)
        ):
            message = _("{attribute} is a number, not {value!r}")
            found.append(Finding(at, message.format(attribute=spec.name, value=item)))
        elif spec.values is not None and str(item) not in spec.values:
            found.append(
                Finding(
                    at,
                    _("{value!r} is not a value of {attribute} ({values})").format(
                        value=item, attribute=spec.name, values=", ".join(spec.values)
                    ),
                    did_you_mean(str(item), spec.values),
                )
            )
    return found
