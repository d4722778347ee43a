"""Phrase matching shared by the answer parser, glossary look-up and rule-set choice.

One blank pipeline per language with a lookup lemmatizer is built per process (loading
the lemma tables is the expensive part); German uses its own lemmatizer component (see
:mod:`product_rules.parsing.lexicon`). A :class:`PhraseIndex` matches phrases four ways:

* exactly on ``LOWER`` ("SPD-SL" → "spd-sl"),
* exactly on ``LEMMA`` ("long weekend rides" contains the phrase "weekend ride"; German
  "Klickpedalen", "Klick-Pedale" and "klickpedal" all contain "Klickpedale"),
* loosely: every content word of a multi-word phrase within a short window, in any
  order ("racing for years" for "years of racing", "rides at the weekend"),
* with a stand-in: a multi-word phrase with a pronoun ("new to it", "neu dabei") also
  matches with a topic word in the pronoun's place ("new to cycling", "neu beim
  Radfahren"). Topic words are the activity the rule sets are about (a short list per
  language in :mod:`product_rules.parsing.languages`) and the rule set's own names; any
  other word does not stand in ("new to the area" is no beginner).

Unknown words of a message (typos, German compounds) are read against the phrases'
words by :class:`~product_rules.parsing.lexicon.Vocabulary` before matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Token

from product_rules.parsing.languages import LanguageTables, language_code, tables
from product_rules.parsing.lexicon import GERMAN_LEMMATIZER, INEXACT, Vocabulary
from product_rules.parsing.numbers import MAX_CHARS

__all__ = ["Match", "PhraseIndex", "Vocabulary", "clean", "make_doc", "negated", "nlp"]

# Sentence punctuation ends the reach of a negation and of a loose match.
BREAKS = frozenset({",", ".", "!", "?", ";", ":"})
# Anything but letters, digits, spaces and a little punctuation is noise here (emoji,
# HTML, Rasa's "/intent{...}" syntax); "_" too, so "spd_sl" reads like "spd sl".
_NOISE = re.compile(r"[^\w\s'.,!?;:-]+|_+")
_MAX_STAND_IN = 2  # words that may stand in for a pronoun ("new to road cycling")


class Match(NamedTuple):
    """A phrase found in a doc: the key it was added under and the tokens it covers."""

    key: str
    start: int
    end: int
    size: int
    """Tokens of the phrase that matched; longer phrases are more specific."""
    exact: bool
    """False for a loose (reordered) match."""
    weak: bool
    """Made only of stop words ("no", "none", "a lot"): too vague without context."""
    rest: int = 0
    """Letters of compounds left before the matched head ("shimano" of "Shimano-Klickpedale")."""
    stand_in: tuple[int, int] | None = None
    """Tokens standing in for the phrase's pronoun ("cycling" of "new to cycling")."""


@cache
def nlp(language: str = "en") -> Language:
    """Return the shared blank pipeline of ``language`` with a lookup lemmatizer."""
    code = language_code(language)
    pipeline = spacy.blank(code)
    if code == "de":
        pipeline.add_pipe(GERMAN_LEMMATIZER)
    else:
        pipeline.add_pipe("lemmatizer", config={"mode": "lookup"})
    pipeline.initialize()
    return pipeline


def clean(text: str) -> str:
    """Lower-case text and blank out noise, keeping word boundaries."""
    return _NOISE.sub(" ", text[:MAX_CHARS].lower().replace("’", "'"))


def make_doc(text: str, language: str = "en") -> Doc:
    """Clean, tokenize and lemmatize a message."""
    return nlp(language)(clean(text))


def negated(doc: Doc, start: int, end: int | None = None) -> bool:
    """Tell whether the phrase at ``doc[start:end]`` is negated in its clause.

    Before the phrase: a negation earlier in the same clause ("I wouldn't say I'm
    experienced", "not a racer", "nicht so erfahren"; a bare "no" only two tokens back),
    or an exception ("anything but racing", "alles außer Rennen"). After it (when
    ``end`` is given): a refusal that ends the clause ("carbon? no way", "Carbon? Nein
    danke"), or in German a negation closing the clause ("Carbon brauche ich nicht").
    Doubt ("not sure, maybe racing", "keine Ahnung") negates nothing. The doc's language
    picks the word tables.
    """
    words = tables(doc.lang_)
    for k in range(start - 1, -1, -1):
        token = doc[k]
        word = token.lower_
        if token.text in BREAKS:
            break
        if word in words.excepts:
            return k > 0 and doc[k - 1].lower_ in words.excepting
        if word in words.scope_ends:
            break
        if word in words.negations or token.lemma_ == "not":
            if k + 1 < len(doc) and doc[k + 1].lower_ in words.doubt:
                continue
            if k > 0 and doc[k - 1].lower_ in words.doubt_before:
                continue
            if (
                word not in words.short_negations
                or k >= start - 2
                or not _interjection(doc, k, words)
            ):
                return True
    return end is not None and _refused_after(doc, end, words)


