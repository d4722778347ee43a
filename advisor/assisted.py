"""Assisted selling: the staff console's operations on the same state, engine and parser.

Staff see every question at once and answer them in any order, by button value or in
free text read by the chat's parser; they pin, exclude and swap products and confirm
rule breaks with a note. Each operation returns the new state and a :class:`Change`
for the audit log; :meth:`AssistedAdvisor.evaluate` gives what the console shows: the
questionnaire, the offers and the expert view (every candidate with its score parts,
the exclusions, the rule trace and the lock violations).

Exceptions (one tree, :class:`AssistError`; messages are for staff):
    UnknownQuestionError: The rule set has no such question.
    InvalidAnswerError: The value or text is not a usable answer to the question.
    UnknownProductError: No product with that SKU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from advisor.answers import DONT_KNOW, button_answer, describe
from advisor.render import gettext
from advisor.service import Advisor
from advisor.state import ConversationState
from catalog.models import Product
from product_rules.engine import Recommendation
from product_rules.errors import did_you_mean
from product_rules.locks import Locks
from product_rules.registry import ServedRuleSet
from product_rules.schema import Option, Question, RuleSet

__all__ = [
    "AssistError",
    "AssistedAdvisor",
    "Change",
    "Evaluation",
    "InvalidAnswerError",
    "QuestionView",
    "UnknownProductError",
    "UnknownQuestionError",
]

log = logging.getLogger("advisor.assisted")


def _suggestion(hint: str | None, kind: str, known: list[str]) -> str:
    """What to say after a refusal: "did you mean 'x'?" or the ids there are."""
    if hint:
        return gettext("; did you mean %(hint)r?", hint=hint)
    listed = ", ".join(known)
    if kind == "questions":
        return gettext("; questions: %(known)s", known=listed)
    if kind == "in service":
        return gettext("; in service: %(known)s", known=listed)
    return gettext("; requirements: %(known)s", known=listed)


def _outside(value: str, low: float | None, high: float | None) -> str:
    """A number out of a question's bounds, say so: "90 is outside 120 to 220"."""
    bounds = {
        name: "" if bound is None else f"{bound:g}"
        for name, bound in (("low", low), ("high", high))
    }
    return gettext("%(value)s is outside %(low)s to %(high)s", value=value, **bounds)


class AssistError(Exception):
    """An operation staff asked for cannot be done; the message says why."""


class UnknownQuestionError(AssistError):
    """The rule set has no question with this id."""

    def __init__(self, question_id: str, ruleset: RuleSet) -> None:
        ids = [q.id for q in ruleset.questions]
        hint = did_you_mean(question_id, ids)
        found = gettext(
            "%(ruleset)s has no question %(question)r", ruleset=ruleset.title, question=question_id
        )
        super().__init__(found + _suggestion(hint, "questions", ids))


class InvalidAnswerError(AssistError):
    """The value is not an answer to the question."""


class UnknownProductError(AssistError):
    """No product with that SKU in the catalogue."""


@dataclass(frozen=True, slots=True)
class Change:
    """One operation, as the audit log keeps it."""

    action: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QuestionView:
    """One question as the console shows it."""

    question: Question
    applies: bool  # its ask_if holds for the answers so far
    answered: bool
    answer: Any
    said: str  # the answer in words ("budget 1,500 EUR"), "" if unanswered
    source: str | None  # "customer" or "staff"
    options: list[Option]  # choice options still possible (progressive filtering)


@dataclass(slots=True)
class Evaluation:
    """Everything the console shows for a state."""

    ruleset: RuleSet
    questions: list[QuestionView]
    next_question: Question | None
    recommendation: Recommendation | None
    unavailable: bool = False  # the catalogue could not be read; the answers are kept

    @property
    def complete(self) -> bool:
        """Whether every question that applies has an answer."""
        return self.next_question is None


