"""The rule vocabulary, declared once: attributes, operators and answer types.

Rules are data, the vocabulary is code. What a rule may filter on (the catalogue's
attributes, declared on :class:`catalog.models.Product`), how it may compare (the
operators below, with their meaning in SQL and in Python) and what a question may ask
(the answer types) are declared here and nowhere else. The loader and validator, the
engine and the rule editor all read this one declaration; ``product-rules vocabulary
--json`` exports it (:func:`export`).

An operator's SQL and Python forms must agree: the engine asks the database which
products match, and explains the products it has already loaded in Python
(``tests/product_rules/test_vocabulary.py`` checks both on a table of values).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypedDict, get_args

from sqlalchemy import ColumnElement, and_, false
from sqlalchemy.orm import InstrumentedAttribute

from catalog.attributes import AttributeSpec, vocabulary
from product_rules.i18n import N_, translations
from product_rules.i18n import lazy_gettext as _
from product_rules.localize import LANGUAGES

__all__ = [
    "ANSWER_TYPES",
    "AnswerType",
    "AnswerTypeSpec",
    "AttributeKind",
    "Operand",
    "Operator",
    "OperatorSpec",
    "RULE_OPERATORS",
    "Unit",
    "VALUE_OPERATORS",
    "VocabularyExport",
    "attribute_kind",
    "attribute_labels",
    "attributes",
    "export",
    "rule_operator",
    "value_operator",
]

AttributeKind = Literal["number", "text", "enum", "boolean"]
"""What a merchandiser sees an attribute as: a number with its unit, free text, one of
a closed list of values, or yes/no."""

Operand = Literal["value", "list", "range"]
"""What an operator compares with: one value, a list of values, or a (low, high) pair."""

Labels = Mapping[str, str]
"""A label per language code (``en``, ``de``)."""

Column = ColumnElement[Any] | InstrumentedAttribute[Any]
"""A Product column, or any SQL expression an attribute is compared as."""

Unit = Literal["EUR", "cm"]
"""How a number answer is read: an amount of money or a length."""


class Operator(StrEnum):
    """A comparison of a product attribute with a value; written by its value in YAML."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    BETWEEN = "between"

    @property
    def spec(self) -> OperatorSpec:
        """The declaration of this operator."""
        return _OPERATORS[self]

    def sql(self, column: Column, value: Any) -> ColumnElement[bool]:
        """``column <op> value`` as a SQL predicate; no value matches nothing.

        ``value`` is a literal or a bound parameter. A list given to ``eq``/``ne`` means
        one of (none of) its items, as a mapped answer may give several values; a single
        value given to ``in``/``not_in`` is a list of one.
        """
        if value is None:
            return false()
        op, operand = self.normalized(value)
        return op.spec.sql(column, operand)

    def holds(self, actual: Any, value: Any) -> bool:
        """The Python twin of :meth:`sql`, on an attribute value already loaded.

        An unset attribute or value never matches, as ``NULL`` never does in SQL.
        """
        if actual is None or value is None:
            return False
        op, operand = self.normalized(value)
        return op.spec.python(actual, operand)

    def normalized(self, value: Any) -> tuple[Operator, Any]:
        """The operator and operand the comparison really makes with ``value``."""
        if self.spec.operand == "range":
            return self, tuple(value)
        if isinstance(value, list):
            # As the engine always read them: a list with eq is "one of", with anything
            # else "none of".
            if self.spec.operand == "list":
                return self, value
            return (Operator.IN if self is Operator.EQ else Operator.NOT_IN), value
        if self.spec.operand == "list":
            return self, [value]
        return self, value


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """How an operator reads, what it applies to and what it means.

    Attributes:
        labels: What a merchandiser reads in the editor, per language.
        symbol: How findings and traces show it (``<=``).
        operand: What it compares with.
        kinds: The attribute kinds it applies to.
        bound: ``upper`` for ``lt``/``le`` (a budget: widening raises it), ``lower`` for
            ``gt``/``ge``; None when the value is no bound.
        in_rules: Whether rule files may write it; ``between`` only arises when a
            relaxation widens a size to a range.
        sql: The predicate over a column and an operand (a literal or bound parameter).
        python: The same test on a loaded value and an operand.
        sql_text: :attr:`sql` as an example, for the export.
        python_text: :attr:`python` as an example, for the export.
        expected: How a persona failure says what was expected (``<= {value}``).
    """

    labels: Labels
    symbol: str
    operand: Operand
    kinds: frozenset[AttributeKind]
    sql: Callable[[Column, Any], ColumnElement[bool]]
    python: Callable[[Any, Any], bool]
    sql_text: str
    python_text: str
    expected: str
    bound: Literal["upper", "lower"] | None = None
    in_rules: bool = True


_ALL: frozenset[AttributeKind] = frozenset(("number", "text", "enum", "boolean"))
_ORDERED: frozenset[AttributeKind] = frozenset(("number",))


