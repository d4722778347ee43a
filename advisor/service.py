"""The advisor's step: a state plus what the person said or clicked gives a new state and a reply.

Every face calls this: the Rasa actions (adapters that read the slot, call :meth:`Advisor.step`
and render the reply), the staff console (through :mod:`advisor.assisted`, which reuses
the same pieces) and the rule preview. Rasa decides the intent of a message; the advisor
decides what to ask next and what to offer.

Failures of the catalogue never cost the conversation: the answers are kept and the
person reads a polite sentence (``unavailable``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from advisor.answers import button_answer, describe, question_named
from advisor.events import EventLog, Scope, events_of
from advisor.language import DETECT_MARGIN, detect_language, exclusive_words, language_asked
from advisor.questions import ask, question_buttons, ruleset_buttons
from advisor.render import language_of, render
from advisor.reply import Button, Reply
from advisor.sharing import CodeError, ExpiredCodeError, ShareStore, code_in
from advisor.state import ConversationState, LastOffers
from product_rules.engine import Recommendation
from product_rules.errors import UnknownRuleSetError
from product_rules.locks import Locks
from product_rules.parsing import rule_set_for
from product_rules.registry import RuleRegistry, ServedRuleSet
from product_rules.schema import Question
from product_rules.text import speaking

__all__ = ["ANSWER_INTENTS", "Advisor", "RELAX_PREFIX", "Turn", "language_asked"]

log = logging.getLogger("advisor")

#: Button value of a relaxation choice: ``relax-<index>`` into the last offers' choices.
RELAX_PREFIX = "relax-"

#: Messages up to this many words may be answers the classifier mistook for a request.
SHORT_ANSWER_WORDS = 3
#: Words that make a message a question about a term rather than an answer ("what is
#: carbon?" against "carbon please"), besides a question mark; lower case, per language.
QUESTION_WORDS = frozenset(
    {"what", "whats", "what's", "why", "how", "explain", "meaning", "mean", "means"}
    | {"was", "warum", "wieso", "weshalb", "wie", "erklär", "erkläre", "erklären", "bedeutet"}
)

#: Starting over discards every answer: below this classifier confidence a "start over"
#: is read as not understood ("NULL" came out as start_over at 0.45), never obeyed.
RESTART_CONFIDENCE = 0.8

#: Intents that carry an answer (or may): they go to :meth:`Advisor._advise`.
ANSWER_INTENTS = frozenset(
    {"request_advice", "inform", "affirm", "deny", "change_answer", "nlu_fallback"}
)


@dataclass(frozen=True, slots=True)
class Turn:
    """What the person did in one turn.

    Attributes:
        text: What they wrote (or the button's payload text).
        intent: The intent Rasa recognised, if a classifier ran; ``None`` reads the text
            as an answer.
        entities: Entities of the message; buttons carry ``choice`` and ``ruleset``.
        conversation: The server-issued conversation id (for hand-over records only).
        language: The page's language (message metadata), if the channel sent one.
        confidence: The classifier's confidence in ``intent``, if a classifier chose it.
    """

    text: str = ""
    intent: str | None = None
    entities: Mapping[str, str] = field(default_factory=dict)
    conversation: str | None = None
    language: str | None = None
    confidence: float | None = None


def early_answers(served: ServedRuleSet, text: str) -> dict[str, Any]:
    """Answers in a message sent before any question was asked.

    A bare amount ("1500", "under 2000") names no question, but before the first
    question a shopper who types a number that is not their height almost always means
    the budget: it is read as the answer to the rule set's money question, when it lies
    in that question's range ("I'm 1,75 m, a road bike under 2000").
    """
    answers: dict[str, Any] = dict(served.parser.parse(text).answers)
    money = next(
        (q for q in served.ruleset.questions if q.type == "number" and q.unit == "EUR"), None
    )
    if money is not None and money.id not in answers:
        as_budget = served.parser.parse(text, current=money.id).answers
        if money.id in as_budget:
            answers[money.id] = as_budget[money.id]
    return answers


class Advisor:
    """The advisor service over the rule sets in service.

    Args:
        registry: The rule sets in service, with their engines and parsers.
        codes: Where hand-over and share codes live; without it a shopper asking for a
            human is told to call or visit, and shared configurations cannot be opened.
    """

    def __init__(
        self,
        registry: RuleRegistry,
        *,
        codes: ShareStore | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.registry = registry
        self.codes = codes
        #: Where each turn's events go (the workbench's analytics); ``None``: nowhere.
        self.events = events
        self._vocabulary: tuple[tuple[int, ...], dict[str, frozenset[str]]] | None = None

    # -- the step ------------------------------------------------------------------

    def step(self, state: ConversationState, turn: Turn) -> tuple[ConversationState, Reply]:
        """Move the conversation one turn forward; the input state is not changed.

        With an event log and a conversation id, what the turn did is recorded there.
        """
        before = state
        state = ConversationState.from_dict(state.to_dict())
        self.settle_language(state, turn)
        with speaking(state.language):
            state, reply = self._step(state, turn)
        if self.events is not None and turn.conversation:
            self.record(turn.conversation, before, state, reply, turn)
        return state, reply

    def settle_language(self, state: ConversationState, turn: Turn) -> None:
        """Set the language of this turn in ``state`` (changed in place).

        The shopper's explicit choice ("auf Deutsch bitte") wins; then the page's language
        (message metadata); without either, a chat reads it from the shopper's first
        messages, those before any answer is taken (:func:`advisor.language.detect_language`):
        on a fresh conversation one clear word decides ("Hallo", "tschüss", "Rennrad"), once
        advice is under way only a clear lead does, and once a message has decided, or an
        answer was taken, nothing flips it ("ja", "Rennrad" mid-conversation).
        """
        if state.language_chosen:
            return
        if turn.language:
            state.language = language_of(turn.language)
            return
        if (
            state.channel != "chat"
            or state.language_heard
            or state.answers
            or not turn.text
            or turn.text.startswith("/")  # a button's payload, not the shopper's words
        ):
            return
        found = detect_language(
            turn.text,
            margin=1 if state.pristine else DETECT_MARGIN,
            vocabulary=self.vocabulary(),
        )
        if found is not None:
            state.language, state.language_heard = found, True

    def vocabulary(self) -> dict[str, frozenset[str]]:
        """Words only one language's rule sets use (labels, synonyms, question texts)."""
        served = {lang: self.registry.all(language=lang) for lang in ("en", "de")}
        key = tuple(id(s) for views in served.values() for s in views)
        if self._vocabulary is None or self._vocabulary[0] != key:
            phrases: dict[str, list[str]] = {}
            for lang, views in served.items():
                words = phrases.setdefault(lang, [])
                for view in views:
                    ruleset = view.ruleset
                    words += [ruleset.title, *ruleset.synonyms]
                    for question in ruleset.questions:
                        words.append(question.text)
                        for option in question.options:
                            words += [option.label, *option.synonyms]
            self._vocabulary = (key, exclusive_words(phrases))
        return self._vocabulary[1]

    def record(
        self,
        conversation: str,
        before: ConversationState,
        after: ConversationState,
        reply: Reply,
        turn: Turn,
    ) -> None:
        """Queue the events of one turn; a failure is logged, never the shopper's problem."""
        if self.events is None:
            return
        try:
            served = self.served(after.ruleset)
            scope = Scope(
                conversation,
                after.ruleset,
                served.version if served else None,
                after.channel,
                after.language,
            )
            events = events_of(
                before, after, reply, text=turn.text, entities=turn.entities, intent=turn.intent
            )
            self.events.record(scope, events)
        except Exception:  # noqa: BLE001 - analytics must never cost a shopper the answer
            log.exception("events of conversation %s not recorded", conversation)

    def _step(self, state: ConversationState, turn: Turn) -> tuple[ConversationState, Reply]:
        reply = Reply()
        intent = turn.intent
        asked = language_asked(turn.text)
        if intent == "switch_language" or (asked is not None and len(turn.text.split()) <= 6):
            self._switch_language(state, asked, reply)
            return state, reply
        if intent == "resume_shared":
            self._resume(state, turn.entities.get("code") or code_in(turn.text), reply)
        elif intent == "greet":
            self._greet(state, reply)
        elif intent in ("ask_why", "explain_term") and not (
            self._answers_open_question(state, turn.text) and not _asks(turn.text)
        ):
            self._explain(state, turn, reply)
        elif intent in ("start_over", "out_of_scope", "human_handoff") and not (
            self._answers_open_question(state, turn.text)
            or self._doubtful_restart(state, turn)
            or (intent == "out_of_scope" and self._answers_before_ruleset(state, turn.text))
        ):
            if intent == "start_over":
                state = state.restart()
                self._offer_rulesets(reply, template="restart")
            elif intent == "out_of_scope":
                question = self._open_question(state)
                reply.say(render("out_of_scope", question=question), self._buttons(question))
            else:
                self._handoff(state, turn, reply)
        else:
            self._advise(state, turn, reply)
        if not reply.parts:  # never silence: every path above says something
            reply.say(render("not_understood", question=self._open_question(state)))
        return state, reply

    def _switch_language(self, state: ConversationState, asked: str | None, reply: Reply) -> None:
        """Speak the language asked for (or the other one), and ask the open question in it."""
        state.language = asked or ("en" if state.language == "de" else "de")
        state.language_chosen = True
        with speaking(state.language):
            question = self._open_question(state)
            if question is not None:
                ask(reply, question, acknowledgement=render("language_switched"))
            else:
                reply.say(render("language_switched"))
                self._offer_rulesets(reply)

    # -- rule sets and questions ---------------------------------------------------

    def served(self, ruleset_id: str | None) -> ServedRuleSet | None:
        """The rule set ``ruleset_id`` if it is in service."""
        if not ruleset_id:
            return None
        try:
            return self.registry.get(ruleset_id, language=_language())
        except UnknownRuleSetError:
            return None

    def _open_question(self, state: ConversationState) -> Question | None:
        served = self.served(state.ruleset)
        if served is None or not state.question:
            return None
        return served.ruleset.question(state.question)

    @staticmethod
    def _buttons(question: Question | None) -> list[Button]:
        return question_buttons(question) if question is not None else []

    def _offer_rulesets(
        self, reply: Reply, *, template: str = "which_product", **context: Any
    ) -> None:
        rulesets = [s.ruleset for s in self.registry.all(language=_language())]
        context.setdefault("greeting", False)
        context.setdefault("heard", "")
        reply.say(render(template, rulesets=rulesets, **context), ruleset_buttons(rulesets))

    def _choose_ruleset(self, state: ConversationState, turn: Turn) -> ServedRuleSet | None:
        served = {s.ruleset.id: s for s in self.registry.all(language=_language())}
        wanted = turn.entities.get("ruleset")
        if wanted is None and (state.ruleset is None or turn.intent == "request_advice"):
            # Only a request for advice switches an advice under way: "a bit of gravel" is
            # an answer in a road-bike conversation, not a wish to start over with gravel.
            wanted = rule_set_for(
                turn.text, [s.ruleset for s in served.values()], language=_language()
            )
        if wanted is None:
            wanted = state.ruleset
        if wanted is None and len(served) == 1:
            wanted = next(iter(served))
        return served.get(str(wanted)) if wanted is not None else None

    def _doubtful_restart(self, state: ConversationState, turn: Turn) -> bool:
        """Whether a "start over" would throw answers away on a guess of the classifier."""
        return (
            turn.intent == "start_over"
            and bool(state.answers)
            and turn.confidence is not None
            and turn.confidence < RESTART_CONFIDENCE
        )

    def _answers_open_question(self, state: ConversationState, text: str) -> bool:
        """Whether a message the classifier took for a request answers the open question.

        Short answers ("carbon please") can look off-topic, or like a wish for a human, to
        a classifier that never saw the option words a merchandiser added today: when the
        open question understands the message, the question decides. Only short ones: in
        "can someone from the shop call me" the word "shop" may match an option, but the
        sentence is a request, and the classifier is right.
        """
        served = self.served(state.ruleset)
        question = self._open_question(state)
        if served is None or question is None or question.type != "choice":
            return False
        if len(text.split()) > SHORT_ANSWER_WORDS:
            return False
        return question.id in served.parser.parse(text, current=question.id).answers

    def _answers_before_ruleset(self, state: ConversationState, text: str) -> bool:
        """Whether a first message the classifier took for off-topic holds an answer.

        "what do you recommend for a beginner?" names no product, but "beginner" answers
        a question of some rule set: it is kept for later (as :meth:`_before_ruleset`
        does), and the shopper is asked what they are looking for, not told we cannot help.
        """
        if state.ruleset is not None:
            return False
        return any(
            early_answers(served, text) for served in self.registry.all(language=_language())
        )

    # -- greeting, explanations, hand-over -----------------------------------------

    def _greet(self, state: ConversationState, reply: Reply) -> None:
        question = self._open_question(state)
        if question is not None:
            reply.say(render("greet_again", question=question), self._buttons(question))
        else:
            self._offer_rulesets(reply, greeting=True)

    def _explain(self, state: ConversationState, turn: Turn, reply: Reply) -> None:
        served = self.served(state.ruleset)
        question = self._open_question(state)
        candidates = [served] if served is not None else self.registry.all(language=_language())
        for candidate in candidates:
            entry = candidate.parser.find_term(turn.text)
            if entry is not None:
                reply.say(
                    render("explain_term", entry=entry, question=question), self._buttons(question)
                )
                return
        if question is None and state.last is not None and state.last.offers:
            reply.say(render("why_offers", offers=state.last.offers, relaxed=state.last.relaxed))
        elif question is not None:
            reply.say(render("why_question", question=question), self._buttons(question))
        else:
            self._offer_rulesets(reply)

    def _handoff(self, state: ConversationState, turn: Turn, reply: Reply) -> None:
        question = self._open_question(state)
        code = None
        if self.codes is not None:
            try:
                code = self.codes.handoff_code(state, turn.conversation)
            except SQLAlchemyError:
                log.exception(
                    "cannot store a hand-over code for conversation %s", turn.conversation
                )
        minutes = None
        if code is not None and self.codes is not None:
            minutes = max(1, round(self.codes.handoff_ttl.total_seconds() / 60))
        reply.say(
            render("handoff", code=code, minutes=minutes, question=question),
            self._buttons(question),
        )
        if code is not None:
            reply.payloads.append({"type": "handoff", "code": code})

    def _resume(self, state: ConversationState, code: str, reply: Reply) -> None:
        """Go on from a configuration staff shared.

        Only share codes open here: a hand-over code is for staff, opens once and is
        claimed (throttled) in the console, so typing one into a chat opens nothing.
        """
        if not code:
            reply.say(render("code_ask"))
            return
        try:
            if self.codes is None:
                raise CodeError(code, "codes are not available here")
            record = self.codes.get(code, kind="share")
        except ExpiredCodeError:
            self._offer_rulesets(reply, template="code_expired")
            return
        except CodeError:
            self._offer_rulesets(reply, template="code_unknown")
            return
        except SQLAlchemyError:
            log.exception("cannot read shared configuration %s", code)
            reply.say(render("unavailable"))
            return
        shared = record.conversation_state()
        served = self.served(shared.ruleset)
        if served is None:
            self._offer_rulesets(reply, template="code_unknown")
            return
        language, channel = state.language, state.channel
        state.ruleset, state.answers, state.sources = shared.ruleset, shared.answers, shared.sources
        state.locks, state.notes, state.pending = shared.locks, shared.notes, []
        state.language, state.channel = language, channel
        state.question = None
        following = served.engine.next_question(state.answers)
        if following is not None:
            ask(reply, following, acknowledgement=render("resumed"))
            state.question = following.id
            return
        self.present(state, served, reply, acknowledgement=render("resumed"))

    # -- answers -------------------------------------------------------------------

    def _advise(self, state: ConversationState, turn: Turn, reply: Reply) -> None:
        served = self._choose_ruleset(state, turn)
        if served is None:
            self._before_ruleset(state, turn, reply)
            return
        ruleset = served.ruleset
        starting = state.ruleset != ruleset.id
        understood: list[str] = []
        if starting:
            pending = state.pending
            state.ruleset, state.answers, state.sources = ruleset.id, {}, {}
            state.question, state.last, state.locks, state.notes, state.pending = (
                None,
                None,
                {},
                {},
                [],
            )
            # What the shopper said before naming the product counts now ("long rides").
            for text in pending:
                for question_id, value in early_answers(served, text).items():
                    understood += self._take(state, served, question_id, value)
        current = ruleset.question(state.question) if state.question else None
        choice = turn.entities.get("choice")
        if choice is not None and choice.startswith(RELAX_PREFIX):
            for question_id, value in self._relax_choice(state, choice).items():
                understood += self._take(state, served, question_id, value)
        elif choice is not None:
            if current is not None:
                valid, value = button_answer(current, choice)
                if valid:
                    understood += self._take(state, served, current.id, value)
        else:
            result = served.parser.parse(turn.text, current=current.id if current else None)
            answers: Mapping[str, Any] = result.answers
            if starting and current is None:
                # The message that names the product reads like one sent before it: in
                # "a road bike under 2000" the bare amount is the budget.
                answers = early_answers(served, turn.text)
            for question_id, value in answers.items():
                understood += self._take(state, served, question_id, value)
            if current is not None and result.dont_know and current.id not in result.answers:
                understood += self._take(state, served, current.id, current.default)
            for question_id, reason in result.rejected.items():
                question = ruleset.question(question_id)
                if question is not None and reason == "out_of_range":
                    reply.say(
                        render(
                            "out_of_range",
                            question=question,
                            value=result.rejected_values.get(question_id),
                        )
                    )
                    ask(reply, question)
                    state.question = question.id
                    return
            if not understood and turn.intent == "change_answer":
                named = question_named(ruleset, turn.text)
                if named is not None:
                    state.answers.pop(named.id, None)
                    state.sources.pop(named.id, None)
                    ask(reply, named)
                    state.question = named.id
                    return
        if not understood and not starting:
            # Nothing usable in the message: keep every answer and ask again politely.
            reply.say(render("not_understood", question=current), self._buttons(current))
            return
        self._advance(state, served, reply, understood, intro=starting)

    def _before_ruleset(self, state: ConversationState, turn: Turn, reply: Reply) -> None:
        """No rule set yet: keep an answer for later and ask what they are looking for."""
        heard = ""
        if turn.entities.get("choice") is None and any(
            early_answers(served, turn.text) for served in self.registry.all(language=_language())
        ):
            # Said back in the shopper's words: which question it answers depends on the
            # product, and "long rides" is a road bike's "endurance" but a city bike's "tours".
            heard = " ".join(turn.text.split())[:80]
        if heard:
            state.keep_pending(turn.text)
        self._offer_rulesets(reply, greeting=not state.pending, heard=heard)

    @staticmethod
    def _take(
        state: ConversationState, served: ServedRuleSet, question_id: str, value: Any
    ) -> list[str]:
        question = served.ruleset.question(question_id)
        if question is None:
            return []
        state.answers[question_id] = value
        state.sources[question_id] = "staff" if state.channel == "console" else "customer"
        return [describe(question, value)]

    @staticmethod
    def _relax_choice(state: ConversationState, choice: str) -> dict[str, Any]:
        """The answer changes behind a relaxation button, or nothing if it is stale."""
        options = state.last.relax_choices if state.last is not None else []
        index = choice.removeprefix(RELAX_PREFIX)
        if not index.isdigit() or int(index) >= len(options) or options[int(index)] is None:
            return {}
        return dict(options[int(index)] or {})

    def _advance(
        self,
        state: ConversationState,
        served: ServedRuleSet,
        reply: Reply,
        understood: list[str],
        *,
        intro: bool,
    ) -> None:
        following = served.engine.next_question(state.answers)
        acknowledgement = render("acknowledge", understood=understood)
        if following is not None:
            try:
                options = served.engine.available_options(following, state.answers)
            except SQLAlchemyError:
                # Progressive filtering is a nicety: without the catalogue, offer them all.
                log.warning("option check failed for %s; showing every option", following.id)
                options = list(following.options)
            ask(
                reply,
                following,
                options=options,
                intro=served.ruleset.intro if intro else None,
                acknowledgement=acknowledgement,
            )
            state.question = following.id
            return
        state.question = None
        self.present(state, served, reply, acknowledgement=acknowledgement)

    # -- offers --------------------------------------------------------------------

    def recommend(self, state: ConversationState, served: ServedRuleSet) -> Recommendation:
        """The engine's offers for this state, honouring staff locks.

        The expert view (every candidate, the exclusions) is built for staff only: the
        chat never shows it and saves its query.
        """
        return served.engine.recommend(
            state.answers, locks=Locks.from_dict(state.locks), expert=state.channel != "chat"
        )

    def present(
        self,
        state: ConversationState,
        served: ServedRuleSet,
        reply: Reply,
        *,
        acknowledgement: str = "",
    ) -> None:
        """Compute the offers and put them into the reply: text, buttons and payload."""
        try:
            recommendation = self.recommend(state, served)
        except SQLAlchemyError:
            log.exception(
                "catalogue query failed for rule set %s, answers %s",
                served.ruleset.id,
                state.answers,
            )
            reply.say(render("unavailable"))
            return
        reply.recommendation = recommendation
        text = render(
            "offers",
            offers=recommendation.offers,
            relaxed=recommendation.relaxed,
            relaxation=recommendation.relaxation,
            cross_sell=recommendation.cross_sell,
            title=served.ruleset.title,
        )
        if acknowledgement:
            text = f"{acknowledgement}\n{text}"
        # The other ways out become buttons, when changing answers can express them.
        relaxation = recommendation.relaxation
        choices = relaxation["choices"] if relaxation is not None else []
        ways_out = [
            Button(
                render("relax_button", choice=c),
                "inform",
                {"choice": f"{RELAX_PREFIX}{i}"},
            )
            for i, c in enumerate(choices)
            if not c["applied"] and c["answers"] is not None
        ]
        reply.say(text, ways_out)
        reply.payloads.append(dict(recommendation.payload()))
        state.last = LastOffers(
            offers=[
                {"rank": o["rank"], "title": o["title"], "reasons": o["reasons"]}
                for o in recommendation.offers
            ],
            relaxed=list(recommendation.relaxed),
            relax_choices=[c["answers"] for c in choices],
        )


def _language() -> str:
    """The language of the step under way (set by :meth:`Advisor.step`)."""
    from product_rules.text import current_language

    return current_language()


def _asks(text: str) -> bool:
    """Whether ``text`` reads as a question (a question mark, or a question word)."""
    if "?" in text:
        return True
    return any(word.strip(".,!:;") in QUESTION_WORDS for word in text.lower().split())