class AssistedAdvisor:
    """The console's operations over the shared :class:`advisor.service.Advisor`."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    def _served(self, state: ConversationState) -> ServedRuleSet:
        served = self.advisor.served(state.ruleset)
        if served is None:
            raise AssistError(
                gettext("the rule set %(ruleset)r is not in service", ruleset=state.ruleset)
            )
        return served

    @staticmethod
    def _copy(state: ConversationState) -> ConversationState:
        return ConversationState.from_dict(state.to_dict())

    # -- sessions ------------------------------------------------------------------

    def start(self, ruleset_id: str, *, language: str = "en") -> ConversationState:
        """A new assisted advice for ``ruleset_id``."""
        served = self.advisor.served(ruleset_id)
        if served is None:
            known = [s.ruleset.id for s in self.advisor.registry.all()]
            hint = did_you_mean(ruleset_id, known)
            raise AssistError(
                gettext("no rule set %(ruleset)r in service", ruleset=ruleset_id)
                + _suggestion(hint, "in service", known)
            )
        return ConversationState(ruleset=ruleset_id, channel="console", language=language)

    def take_over(self, shared: ConversationState) -> ConversationState:
        """A shopper's state (from a hand-over code) as an assisted session."""
        state = self._copy(shared)
        state.channel = "console"
        state.pending = []
        return state

    # -- answers -------------------------------------------------------------------

    def answer(
        self,
        state: ConversationState,
        question_id: str,
        *,
        value: Any = None,
        text: str | None = None,
    ) -> tuple[ConversationState, Change]:
        """Set one answer, from a button value or from free text.

        ``value`` is what a button carries: an option id, ``"true"``/``"false"``, a
        number, or ``"dont_know"`` for the question's default. ``text`` is read by the
        chat's parser as an answer to this question ("about 1.5k", "1,82 m").

        Raises:
            UnknownQuestionError: No such question.
            InvalidAnswerError: Not an answer to it; the message says what would be.
        """
        served = self._served(state)
        question = served.ruleset.question(question_id)
        if question is None:
            raise UnknownQuestionError(question_id, served.ruleset)
        if text is not None and text.strip():
            read = self._read_text(served, question, text, state.language)
        else:
            read = self._read_value(question, value)
        new = self._copy(state)
        new.answers[question.id] = read
        new.sources[question.id] = "staff"
        new.question = None
        return new, Change(
            "answer", {"question": question.id, "value": read, "said": describe(question, read)}
        )

    def _read_text(
        self, served: ServedRuleSet, question: Question, text: str, language: str
    ) -> Any:
        # Read in the conversation's language: the German tables know the English words too.
        result = served.parser.parse(text, current=question.id, language=language)
        if question.id in result.answers:
            return result.answers[question.id]
        if result.dont_know:
            return question.default
        if question.id in result.rejected:
            low, high = question.min, question.max
            raise InvalidAnswerError(
                _outside(str(result.rejected_values.get(question.id)), low, high)
                if low is not None and high is not None
                else gettext(
                    "%(text)r is out of range for %(question)s", text=text, question=question.id
                )
            )
        raise InvalidAnswerError(
            gettext("%(text)r does not answer %(question)r", text=text, question=question.text)
        )

    @staticmethod
    def _read_value(question: Question, value: Any) -> Any:
        if question.type == "number" and not isinstance(value, str | type(None)):
            number = float(value)
            if (question.min is not None and number < question.min) or (
                question.max is not None and number > question.max
            ):
                raise InvalidAnswerError(_outside(f"{number:g}", question.min, question.max))
            return number
        if question.type == "number" and isinstance(value, str) and value != DONT_KNOW:
            try:
                return AssistedAdvisor._read_value(question, float(value.replace(",", ".")))
            except ValueError:
                raise InvalidAnswerError(
                    gettext("%(value)r is not a number", value=value)
                ) from None
        valid, read = button_answer(question, str(value))
        if not valid:
            choices = ", ".join(o.id for o in question.options) or "true, false"
            raise InvalidAnswerError(
                gettext(
                    "%(value)r is not an answer to %(question)s: %(choices)s",
                    value=value,
                    question=question.id,
                    choices=choices,
                )
            )
        return read

    def clear(self, state: ConversationState, question_id: str) -> tuple[ConversationState, Change]:
        """Forget one answer."""
        new = self._copy(state)
        new.answers.pop(question_id, None)
        new.sources.pop(question_id, None)
        return new, Change("clear", {"question": question_id})

    # -- overrides -----------------------------------------------------------------

    def _product(self, sku: str) -> Product:
        with Session(self.advisor.registry.db) as session:
            product = session.exec(select(Product).where(Product.sku == sku)).first()
        if product is None:
            raise UnknownProductError(gettext("no product with SKU %(sku)r", sku=sku))
        return product

    def _with_locks(
        self, state: ConversationState, locks: Locks, change: Change
    ) -> tuple[ConversationState, Change]:
        new = self._copy(state)
        new.locks = locks.to_dict()
        return new, change

    def pin(self, state: ConversationState, sku: str) -> tuple[ConversationState, Change]:
        """Offer this product first, whatever the wishes say."""
        product = self._product(sku)
        return self._with_locks(
            state,
            Locks.from_dict(state.locks).pin(sku),
            Change("pin", {"sku": sku, "name": product.name}),
        )

    def unpin(self, state: ConversationState, sku: str) -> tuple[ConversationState, Change]:
        """Let the engine rank this product again."""
        locks = Locks.from_dict(state.locks)
        pinned = tuple(s for s in locks.pinned if s != sku)
        components = {k: v for k, v in locks.components.items() if k != sku}
        return self._with_locks(
            state,
            replace(locks, pinned=pinned, components=components),
            Change("unpin", {"sku": sku}),
        )

    def exclude(self, state: ConversationState, sku: str) -> tuple[ConversationState, Change]:
        """Never offer this product (main item, required item or accessory)."""
        product = self._product(sku)
        return self._with_locks(
            state,
            Locks.from_dict(state.locks).exclude(sku),
            Change("exclude", {"sku": sku, "name": product.name}),
        )

    def include(self, state: ConversationState, sku: str) -> tuple[ConversationState, Change]:
        """Undo :meth:`exclude`."""
        locks = Locks.from_dict(state.locks)
        excluded = tuple(s for s in locks.excluded if s != sku)
        return self._with_locks(
            state, replace(locks, excluded=excluded), Change("include", {"sku": sku})
        )

    def lock_component(
        self, state: ConversationState, main_sku: str, requirement_id: str, sku: str
    ) -> tuple[ConversationState, Change]:
        """Keep ``main_sku`` and use ``sku`` for its requirement (other pedals).

        The main product is pinned too: "keep this bike" is part of the wish.
        """
        served = self._served(state)
        if not any(r.id == requirement_id for r in served.ruleset.requirements):
            known = [r.id for r in served.ruleset.requirements]
            raise AssistError(
                gettext("no requirement %(requirement)r", requirement=requirement_id)
                + _suggestion(None, "requirements", known)
            )
        main, part = self._product(main_sku), self._product(sku)
        locks = Locks.from_dict(state.locks)
        if main_sku not in locks.pinned:
            locks = locks.pin(main_sku)
        return self._with_locks(
            state,
            locks.choose(main_sku, requirement_id, sku),
            Change(
                "lock_component",
                {
                    "main": main_sku,
                    "main_name": main.name,
                    "requirement": requirement_id,
                    "sku": sku,
                    "name": part.name,
                },
            ),
        )

    def unlock_component(
        self, state: ConversationState, main_sku: str, requirement_id: str
    ) -> tuple[ConversationState, Change]:
        """Let the engine pick the requirement's item again."""
        return self._with_locks(
            state,
            Locks.from_dict(state.locks).choose(main_sku, requirement_id, None),
            Change("unlock_component", {"main": main_sku, "requirement": requirement_id}),
        )

    def confirm(
        self, state: ConversationState, key: str, note: str
    ) -> tuple[ConversationState, Change]:
        """Accept a rule a lock breaks, with the reason staff give."""
        note = " ".join(note.split())
        if not note:
            raise AssistError(
                gettext("a confirmation needs a note saying why the rule may be broken")
            )
        new, change = self._with_locks(
            state,
            Locks.from_dict(state.locks).confirm(key),
            Change("confirm", {"key": key, "note": note}),
        )
        new.notes[key] = note
        return new, change

    # -- what the console shows ----------------------------------------------------

    def evaluate(self, state: ConversationState) -> Evaluation:
        """The questionnaire, the offers and the expert view for this state.

        The offers are computed from whatever is answered so far: staff see them move as
        they go, not only at the end.
        """
        served = self._served(state)
        engine = served.engine
        values = engine.derive(state.answers)
        unavailable = False
        views: list[QuestionView] = []
        for question in served.ruleset.questions:
            answered = question.id in state.answers
            answer = state.answers.get(question.id)
            options = list(question.options)
            if question.type == "choice" and not answered and not unavailable:
                try:
                    options = engine.available_options(question, state.answers)
                except SQLAlchemyError:
                    log.warning("option check failed for %s; showing every option", question.id)
                    unavailable = True
            views.append(
                QuestionView(
                    question=question,
                    applies=engine.holds(question.ask_if, values),
                    answered=answered,
                    answer=answer,
                    said=describe(question, answer) if answered else "",
                    source=state.sources.get(question.id),
                    options=options,
                )
            )
        recommendation: Recommendation | None = None
        try:
            recommendation = self.advisor.recommend(state, served)
        except SQLAlchemyError:
            log.exception("catalogue query failed for assisted session, answers %s", state.answers)
            unavailable = True
        return Evaluation(
            ruleset=served.ruleset,
            questions=views,
            next_question=engine.next_question(state.answers),
            recommendation=recommendation,
            unavailable=unavailable,
        )

    def component_options(
        self, state: ConversationState, main_sku: str, requirement_id: str
    ) -> list[dict[str, Any]]:
        """The products staff may put in place of a requirement's pick, with whether they fit."""
        served = self._served(state)
        options = served.engine.component_options(
            state.answers, main_sku, requirement_id, locks=Locks.from_dict(state.locks)
        )
        return [dict(o) for o in options]
