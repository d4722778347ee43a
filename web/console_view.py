"""What the console templates read: an :class:`advisor.assisted.Evaluation` as plain data.

No sentence is made here: the templates (``web/templates/console/``) turn the data into
words, so they can be translated. This module only gathers, orders and links: which
questions to show and how, the offers with the requirement behind each required item
(for "change pedals"), the expert view (candidates with score parts, exclusions, the
trace, violations) and the locks in force.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from advisor.assisted import Evaluation, QuestionView
from advisor.sessions import AssistedSession, AuditEntry
from advisor.state import ConversationState
from product_rules.locks import Locks
from product_rules.schema import Option, RuleSet
from product_rules.text import LOCALES, money

__all__ = [
    "ComponentLock",
    "ConsoleView",
    "OfferView",
    "QuestionPanel",
    "install_filters",
    "latest_share",
    "session_view",
]


def install_filters(env: Environment) -> None:
    """Add the filters the console and share templates use to the shared environment."""
    env.filters.setdefault("money", money)
    env.filters["points"] = _points_filter


def points(value: Any, language: str = "en") -> str:
    """A score or part as the expert view prints it: ``+3.00``, ``-0.50`` (``+3,00`` in de)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    locale = LOCALES.get(language, LOCALES["en"])
    return str(format_decimal(number, format="+#,##0.00;-#,##0.00", locale=locale))


@pass_context
def _points_filter(context: Context, value: Any) -> str:
    return points(value, str(context.get("lang") or "en"))


@dataclass(frozen=True, slots=True)
class QuestionPanel:
    """One question with the controls it gets."""

    view: QuestionView
    is_next: bool
    buttons: list[Option]  # choice options shown as buttons (still possible, plus the answer)

    @property
    def id(self) -> str:
        """The question id."""
        return self.view.question.id


@dataclass(frozen=True, slots=True)
class RequiredItem:
    """A required item of an offer and the requirement that added it."""

    item: Mapping[str, Any]
    requirement: str | None  # requirement id; None if the rules no longer name one
    locked: bool  # staff chose this item


@dataclass(frozen=True, slots=True)
class OfferView:
    """One offer as the console shows it."""

    offer: Mapping[str, Any]
    main: Mapping[str, Any] | None
    required: list[RequiredItem]
    pinned: bool


@dataclass(frozen=True, slots=True)
class ComponentLock:
    """A requirement staff filled by hand: for ``main``, use ``sku``."""

    main: str
    requirement: str
    sku: str


@dataclass(slots=True)
class ConsoleView:
    """Everything the session page and its panels render."""

    session: AssistedSession
    ruleset: RuleSet
    questions: list[QuestionPanel]
    complete: bool
    unavailable: bool
    offers: list[OfferView]
    cross_sell: list[Mapping[str, Any]]
    relaxation: Mapping[str, Any] | None
    relaxed: list[str]
    candidates: list[Mapping[str, Any]]
    excluded: list[Mapping[str, Any]]
    violations: list[Mapping[str, Any]]
    trace: list[Mapping[str, Any]]
    pinned: list[str]
    excluded_skus: list[str]
    components: list[ComponentLock]
    notes: Mapping[str, str]
    names: dict[str, str]  # SKU to product name, for the locks and the audit
    audit: list[AuditEntry] = field(default_factory=list)
    share: Mapping[str, Any] | None = None
    language: str = "en"  # the customer's: questions, answers and offers are in it


def _requirement_for(ruleset: RuleSet, item: Mapping[str, Any]) -> str | None:
    # The offer names the item's category, not the rule; a rule set has one requirement
    # per category in practice, so the category finds it.
    for requirement in ruleset.requirements:
        if requirement.category == item.get("category"):
            return requirement.id
    return None


def _offer_view(ruleset: RuleSet, offer: Mapping[str, Any], locks: Locks) -> OfferView:
    items: Sequence[Mapping[str, Any]] = offer.get("items") or []
    main = next((i for i in items if i.get("role") == "main"), None)
    main_sku = str(main.get("sku")) if main is not None else ""
    chosen = locks.components.get(main_sku, {})
    required = []
    for item in items:
        if item.get("role") != "required":
            continue
        requirement = _requirement_for(ruleset, item)
        locked = requirement is not None and chosen.get(requirement) == item.get("sku")
        required.append(RequiredItem(item=item, requirement=requirement, locked=locked))
    return OfferView(offer=offer, main=main, required=required, pinned=main_sku in locks.pinned)


def _question_panel(view: QuestionView, next_id: str | None) -> QuestionPanel:
    buttons = list(view.options)
    question = view.question
    if question.type == "choice" and view.answered:
        # Once answered every option may be picked instead; keep the rule set's order.
        buttons = list(question.options)
    return QuestionPanel(view=view, is_next=question.id == next_id, buttons=buttons)


def _names(
    offers: Sequence[Mapping[str, Any]],
    candidates: Sequence[Mapping[str, Any]],
    excluded: Sequence[Mapping[str, Any]],
) -> dict[str, str]:
    names: dict[str, str] = {}
    for offer in offers:
        for item in offer.get("items") or []:
            names[str(item.get("sku"))] = str(item.get("name") or "")
    for entry in [*candidates, *excluded]:
        names.setdefault(str(entry.get("sku")), str(entry.get("name") or ""))
    return names


def latest_share(audit: Sequence[AuditEntry]) -> Mapping[str, Any] | None:
    """The last share of a session, from its audit log (code and expiry), if any."""
    for entry in reversed(audit):
        if entry.action == "share" and entry.detail.get("code"):
            return entry.detail
    return None


def session_view(
    record: AssistedSession,
    state: ConversationState,
    evaluation: Evaluation,
    audit: list[AuditEntry],
) -> ConsoleView:
    """The console's view of one assisted session."""
    recommendation = evaluation.recommendation
    locks = Locks.from_dict(state.locks)
    next_id = evaluation.next_question.id if evaluation.next_question is not None else None
    offers: list[Mapping[str, Any]] = list(recommendation.offers) if recommendation else []
    candidates: list[Mapping[str, Any]] = list(getattr(recommendation, "candidates", None) or [])
    excluded: list[Mapping[str, Any]] = list(getattr(recommendation, "excluded", None) or [])
    violations: list[Mapping[str, Any]] = list(getattr(recommendation, "violations", None) or [])
    names = _names(offers, candidates, excluded)
    for entry in audit:
        for key in ("sku", "main"):
            sku = entry.detail.get(key)
            name = entry.detail.get("name" if key == "sku" else "main_name")
            if isinstance(sku, str) and isinstance(name, str) and name:
                names.setdefault(sku, name)
    return ConsoleView(
        session=record,
        ruleset=evaluation.ruleset,
        questions=[_question_panel(v, next_id) for v in evaluation.questions],
        complete=evaluation.complete,
        unavailable=evaluation.unavailable,
        offers=[_offer_view(evaluation.ruleset, o, locks) for o in offers],
        cross_sell=list(recommendation.cross_sell) if recommendation else [],
        relaxation=recommendation.relaxation if recommendation else None,
        relaxed=list(recommendation.relaxed) if recommendation else [],
        candidates=candidates,
        excluded=excluded,
        violations=violations,
        trace=list(recommendation.trace) if recommendation else [],
        pinned=list(locks.pinned),
        excluded_skus=list(locks.excluded),
        components=[
            ComponentLock(main=main, requirement=requirement, sku=sku)
            for main, chosen in locks.components.items()
            for requirement, sku in chosen.items()
        ],
        notes=dict(state.notes),
        names=names,
        audit=audit,
        share=latest_share(audit),
        language=state.language,
    )