def _between_sql(column: Column, pair: Any) -> ColumnElement[bool]:
    low, high = pair
    return and_(column >= low, column <= high)


def _between(actual: Any, pair: Any) -> bool:
    low, high = pair
    return bool(low <= actual <= high)


def _comparison(
    en: str,
    de: str,
    symbol: str,
    compare: Callable[[Any, Any], Any],
    *,
    sql: str,
    expected: str,
    kinds: frozenset[AttributeKind] = _ORDERED,
    bound: Literal["upper", "lower"] | None = None,
) -> OperatorSpec:
    """A comparison with one value, the same Python operator on columns and on values."""
    return OperatorSpec(
        labels={"en": en, "de": de},
        symbol=symbol,
        operand="value",
        kinds=kinds,
        sql=compare,
        python=compare,
        sql_text=f"column {sql} :value",
        python_text=f"actual {symbol} value",
        expected=expected,
        bound=bound,
    )


_OPERATORS: dict[Operator, OperatorSpec] = {
    Operator.EQ: _comparison(
        "is", "ist", "==", operator.eq, sql="=", expected="{value}", kinds=_ALL
    ),
    Operator.NE: _comparison(
        "is not", "ist nicht", "!=", operator.ne, sql="!=", expected=_("not {value}"), kinds=_ALL
    ),
    Operator.IN: OperatorSpec(
        labels={"en": "is one of", "de": "ist eines von"},
        symbol="in",
        operand="list",
        kinds=_ALL,
        sql=lambda column, items: column.in_(items),
        python=lambda actual, items: actual in items,
        sql_text="column IN (:values)",
        python_text="actual in values",
        expected=_("one of {value}"),
    ),
    Operator.NOT_IN: OperatorSpec(
        labels={"en": "is none of", "de": "ist keines von"},
        symbol="not in",
        operand="list",
        kinds=_ALL,
        sql=lambda column, items: column.not_in(items),
        python=lambda actual, items: actual not in items,
        sql_text="column NOT IN (:values)",
        python_text="actual not in values",
        expected=_("none of {value}"),
    ),
    Operator.LT: _comparison(
        "is less than",
        "ist kleiner als",
        "<",
        operator.lt,
        sql="<",
        expected="< {value}",
        bound="upper",
    ),
    Operator.LE: _comparison(
        "is at most",
        "ist höchstens",
        "<=",
        operator.le,
        sql="<=",
        expected="<= {value}",
        bound="upper",
    ),
    Operator.GT: _comparison(
        "is more than",
        "ist größer als",
        ">",
        operator.gt,
        sql=">",
        expected="> {value}",
        bound="lower",
    ),
    Operator.GE: _comparison(
        "is at least",
        "ist mindestens",
        ">=",
        operator.ge,
        sql=">=",
        expected=">= {value}",
        bound="lower",
    ),
    Operator.BETWEEN: OperatorSpec(
        labels={"en": "is between", "de": "liegt zwischen"},
        symbol="between",
        operand="range",
        kinds=_ORDERED,
        sql=_between_sql,
        python=_between,
        sql_text="column BETWEEN :low AND :high",
        python_text="low <= actual <= high",
        expected="{value}",
        in_rules=False,
    ),
}

#: The operators rule files may write, in the order the editor offers them.
RULE_OPERATORS: tuple[str, ...] = tuple(op.value for op in Operator if op.spec.in_rules)

#: The rule operators that compare with one value (a persona's ``total_price``).
VALUE_OPERATORS: tuple[str, ...] = tuple(
    op.value for op in Operator if op.spec.in_rules and op.spec.operand == "value"
)


