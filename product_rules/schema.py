"""The rule language: pydantic models of a rule set, also exported as JSON Schema.

A rule set is a folder of YAML files (``ruleset.yml``, ``questions.yml``, ``filters.yml``
...); their top-level keys are merged into one :class:`RuleSet`. Conditions (``when``,
``ask_if``) are expressions over the answers in the ``rule-engine`` syntax, for example
``experience == 'beginner' and budget < 1000``; they are compiled and type-checked at
load time by :mod:`product_rules.conditions`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from product_rules.clauses import ProductFilter
from product_rules.i18n import lazy_gettext as _
from product_rules.vocabulary import RULE_OPERATORS, AnswerType, Operator, Unit, rule_operator

__all__ = [
    "Alert",
    "AllOf",
    "AnyOf",
    "Compatibility",
    "ConditionSpec",
    "DerivedSource",
    "NotOf",
    "Answer",
    "CrossSellRule",
    "DerivedValue",
    "Filter",
    "GlossaryEntry",
    "Option",
    "ProductFilter",
    "Question",
    "Ranking",
    "Relaxation",
    "Requirement",
    "RuleSet",
    "Selection",
    "SizeRow",
]

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Answer = str | float | int | bool
Scalar = str | float | int | bool


class _Model(BaseModel):
    # Unknown keys are typos far more often than intent: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllOf(_Model):
    """Holds when every condition holds."""

    all: list[ConditionSpec] = Field(min_length=1)


class AnyOf(_Model):
    """Holds when at least one condition holds."""

    any: list[ConditionSpec] = Field(min_length=1)


class NotOf(_Model):
    """Holds when the condition does not."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    not_: ConditionSpec = Field(alias="not")


ConditionSpec = str | AllOf | AnyOf | NotOf
"""An expression over answers (``budget < 1000``) or an ``all``/``any``/``not`` tree."""


class Option(_Model):
    """One answer a shopper can pick; synonyms are matched in free text."""

    id: Identifier
    label: str
    synonyms: list[str] = []
    explain: str | None = None


class Question(_Model):
    """A question the advisor asks; its ``id`` is the key of the answer."""

    id: Identifier
    text: str
    type: AnswerType
    options: list[Option] = []
    unit: Unit | None = Field(
        default=None, description="How a number answer is read: an amount of money or a length."
    )
    min: float | None = None
    max: float | None = None
    example: str | None = Field(
        default=None, description="Shown after the question: 'for example 182 cm or 6 ft 1'."
    )
    cues: list[str] = Field(
        default=[],
        description="Words that tie a number to this question when several share a unit "
        "('inseam', 'inside leg').",
    )
    ask_if: ConditionSpec | None = Field(default=None, description="Condition over answers.")
    default: Scalar | None = Field(
        default=None, description="Answer used when the shopper does not know or skips."
    )
    why: str | None = Field(default=None, description="Why we ask, for 'why do you ask?'.")

    @model_validator(mode="after")
    def _options_match_type(self) -> Question:
        kind = self.type.spec
        if kind.options and not self.options:
            raise ValueError(_("a {type} question needs options").format(type=self.type.value))
        if not kind.options and self.options:
            message = _("a {type} question takes no options")
            raise ValueError(message.format(type=self.type.value))
        if kind.units and self.unit is None:
            raise ValueError(
                _("a {type} question needs a unit: {units}").format(
                    type=self.type.value, units=" or ".join(kind.units)
                )
            )
        return self

    def option(self, option_id: str) -> Option | None:
        """Return the option with this id, if any."""
        return next((o for o in self.options if o.id == option_id), None)


RuleOperator = Annotated[
    Operator,
    BeforeValidator(rule_operator),
    WithJsonSchema({"type": "string", "enum": list(RULE_OPERATORS)}),
]
"""An operator rule files may write (see :mod:`product_rules.vocabulary`)."""


class ValueRef(_Model):
    """A value taken from an answer or a derived value at run time."""

    answer: Identifier


class Relaxation(_Model):
    """How a soft wish may be loosened when nothing matches, tried in order."""

    widen_pct: float | None = Field(default=None, gt=0, le=200)
    widen_by: float | None = Field(default=None, gt=0)
    substitute: dict[str, list[str]] | None = None
    drop: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Relaxation:
        chosen = [
            self.widen_pct is not None,
            self.widen_by is not None,
            self.substitute is not None,
            self.drop,
        ]
        if sum(chosen) != 1:
            raise ValueError(
                _("a relaxation step takes exactly one of widen_pct, widen_by, substitute, drop")
            )
        return self


