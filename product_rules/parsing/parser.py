"""Turn a shopper's free-text message into answers to the rule set's questions.

The question just asked (``current``) gets priority: a bare number or a plain "yes" or
"no" answers it. Any message may also answer other questions when it is unambiguous
about them: an option phrase that belongs to one question only, a number with a unit
("1.5k", "182 cm"). Phrases made only of stop words ("no", "none", "not much") and phrases
shared by several questions answer only the current question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from spacy.tokens import Doc

from product_rules.parsing.cues import bare_in_range, mentions, scoped_number
from product_rules.parsing.cues import scopes as number_scopes
from product_rules.parsing.languages import language_code, tables
from product_rules.parsing.numbers import (
    has_length_cue,
    has_money_cue,
    parse_length_cm,
    parse_money,
)
from product_rules.parsing.phrases import (
    BREAKS,
    Match,
    PhraseIndex,
    Vocabulary,
    make_doc,
    negated,
)
from product_rules.schema import GlossaryEntry, Option, Question, RuleSet

__all__ = ["AnswerParser", "AnswerValue", "ParseResult", "rule_set_for"]

AnswerValue = str | float | bool


_SEP = ":"  # between question id and option id in a matcher key; ids never contain it


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one message said.

    Attributes:
        answers: Question id to answer: an option id for a choice question, a float for
            a number question (EUR or cm), a bool for a boolean question.
        dont_know: The shopper does not know or wants to skip the current question
            (and did not answer it in the same message).
        rejected: Question id to reason code (``"out_of_range"``) for answers that were
            read but cannot be used.
        rejected_values: Question id to the number read, for rejected number answers.
    """

    answers: dict[str, AnswerValue] = field(default_factory=dict)
    dont_know: bool = False
    rejected: dict[str, str] = field(default_factory=dict)
    rejected_values: dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when the message said nothing the advisor can use."""
        return not (self.answers or self.dont_know or self.rejected)


class _Reader:
    """The matchers of one rule set in one language."""

    def __init__(
        self,
        language: str,
        questions: Sequence[Question],
        glossary: Sequence[GlossaryEntry],
        names: Sequence[str],
    ) -> None:
        words = tables(language)
        self.language = language
        phrases: list[tuple[str, str]] = []
        for question in questions:
            for option in question.options:
                key = f"{question.id}{_SEP}{option.id}"
                phrases.extend((key, p) for p in _option_phrases(option, language))
        self.options = PhraseIndex(phrases, language=language, topic=names)
        # The words each question's options are made of: a bare "no" before one of them
        # ("no shoes") answers, before any other word ("no carbon") it is a determiner.
        self.question_words: dict[str, frozenset[str]] = {}
        for question in questions:
            said: set[str] = set()
            for option in question.options:
                for phrase in _option_phrases(option, language):
                    said.update(w for t in make_doc(phrase, language) for w in (t.lower_, t.lemma_))
            self.question_words[question.id] = frozenset(said)
        self.dont_know = PhraseIndex(
            [("?", p) for p in words.dont_know], loose=False, language=language
        )
        # The product's own names ("racing bike", "endurance bike") name the product,
        # they do not answer a question: their words are kept from the options.
        self.product = PhraseIndex([("product", n) for n in names], loose=False, language=language)
        self.yes_no = PhraseIndex(
            [("yes", p) for p in words.yes] + [("no", p) for p in words.no],
            loose=False,
            language=language,
        )
        self.terms = PhraseIndex(
            (
                (str(i), phrase)
                for i, entry in enumerate(glossary)
                for phrase in (entry.term, *entry.synonyms)
            ),
            language=language,
        )
        indexes = (self.options, self.dont_know, self.product, self.yes_no, self.terms)
        self.vocabulary = Vocabulary(language, (w for index in indexes for w in index.words))

    def doc(self, text: str) -> Doc:
        return self.vocabulary.resolve(make_doc(text, self.language))


class AnswerParser:
    """Reads answers from free text for one rule set; build once, parse often.

    One parser reads every language of :data:`~product_rules.parsing.LANGUAGES`; the
    language is given per call (``parse(text, language="de")``), because a conversation
    keeps its language in its state and may switch it, while the rule set stays. The
    matchers of ``languages`` are built at once, any other language's on its first use
    (German's take about 1 s and 55 MB, mostly its lemma table, once per process).

    Args:
        source: A rule set, or just its questions.
        glossary: Glossary entries for :meth:`find_term`; taken from the rule set when
            ``source`` is one and this is not given.
        languages: The languages to build matchers for now; a server that will read
            German passes ``LANGUAGES`` so its first German message is not slow.

    Raises:
        UnsupportedLanguageError: One of ``languages`` is not one the parser reads.
    """

    def __init__(
        self,
        source: RuleSet | Sequence[Question],
        glossary: Sequence[GlossaryEntry] | None = None,
        *,
        languages: Sequence[str] = ("en",),
    ) -> None:
        names: list[str] = []
        if isinstance(source, RuleSet):
            questions: Sequence[Question] = source.questions
            glossary = source.glossary if glossary is None else glossary
            names = [source.title, source.category.replace("_", " "), *source.synonyms]
        else:
            questions = source
        self._questions = {q.id: q for q in questions}
        self._glossary = list(glossary or ())
        self._names = names
        # Tie-break of last resort: the order options are written in.
        self._rank = {
            f"{q.id}{_SEP}{o.id}": i
            for i, (q, o) in enumerate((q, o) for q in questions for o in q.options)
        }
        self._readers: dict[str, _Reader] = {}
        # A parser built for German rule texts reads German unless told otherwise.
        self.language = language_code(languages[0]) if languages else "en"
        for language in languages:
            self._reader(language)
        units = [q.unit for q in questions if q.type == "number"]
        # A unit cue names a question only if one question has that unit.
        self._unique_units = {u for u in units if units.count(u) == 1}

    def _reader(self, language: str | None) -> _Reader:
        code = language_code(language) if language else self.language
        reader = self._readers.get(code)
        if reader is None:
            reader = _Reader(code, list(self._questions.values()), self._glossary, self._names)
            self._readers[code] = reader
        return reader

    def parse(
        self, text: str, *, current: str | None = None, language: str | None = None
    ) -> ParseResult:
        """Read every answer the message gives.

        Args:
            text: The shopper's message, any length or content; never raises on junk.
            current: Id of the question just asked, if any.
            language: The conversation's language, "en" or "de" (a tag such as "de-DE"
                is read as its language); by default the first language the parser was
                built for.

        Returns:
            The answers, a don't-know flag and answers rejected as out of range.

        Raises:
            UnsupportedLanguageError: ``language`` is not one the parser reads.
        """
        reader = self._reader(language)
        if not isinstance(text, str) or not text.strip():
            return ParseResult()
        doc = reader.doc(text)
        unsure: set[int] = set()
        for match in reader.dont_know.matches(doc):
            unsure.update(range(match.start, match.end))
        blocked = set(unsure)
        for match in reader.product.matches(doc):
            blocked.update(range(match.start, match.end))
        answers: dict[str, AnswerValue] = dict(self._choices(reader, doc, blocked, current))
        asked = self._questions.get(current) if current else None
        if asked is not None and asked.type == "boolean":
            yes_no = _yes_no_answer(reader, doc, blocked)
            if yes_no is not None:
                answers[asked.id] = yes_no
        rejected: dict[str, str] = {}
        rejected_values: dict[str, float] = {}
        # The current question is read first: a number it takes ("84 cm" for the inseam)
        # is not also read as another answer with the same unit (a body height of 84).
        ordered = sorted(self._questions.values(), key=lambda q: q.id != current)
        taken_units: set[str] = set()
        scopes = number_scopes(self._questions.values(), self._unique_units, text, reader.language)
        for question in ordered:
            scope = scopes.get(question.id)
            if question.unit in taken_units and scope is None:
                continue
            if scope is not None:
                value = scoped_number(question, scope, question.id == current)
            else:
                value = self._number(question, text, current, reader.language)
            if value is None:
                continue
            if question.id == current and question.unit is not None:
                taken_units.add(question.unit)
            low = question.min if question.min is not None else float("-inf")
            high = question.max if question.max is not None else float("inf")
            if low <= value <= high:
                answers[question.id] = value
            elif question.id == current or not question.cues:
                rejected[question.id] = "out_of_range"
                rejected_values[question.id] = value
        answered = current in answers if current else bool(answers)
        return ParseResult(answers, bool(unsure) and not answered, rejected, rejected_values)

    def find_term(self, text: str, *, language: str | None = None) -> GlossaryEntry | None:
        """Return the glossary entry the text asks about ("what is SPD?"), if any.

        The longest term found wins ("SPD-SL" over "SPD"), then the first in the text.

        Raises:
            UnsupportedLanguageError: ``language`` is not one the parser reads.
        """
        reader = self._reader(language)
        if not isinstance(text, str) or not self._glossary:
            return None
        matches = reader.terms.matches(reader.doc(text))
        if not matches:
            return None
        best = min(matches, key=lambda m: (-m.size, not m.exact, m.rest, m.start))
        return self._glossary[int(best.key)]

    def _choices(
        self, reader: _Reader, doc: Doc, blocked: set[int], current: str | None
    ) -> dict[str, str]:
        candidates = [
            m
            for m in reader.options.matches(doc)
            if not blocked.intersection(_own(m))
            and not negated(doc, m.start, m.end)
            and not _determiner_no(reader, doc, m)
        ]
        claims: dict[tuple[int, int], set[str]] = {}
        for m in candidates:
            claims.setdefault((m.start, m.end), set()).add(_question(m))
        kept = [
            m
            for m in candidates
            if _question(m) == current or not (m.weak or len(claims[m.start, m.end]) > 1)
        ]
        # Most specific first: longer, exact, the current question, earlier in the text.
        kept.sort(key=lambda m: (*_specificity(m, current), self._rank[m.key]))
        taken: set[int] = set()
        chosen: dict[str, str] = {}
        for m in kept:
            span = range(m.start, m.end)
            # A longer phrase owns its words: "no experience" is not also the "no" of shoes.
            if taken.intersection(span):
                continue
            taken.update(span)
            question_id, option_id = m.key.split(_SEP)
            chosen.setdefault(question_id, option_id)
        return chosen

    def _claims(self, question: Question, text: str, language: str) -> bool:
        """Whether a number with ``question``'s unit in ``text`` belongs to ``question``.

        With one question per unit it always does. With several (body height and
        inseam), a question whose cues appear in the text wins; without such cues the
        first question of that unit without cues takes it.
        """
        if question.unit in self._unique_units:
            return True
        lowered = text.lower()
        same = [
            q for q in self._questions.values() if q.type == "number" and q.unit == question.unit
        ]
        if mentions(question, lowered, language):
            return True
        if any(mentions(q, lowered, language) for q in same):
            return False
        first_plain = next((q for q in same if not q.cues), None)
        return first_plain is not None and first_plain.id == question.id

    def _number(
        self, question: Question, text: str, current: str | None, language: str
    ) -> float | None:
        if question.type != "number":
            return None
        is_current = question.id == current
        if question.unit == "EUR":
            if is_current or (self._claims(question, text, language) and has_money_cue(text)):
                return parse_money(text)
        elif question.unit == "cm":
            claimed = self._claims(question, text, language)
            if is_current or (claimed and has_length_cue(text)):
                value = parse_length_cm(text, bare_ok=is_current)
                if value is None and is_current:
                    # A bare number inside the question's own range (an inseam of 84)
                    # is a length in cm even where a body height would not be.
                    value = bare_in_range(text, question)
                return value
            if claimed and mentions(question, text.lower(), language):
                # The question's own cue marks the number: "Schrittlänge 86", "inseam 84".
                return bare_in_range(text, question)
        return None


def _option_phrases(option: Option, language: str) -> tuple[str, ...]:
    """The phrases that name an option in ``language``.

    Today the rule files hold one label and one synonym list per option, read in every
    language; when they hold them per language, this is where a language picks its own.
    """
    del language
    return (option.id.replace("_", " "), option.label, *option.synonyms)


def _yes_no_answer(reader: _Reader, doc: Doc, blocked: set[int]) -> bool | None:
    matches = [
        m
        for m in reader.yes_no.matches(doc)
        if not blocked.intersection(range(m.start, m.end))
        and not (m.key == "yes" and negated(doc, m.start))
    ]
    if not matches:
        return None
    return min(matches, key=lambda m: (m.start, -m.size)).key == "yes"


def _determiner_no(reader: _Reader, doc: Doc, m: Match) -> bool:
    """Whether a bare "no" option match ("no carbon") negates the next word instead.

    "no" answers a question on its own, or before its own words ("no shoes", "no, I
    don't"); before any other word of its clause it says nothing about the question:
    "no carbon" at the shoes question is not "no shoes", "keine Rennen" not "keine".
    """
    words = tables(doc.lang_)
    if m.end - m.start != 1 or doc[m.start].lower_ not in words.negating_determiners:
        return False
    if m.end >= len(doc) or doc[m.end].text in BREAKS:
        return False
    following = doc[m.end]
    if following.lower_ in words.after_interjection:
        return False
    return not {following.lower_, following.lemma_} & reader.question_words[_question(m)]


def _own(m: Match) -> range | set[int]:
    """The tokens a match owns; a stand-in may be a product name ("new to road bikes")."""
    if m.stand_in is None:
        return range(m.start, m.end)
    return set(range(m.start, m.end)) - set(range(*m.stand_in))


def _specificity(m: Match, current: str | None) -> tuple[int, bool, int, bool, int]:
    # Of two compounds read by their heads, the longer head wins: "Rennradschuhe" is
    # road shoes before it is shoes.
    return (-m.size, not m.exact, m.rest, _question(m) != current, m.start)


def _question(match: Match) -> str:
    return match.key.split(_SEP, 1)[0]


def rule_set_for(text: str, rulesets: Sequence[RuleSet], *, language: str = "en") -> str | None:
    """Return the id of the rule set the text asks for ("I want a road bike"), if any.

    A rule set is named by its synonyms, its category slug (underscores as spaces) or
    its title. The longest phrase found wins, then the first in the text.

    Args:
        text: The shopper's message.
        rulesets: The loaded rule sets.
        language: The message's language, "en" or "de".

    Returns:
        The rule set id, or ``None`` when no rule set is named.

    Raises:
        UnsupportedLanguageError: ``language`` is not one the parser reads.
    """
    code = language_code(language)
    if not isinstance(text, str) or not text.strip() or not rulesets:
        return None
    signature = tuple(
        (r.id, r.title, r.category.replace("_", " "), tuple(r.synonyms)) for r in rulesets
    )
    index, vocabulary = _rule_set_index(signature, code)
    doc = vocabulary.resolve(make_doc(text, code))
    matches = [m for m in index.matches(doc) if not negated(doc, m.start, m.end)]
    if not matches:
        return None
    return min(matches, key=lambda m: (-m.size, not m.exact, m.rest, m.start)).key


@lru_cache(maxsize=8)
def _rule_set_index(
    signature: tuple[tuple[str, str, str, tuple[str, ...]], ...], language: str
) -> tuple[PhraseIndex, Vocabulary]:
    # Rule sets change rarely; building the matcher once per set of rule sets keeps
    # rule_set_for cheap on every message.
    index = PhraseIndex(
        (
            (rid, phrase)
            for rid, title, category, synonyms in signature
            for phrase in (title, category, *synonyms)
        ),
        loose=False,
        language=language,
    )
    return index, Vocabulary(language, index.words)