def _choices(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def rule_operator(value: Any) -> Operator:
    """An operator a rule file may write (the ``op`` of a filter); ValueError otherwise."""
    if isinstance(value, Operator) and value.spec.in_rules:
        return value
    if value in RULE_OPERATORS:
        return Operator(value)
    # Worded as pydantic words a wrong literal, which this check replaced.
    raise ValueError(f"Input should be {_choices(RULE_OPERATORS)}")


def value_operator(value: Any) -> Operator:
    """A rule operator that compares with one value; ValueError otherwise."""
    if value in VALUE_OPERATORS:
        return Operator(value)
    raise ValueError(f"Input should be {_choices(VALUE_OPERATORS)}")


class AnswerType(StrEnum):
    """What kind of answer a question takes."""

    CHOICE = "choice"
    NUMBER = "number"
    BOOLEAN = "boolean"

    @property
    def spec(self) -> AnswerTypeSpec:
        """The declaration of this answer type."""
        return ANSWER_TYPES[self]


@dataclass(frozen=True, slots=True)
class AnswerTypeSpec:
    """How an answer type reads and what a question of that type needs.

    Attributes:
        labels: What a merchandiser reads in the editor, per language.
        options: Whether the question lists options (and must).
        condition: The rule-engine type a condition (``when``, ``ask_if``) sees it as.
        units: The units a number is read in (one is required); empty: no unit.
    """

    labels: Labels
    options: bool
    condition: Literal["STRING", "FLOAT", "BOOLEAN"]
    units: tuple[str, ...] = ()


ANSWER_TYPES: dict[AnswerType, AnswerTypeSpec] = {
    AnswerType.CHOICE: AnswerTypeSpec(
        {"en": "Choice", "de": "Auswahl"}, options=True, condition="STRING"
    ),
    AnswerType.NUMBER: AnswerTypeSpec(
        {"en": "Number", "de": "Zahl"}, options=False, condition="FLOAT", units=get_args(Unit)
    ),
    AnswerType.BOOLEAN: AnswerTypeSpec(
        {"en": "Yes or no", "de": "Ja oder nein"}, options=False, condition="BOOLEAN"
    ),
}


def attribute_kind(spec: AttributeSpec) -> AttributeKind:
    """How a catalogue attribute reads to a merchandiser (number, text, enum, boolean)."""
    if spec.type == "bool":
        return "boolean"
    if spec.type in ("int", "float"):
        return "number"
    return "enum" if spec.values is not None else "text"


def attributes() -> dict[str, AttributeSpec]:
    """The attributes rules may filter on, keyed by name (declared on the Product model)."""
    return vocabulary()


#: The English labels of the catalogue's attributes (:mod:`catalog.attributes`), marked
#: here for ``pybabel extract``: the catalogue declares them in English only, and the
#: editor shows them in the merchandiser's language, translated by product_rules'
#: catalogue keyed by the English label (``tests/product_rules/test_i18n.py`` checks
#: that every attribute has one).
ATTRIBUTE_LABELS = (
    N_("Price"),
    N_("Stock"),
    N_("Margin"),
    N_("Brand"),
    N_("Category"),
    N_("Frame size"),
    N_("Geometry"),
    N_("Frame material"),
    N_("Groupset"),
    N_("Gears"),
    N_("Brakes"),
    N_("Tyre width"),
    N_("Weight"),
    N_("Pedals included"),
    N_("Cleat system"),
    N_("Suspension travel"),
    N_("Wheel size"),
    N_("Electric motor"),
    N_("Battery"),
    N_("Size"),
    N_("Shoe size (EU)"),
    N_("Light output"),
    N_("Mounting"),
)


def attribute_labels(spec: AttributeSpec) -> dict[str, str]:
    """The attribute's label per language (the English one where none is translated)."""
    return {language: translations(language).gettext(spec.label) for language in LANGUAGES}


class AttributeExport(TypedDict):
    """One attribute as ``product-rules vocabulary --json`` shows it."""

    name: str
    label: str
    labels: dict[str, str]
    kind: AttributeKind
    type: str
    unit: str | None
    values: list[str] | None
    display: bool
    operators: list[str]


class OperatorExport(TypedDict):
    """One operator as ``product-rules vocabulary --json`` shows it."""

    name: str
    labels: dict[str, str]
    symbol: str
    operand: Operand
    kinds: list[AttributeKind]
    bound: str | None
    in_rules: bool
    sql: str
    python: str


class AnswerTypeExport(TypedDict):
    """One answer type as ``product-rules vocabulary --json`` shows it."""

    name: str
    labels: dict[str, str]
    options: bool
    units: list[str]


class VocabularyExport(TypedDict):
    """The whole vocabulary, the document the rule editor builds its form from."""

    attributes: list[AttributeExport]
    operators: list[OperatorExport]
    answer_types: list[AnswerTypeExport]


def export() -> VocabularyExport:
    """The vocabulary as plain JSON data, in declaration order."""
    kinds = {name: attribute_kind(spec) for name, spec in attributes().items()}
    return {
        "attributes": [
            {
                "name": spec.name,
                "label": spec.label,
                "labels": attribute_labels(spec),
                "kind": kinds[spec.name],
                "type": spec.type,
                "unit": spec.unit,
                "values": list(spec.values) if spec.values is not None else None,
                "display": spec.display,
                "operators": [
                    op.value
                    for op in Operator
                    if op.spec.in_rules and kinds[spec.name] in op.spec.kinds
                ],
            }
            for spec in attributes().values()
        ],
        "operators": [
            {
                "name": op.value,
                "labels": dict(op.spec.labels),
                "symbol": op.spec.symbol,
                "operand": op.spec.operand,
                "kinds": sorted(op.spec.kinds),
                "bound": op.spec.bound,
                "in_rules": op.spec.in_rules,
                "sql": op.spec.sql_text,
                "python": op.spec.python_text,
            }
            for op in Operator
        ],
        "answer_types": [
            {
                "name": kind.value,
                "labels": dict(kind.spec.labels),
                "options": kind.spec.options,
                "units": list(kind.spec.units),
            }
            for kind in AnswerType
        ],
    }