def _interjection(doc: Doc, k: int, words: LanguageTables) -> bool:
    """Whether the "no" at ``k`` answers something on its own ("no I want racing")."""
    return k + 1 >= len(doc) or doc[k + 1].lower_ in words.after_interjection


def _refused_after(doc: Doc, end: int, words: LanguageTables) -> bool:
    """A refusal right after a phrase, up to the end of its clause: "racing? no way"."""
    if words.final_negations and _closing_negation(doc, end, words):
        return True
    k = end
    while k < len(doc) and doc[k].text in BREAKS | {"-"}:
        k += 1
    if k == end:
        # "carbon is not for me"; but "racing no" is too loose ("racing? no" is not).
        if k >= len(doc) or doc[k].lower_ not in words.copula:
            return False
        k += 1
    said: list[str] = []
    while k < len(doc) and doc[k].text not in BREAKS:
        said.append(doc[k].lower_)
        k += 1
    return tuple(said) in words.refusals


def _closing_negation(doc: Doc, end: int, words: LanguageTables) -> bool:
    """German puts "nicht" last: "Carbon brauche ich nicht", "Rennen nicht, aber Touren"."""
    k = end
    while k < len(doc) and doc[k].text not in BREAKS and doc[k].lower_ not in words.scope_ends:
        k += 1
    if k == end or doc[k - 1].lower_ not in words.final_negations:
        return False
    return k - end < 2 or doc[k - 2].lower_ not in words.doubt | words.doubt_before


class _Loose(NamedTuple):
    content: frozenset[str]
    key: str
    weak: bool


class _StandIn(NamedTuple):
    key: str
    before: tuple[str, ...]
    prepositions: tuple[str, ...]
    after: tuple[str, ...]
    size: int
    weak: bool


class PhraseIndex:
    """Phrases grouped under keys, matched on lower case, lemma, loosely and with stand-ins.

    Args:
        phrases: ``(key, phrase)`` pairs; a key may have many phrases, a phrase many keys.
        loose: Also match multi-word phrases whose content words appear reordered, and
            phrases with a pronoun whose place a topic word takes.
        language: The language of the phrases and of the docs they are matched in.
        topic: More words that may stand in for a pronoun (the rule set's names).
    """

    def __init__(
        self,
        phrases: Iterable[tuple[str, str]],
        *,
        loose: bool = True,
        language: str = "en",
        topic: Iterable[str] = (),
    ) -> None:
        self.language = language_code(language)
        pipeline = nlp(self.language)
        words = tables(self.language)
        stop_words = pipeline.Defaults.stop_words
        self._strings = pipeline.vocab.strings
        self._lower = PhraseMatcher(pipeline.vocab, attr="LOWER")
        self._lemma = PhraseMatcher(pipeline.vocab, attr="LEMMA")
        self._loose: list[_Loose] = []
        self._stand_ins: list[_StandIn] = []
        self._words: set[tuple[str, str]] = set()
        self._determiners = words.determiners
        topic_docs = pipeline.pipe(sorted({*words.topic, *(clean(t) for t in topic)}))
        self._topic = frozenset(t.lemma_ for d in topic_docs for t in d if not t.is_stop)
        grouped: dict[str, set[str]] = {}
        for key, phrase in phrases:
            text = " ".join(clean(phrase).split())
            if text:
                grouped.setdefault(key, set()).add(text)
        for key, texts in grouped.items():
            docs = list(pipeline.pipe(sorted(texts)))
            self._lower.add(key, docs)
            self._lemma.add(key, docs)
            self._words.update((t.lower_, t.lemma_) for d in docs for t in d)
            if not loose:
                continue
            for doc in docs:
                content = frozenset(
                    t.lemma_ for t in doc if t.lemma_ not in words.fillers and not t.is_punct
                )
                weak = content <= stop_words
                if len(content) >= 2:
                    self._loose.append(_Loose(content, key, weak))
                stand_in = _stand_in(doc, key, words, weak)
                if stand_in is not None:
                    self._stand_ins.append(stand_in)

    @property
    def words(self) -> set[tuple[str, str]]:
        """``(lower case form, lemma)`` of every word of the phrases."""
        return set(self._words)

    def matches(self, doc: Doc) -> list[Match]:
        """Return every match in ``doc``, exact, loose and with stand-ins, unfiltered."""
        marks: dict[int, int] = doc.user_data.get(INEXACT, {})
        found: dict[tuple[str, int, int], Match] = {}
        for match_id, start, end in self._lower(doc):
            key = self._strings[match_id]
            found[key, start, end] = _exact(doc, key, start, end, marks)
        for match_id, start, end in self._lemma(doc):
            key = self._strings[match_id]
            if (key, start, end) in found:
                continue
            # A lemma-only match of one English word must not be a verb form of a noun
            # synonym: "looking for a bike" is not the "look" of Look Keo, "working" not
            # "work". A typo read as a phrase word is exempt ("comuting").
            if (
                self.language == "en"
                and end - start == 1
                and start not in marks
                and doc[start].lower_.endswith(("ing", "ed"))
            ):
                continue
            found[key, start, end] = _exact(doc, key, start, end, marks)
        for m in self._loose_matches(doc):
            found.setdefault((m.key, m.start, m.end), m)
        for m in self._stand_in_matches(doc):
            found.setdefault((m.key, m.start, m.end), m)
        return list(found.values())

    def _loose_matches(self, doc: Doc) -> Iterable[Match]:
        positions: dict[str, list[int]] = {}
        for i, token in enumerate(doc):
            positions.setdefault(token.lemma_, []).append(i)
            if token.lower_ != token.lemma_:
                positions.setdefault(token.lower_, []).append(i)
        for loose in self._loose:
            if not loose.content <= positions.keys():
                continue
            window = _smallest_window({w: positions[w] for w in loose.content})
            if window is None:
                continue
            start, end = window
            if end - start > 2 * len(loose.content) + 1:
                continue
            if any(doc[i].text in BREAKS for i in range(start, end)):
                continue
            yield Match(loose.key, start, end, len(loose.content), False, loose.weak)

    def _stand_in_matches(self, doc: Doc) -> Iterable[Match]:
        for s in self._stand_ins:
            for i in range(len(doc) - len(s.before) + 1):
                if not _same(doc, i, s.before):
                    continue
                j = i + len(s.before)
                first = j
                if s.prepositions:
                    if j >= len(doc) or doc[j].lower_ not in s.prepositions:
                        continue
                    j += 1
                if j < len(doc) and doc[j].lower_ in self._determiners:
                    j += 1
                t = j
                while t < len(doc) and t - j < _MAX_STAND_IN and self._is_topic(doc[t]):
                    t += 1
                if t == j or not _same(doc, t, s.after):
                    continue
                end = t + len(s.after)
                yield Match(s.key, i, end, s.size, False, s.weak, stand_in=(first, t))

    def _is_topic(self, token: Token) -> bool:
        lemma = token.lemma_
        if lemma in self._topic:
            return True
        # A German compound with a topic word as its head: "Rennradfahren", "Straßenradsport".
        return self.language == "de" and any(
            len(w) >= 3 and len(lemma) > len(w) and lemma.endswith(w) for w in self._topic
        )