class Filter(_Model):
    """A wish turned into a condition on the main product."""

    id: Identifier
    label: str = Field(description="The wish in the shopper's words, e.g. 'your budget'.")
    when: ConditionSpec | None = Field(default=None, description="Applies only if this holds.")
    attribute: str
    op: RuleOperator = Operator.EQ
    value: Scalar | list[Scalar] | None = None
    answer: Identifier | None = Field(default=None, description="Compare with this answer.")
    map: dict[str, Scalar | list[Scalar]] | None = Field(
        default=None, description="Answer option id to attribute value(s)."
    )
    scope: Literal["main", "bundle"] = Field(
        default="main", description="bundle: the total of the offer must satisfy it (prices)."
    )
    hard: bool = True
    importance: int = Field(default=5, ge=1, le=10, description="Least important relaxes first.")
    weight: float = Field(default=1.0, ge=0, description="Ranking weight of a soft filter.")
    relax: list[Relaxation] = []
    reason: str | None = Field(default=None, description="Jinja2 text shown when it holds.")

    @model_validator(mode="after")
    def _one_source(self) -> Filter:
        sources = [self.value is not None, self.answer is not None]
        if sum(sources) != 1:
            raise ValueError(_("a filter takes exactly one of value or answer"))
        if self.map is not None and self.answer is None:
            raise ValueError(_("map translates an answer: give answer too"))
        return self


class SizeRow(_Model):
    """One row of a size table: inputs in [min, max) give ``value``."""

    min: float
    max: float
    value: float | int

    @model_validator(mode="after")
    def _ordered(self) -> SizeRow:
        if self.max <= self.min:
            message = _("max ({max}) must be greater than min ({min})")
            raise ValueError(message.format(max=self.max, min=self.min))
        return self


class DerivedSource(_Model):
    """One way to compute a derived value: a table over an answer or another value."""

    source: Identifier = Field(description="Answer or derived value the table reads.")
    table: list[SizeRow] = Field(min_length=1)


class DerivedValue(_Model):
    """A value computed with tables (frame size from inseam when given, else body height).

    The first source that has a value wins, so list the most precise one first.
    """

    id: Identifier
    label: str
    sources: list[DerivedSource] = Field(min_length=1, alias="from")
    explain: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Selection(_Model):
    """Which product fulfils a requirement, when a condition holds (first match wins)."""

    when: ConditionSpec | None = None
    filter: ProductFilter = Field(default_factory=ProductFilter)
    reason: str


class Requirement(_Model):
    """A main product that matches ``if_item`` needs an item of ``category`` added."""

    id: Identifier
    label: str
    if_item: ProductFilter = Field(default_factory=ProductFilter)
    category: str
    select: list[Selection]
    prefer: Literal["cheapest", "margin", "best"] = "cheapest"


class CrossSellRule(_Model):
    """Suggest items of a category beside the offers."""

    id: Identifier
    when: ConditionSpec | None = None
    target: ProductFilter
    limit: int = Field(default=1, ge=1, le=5)
    prefer: Literal["cheapest", "margin", "best"] = "best"
    reason: str


class Compatibility(_Model):
    """Two categories of items that must fit together in an offer and its cross-sell.

    Either ``equal`` (both items carry the attribute with the same value, e.g. pedals and
    shoes on ``cleat_system``) or ``pairs`` (an explicit table of compatible models by
    ``group_sku``, for what attributes cannot express), or ``relation`` (the catalogue's
    ``compatible_with`` relations).
    """

    id: Identifier
    label: str
    categories: tuple[str, str]
    equal: str | None = None
    pairs: list[tuple[str, str]] | None = None
    relation: Literal["compatible_with"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Compatibility:
        if sum([self.equal is not None, self.pairs is not None, self.relation is not None]) != 1:
            raise ValueError(_("a compatibility rule takes exactly one of equal, pairs, relation"))
        return self


class Alert(_Model):
    """Warn, but allow: a note on offers whose main item matches, when answers match."""

    id: Identifier
    when: ConditionSpec | None = None
    if_item: ProductFilter = Field(default_factory=ProductFilter)
    message: str


class Ranking(_Model):
    """Push factors a merchandiser sets on top of the soft filters' weights."""

    in_stock: float = Field(default=2.0, ge=0)
    margin: float = Field(default=0.5, ge=0, description="Weight per 10 points of margin.")
    price_fit: float = Field(
        default=1.0, ge=0, description="Prefer prices that use the budget well."
    )


class GlossaryEntry(_Model):
    """A term the shopper may ask about ("what is SPD?")."""

    term: str
    synonyms: list[str] = []
    text: str


class RuleSet(_Model):
    """Everything the advisor needs to advise on one kind of product."""

    id: Identifier
    title: str
    category: str = Field(description="Category slug of the main product.")
    intro: str = Field(description="First sentence when this advice starts.")
    synonyms: list[str] = Field(default=[], description="Words that start this advice.")
    max_offers: int = Field(default=3, ge=1, le=3)
    questions: list[Question]
    filters: list[Filter] = []
    derived: list[DerivedValue] = []
    requirements: list[Requirement] = []
    cross_sell: list[CrossSellRule] = []
    compatibility: list[Compatibility] = []
    alerts: list[Alert] = []
    ranking: Ranking = Ranking()
    glossary: list[GlossaryEntry] = []

    def question(self, question_id: str) -> Question | None:
        """Return the question with this id, if any."""
        return next((q for q in self.questions if q.id == question_id), None)


AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
