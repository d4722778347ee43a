"""Phrase matching shared by the answer parser, glossary look-up and rule-set choice.

One blank English pipeline with a lookup lemmatizer is built per process (loading the
lemma tables is the expensive part). A :class:`PhraseIndex` matches phrases three ways:

* exactly on ``LOWER`` ("SPD-SL" → "spd-sl"),
* exactly on ``LEMMA`` ("long weekend rides" contains the phrase "weekend ride"),
* loosely: every content word of a multi-word phrase within a short window, in any
  order ("racing for years" for "years of racing", "rides at the weekend").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from product_rules.parsing.numbers import MAX_CHARS

__all__ = ["Match", "PhraseIndex", "clean", "make_doc", "negated", "nlp"]

# Sentence punctuation ends the reach of a negation and of a loose match.
BREAKS = frozenset({",", ".", "!", "?", ";", ":"})
# Words that negate what follows them in the same clause ("I wouldn't say I'm experienced",
# "no interest in racing"). Apostrophe-less spellings are how people type on phones.
_NEGATIONS = frozenset(
    "not n't never without nothing neither nor no none "
    "dont doesnt didnt isnt arent wasnt wont wouldnt cant couldnt havent hardly".split()
)
# "no" answering the previous question ("no, I want racing", "no I want racing") negates
# only the two tokens after it; "no" before a noun ("no interest in racing") and the other
# negations reach to the end of the clause.
_SHORT_NEGATIONS = frozenset({"no", "none"})
_AFTER_INTERJECTION = frozenset("i i'm im we you it that this thanks thank please".split())
_COPULA = frozenset({"is", "'s", "are", "be"})
# Words that end a negation's clause: "not racing but long rides", "not racing, just fun".
_SCOPE_ENDS = frozenset("but just only rather instead more though although however".split())
# "not sure", "don't know", "no idea": doubt about the question, not a refusal of an option.
_DOUBT = frozenset("sure certain know idea clue".split())
# "anything but racing", "everything except carbon".
_EXCEPTING = frozenset({"anything", "everything", "whatever"})
_EXCEPT = frozenset({"but", "except", "besides"})
# Refusals after the option: "carbon? no way", "racing - no thanks", "spd: nope".
_REFUSALS = frozenset(
    tuple(phrase.split())
    for phrase in (
        "no",
        "nope",
        "nah",
        "never",
        "no way",
        "no thanks",
        "no thank you",
        "no chance",
        "not for me",
        "n't for me",
        "out",
        "a no",
        "not really",
        "definitely not",
        "absolutely not",
        "god no",
        "hell no",
    )
)
# Words a loose match may drop or reorder; they carry no meaning of their own.
_FILLERS = frozenset("a an the of for to and or at in on with my i me it be -".split())
# Anything but letters, digits, spaces and a little punctuation is noise here (emoji,
# HTML, Rasa's "/intent{...}" syntax); "_" too, so "spd_sl" reads like "spd sl".
_NOISE = re.compile(r"[^\w\s'.,!?;:-]+|_+")


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


@cache
def nlp() -> Language:
    """Return the shared blank English pipeline with a lookup lemmatizer."""
    pipeline = spacy.blank("en")
    pipeline.add_pipe("lemmatizer", config={"mode": "lookup"})
    pipeline.initialize()
    return pipeline


def clean(text: str) -> str:
    """Lower-case text and blank out noise, keeping word boundaries."""
    return _NOISE.sub(" ", text[:MAX_CHARS].lower().replace("’", "'"))


def make_doc(text: str) -> Doc:
    """Clean, tokenize and lemmatize a message."""
    return nlp()(clean(text))


def negated(doc: Doc, start: int, end: int | None = None) -> bool:
    """Tell whether the phrase at ``doc[start:end]`` is negated in its clause.

    Before the phrase: a negation earlier in the same clause ("I wouldn't say I'm
    experienced", "not a racer"; a bare "no" only two tokens back), or an exception
    ("anything but racing"). After it (when ``end`` is given): a refusal that ends the
    clause ("carbon? no way"). Doubt ("not sure, maybe racing") negates nothing.
    """
    for k in range(start - 1, -1, -1):
        token = doc[k]
        word = token.lower_
        if token.text in BREAKS:
            break
        if word in _EXCEPT:
            return k > 0 and doc[k - 1].lower_ in _EXCEPTING
        if word in _SCOPE_ENDS:
            break
        if word in _NEGATIONS or token.lemma_ == "not":
            if k + 1 < len(doc) and doc[k + 1].lower_ in _DOUBT:
                continue
            if word not in _SHORT_NEGATIONS or k >= start - 2 or not _interjection(doc, k):
                return True
    return end is not None and _refused_after(doc, end)


def _interjection(doc: Doc, k: int) -> bool:
    """Whether the "no" at ``k`` answers something on its own ("no I want racing")."""
    return k + 1 >= len(doc) or doc[k + 1].lower_ in _AFTER_INTERJECTION


def _refused_after(doc: Doc, end: int) -> bool:
    """A refusal right after a phrase, up to the end of its clause: "racing? no way"."""
    k = end
    while k < len(doc) and doc[k].text in BREAKS | {"-"}:
        k += 1
    if k == end:
        # "carbon is not for me"; but "racing no" is too loose ("racing? no" is not).
        if k >= len(doc) or doc[k].lower_ not in _COPULA:
            return False
        k += 1
    words: list[str] = []
    while k < len(doc) and doc[k].text not in BREAKS:
        words.append(doc[k].lower_)
        k += 1
    return tuple(words) in _REFUSALS


class _Loose(NamedTuple):
    content: frozenset[str]
    key: str
    weak: bool


class PhraseIndex:
    """Phrases grouped under keys, matched on lower case, lemma and loosely.

    Args:
        phrases: ``(key, phrase)`` pairs; a key may have many phrases, a phrase many keys.
        loose: Also match multi-word phrases whose content words appear reordered.
    """

    def __init__(self, phrases: Iterable[tuple[str, str]], *, loose: bool = True) -> None:
        pipeline = nlp()
        self._strings = pipeline.vocab.strings
        self._lower = PhraseMatcher(pipeline.vocab, attr="LOWER")
        self._lemma = PhraseMatcher(pipeline.vocab, attr="LEMMA")
        self._loose: list[_Loose] = []
        grouped: dict[str, set[str]] = {}
        for key, phrase in phrases:
            text = " ".join(clean(phrase).split())
            if text:
                grouped.setdefault(key, set()).add(text)
        for key, texts in grouped.items():
            docs = list(pipeline.pipe(sorted(texts)))
            self._lower.add(key, docs)
            self._lemma.add(key, docs)
            if not loose:
                continue
            for doc in docs:
                content = frozenset(
                    t.lemma_ for t in doc if t.lemma_ not in _FILLERS and not t.is_punct
                )
                if len(content) >= 2:
                    self._loose.append(_Loose(content, key, content <= STOP_WORDS))

    def matches(self, doc: Doc) -> list[Match]:
        """Return every match in ``doc``, exact and loose, unfiltered."""
        found: dict[tuple[str, int, int], Match] = {}
        for match_id, start, end in self._lower(doc):
            key = self._strings[match_id]
            found[key, start, end] = _exact(doc, key, start, end)
        for match_id, start, end in self._lemma(doc):
            key = self._strings[match_id]
            if (key, start, end) in found:
                continue
            # A lemma-only match of one word must not be a verb form of a noun synonym:
            # "looking for a bike" is not the "look" of Look Keo, "working" not "work".
            if end - start == 1 and doc[start].lower_.endswith(("ing", "ed")):
                continue
            found[key, start, end] = _exact(doc, key, start, end)
        for m in self._loose_matches(doc):
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


def _exact(doc: Doc, key: str, start: int, end: int) -> Match:
    weak = all(t.is_stop or t.is_punct for t in doc[start:end])
    return Match(key, start, end, end - start, True, weak)


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