def _stand_in(doc: Doc, key: str, words: LanguageTables, weak: bool) -> _StandIn | None:
    """The stand-in pattern of a phrase with one pronoun and another content word."""
    spots = [i for i, t in enumerate(doc) if t.lower_ in words.pronouns]
    if len(spots) != 1 or len(doc) < 2:
        return None
    i = spots[0]
    others = [t for k, t in enumerate(doc) if k != i and t.lemma_ not in words.fillers]
    if not others:
        return None
    before = tuple(t.lemma_ for t in doc[:i])
    after = tuple(t.lemma_ for t in doc[i + 1 :])
    return _StandIn(key, before, words.pronouns[doc[i].lower_], after, len(doc), weak)


def _same(doc: Doc, start: int, lemmas: tuple[str, ...]) -> bool:
    if start + len(lemmas) > len(doc):
        return False
    return all(doc[start + k].lemma_ == lemma for k, lemma in enumerate(lemmas))


def _exact(doc: Doc, key: str, start: int, end: int, marks: dict[int, int]) -> Match:
    weak = all(t.is_stop or t.is_punct for t in doc[start:end])
    inexact = [marks[i] for i in range(start, end) if i in marks]
    return Match(key, start, end, end - start, not inexact, weak, rest=sum(inexact))


def _smallest_window(positions: dict[str, list[int]]) -> tuple[int, int] | None:
    """Smallest token range ``[start, end)`` holding each word at least once."""
    events = sorted((p, w) for w, ps in positions.items() for p in ps)
    need = len(positions)
    counts: dict[str, int] = {}
    best: tuple[int, int] | None = None
    left = 0
    for pos, word in events:
        counts[word] = counts.get(word, 0) + 1
        while len(counts) == need:
            left_pos, left_word = events[left]
            if best is None or pos + 1 - left_pos < best[1] - best[0]:
                best = (left_pos, pos + 1)
            counts[left_word] -= 1
            if not counts[left_word]:
                del counts[left_word]
            left += 1
    return best
