"""Lemmas per language and the reading of words a rule set does not know.

German gets its own lemmatizer component: spacy-lookups-data's German table is keyed by
the written case ("Pedalen" → "Pedal") while messages are read lower-cased, and German
builds words the table cannot hold ("Klickpedalen"). So the table is read lower-cased
(:func:`lemmas`), and a German lemma is the table's lemma of the word with hyphens
dropped ("Klick-Pedale"), the feminine "-in" taken off ("Anfängerin"), then lightly
stemmed ("klickpedale" and "klickpedalen" both become "klickpedal") and with umlauts
folded ("Anfaenger" is one edit from "anfanger").

:class:`Vocabulary` then reads, once per message, the words no phrase contains:

* a German compound the dictionary does not know is read by its head when that head is a
  phrase word ("Shimano-Klickpedale" → "klickpedal"); a compound the dictionary knows is
  a word of its own ("Handschuhe" are not shoes);
* a word of six or more letters that is no dictionary word and one edit (insertion,
  deletion, substitution, transposition) from a phrase word of six or more letters is
  read as that word ("beginer", "Klickpedahle"); short words are never read loosely.

Both leave a mark in ``doc.user_data`` so a match through them counts as not exact.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import spacy_lookups_data
from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["GERMAN_LEMMATIZER", "INEXACT", "Vocabulary", "german_lemma", "lemmas"]

GERMAN_LEMMATIZER = "parsing_de_lemmatizer"
INEXACT = "parsing_inexact"
"""``doc.user_data`` key: token index to the characters left before a compound's head."""

MIN_FUZZY = 6
"""Words shorter than this are matched exactly or not at all."""
_MEMO = 20_000  # unknown words remembered per vocabulary before it starts afresh
_MIN_HEAD = 4  # a compound's head read on its own has at least this many letters
_MIN_MODIFIER = 3  # and what comes before it at least this many
_SUFFIXES = ("ern", "en", "er", "es", "em", "e", "n", "s")
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss", "-": None, "‐": None})


@cache
def lemmas(language: str) -> dict[str, str]:
    """spacy-lookups-data's lemma table of ``language``, lower-cased: form to lemma.

    Read once per process. Lower-cased, with the lemmas interned, the German table takes
    about 40 MB instead of the 125 MB of spaCy's own ``Table`` of it; where a form exists
    in two cases ("Weg", "weg"), the lower-case one's lemma is kept.
    """
    path = Path(spacy_lookups_data.__file__).parent / "data" / f"{language}_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as file:
        raw: dict[str, str] = json.load(file)
    table: dict[str, str] = {}
    for form, lemma in raw.items():
        lower = form.lower()
        if form == lower or lower not in table:
            table[lower] = sys.intern(lemma.lower())
    return table


@cache
def _lemma_values(language: str) -> frozenset[str]:
    return frozenset(lemmas(language).values())


def _known(language: str, word: str) -> bool:
    """Whether the dictionary knows ``word`` (lower case) as a form or a lemma."""
    return word in lemmas(language) or word in _lemma_values(language)


@lru_cache(maxsize=20_000)
def german_lemma(word: str) -> str:
    """Lemma of a lower-cased German word, stemmed and folded; see the module docstring."""
    plain = word.replace("-", "").replace("‐", "") or word
    lemma = lemmas("de").get(plain, plain)
    # The feminine form is the masculine one: "Anfängerin(nen)", "Einsteigerin".
    for feminine in ("innen", "in"):
        if lemma.endswith("er" + feminine) and len(lemma) - len(feminine) >= _MIN_HEAD + 2:
            lemma = lemma[: -len(feminine)]
            break
    for suffix in _SUFFIXES:
        if lemma.endswith(suffix) and len(lemma) - len(suffix) >= _MIN_HEAD:
            lemma = lemma[: -len(suffix)]
            break
    return lemma.translate(_FOLD) or lemma


@Language.component(GERMAN_LEMMATIZER)
def _lemmatize_german(doc: Doc) -> Doc:
    for token in doc:
        if token.is_alpha or "-" in token.text:
            token.lemma_ = german_lemma(token.lower_)
        else:
            token.lemma_ = token.lower_
    return doc


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance of ``a`` and ``b`` is at most one."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


class Vocabulary:
    """The words of some phrases, to read a message's unknown words against.

    Args:
        language: The phrases' language.
        words: ``(lower case form, lemma)`` of every word of the phrases.
    """

    def __init__(self, language: str, words: Iterable[tuple[str, str]]) -> None:
        self.language = language
        self._lemmas: set[str] = set()
        self._forms: dict[str, str] = {}
        for form, lemma in words:
            if not lemma.isalpha():
                continue
            self._lemmas.add(lemma)
            self._forms.setdefault(form, lemma)
            self._forms.setdefault(lemma, lemma)
        self._near: dict[str, set[str]] = {}
        for form in self._forms:
            if len(form) >= MIN_FUZZY:
                for key in {form} | _deletes(form):
                    self._near.setdefault(key, set()).add(form)
        self._heads = language == "de"
        # What each unknown (form, lemma) was read as; words recur, reading them does not.
        self._read: dict[tuple[str, str], tuple[str, int] | None] = {}
        _lemma_values(language)  # load the dictionary now, not on the first typo

    def resolve(self, doc: Doc) -> Doc:
        """Read the doc's unknown words as phrase words where the rules above allow."""
        marks: dict[int, int] = {}
        for i, token in enumerate(doc):
            lower = token.lower_
            if not token.is_alpha and "-" not in lower:
                continue
            if token.lemma_ in self._lemmas or lower in self._forms:
                continue
            key = (lower, token.lemma_)
            if key in self._read:
                target = self._read[key]
            else:
                target = self._unknown(lower, token.lemma_)
                if len(self._read) >= _MEMO:
                    self._read.clear()
                self._read[key] = target
            if target is not None:
                token.lemma_, marks[i] = target
        if marks:
            doc.user_data[INEXACT] = marks
        return doc

    def _unknown(self, lower: str, lemma: str) -> tuple[str, int] | None:
        """The phrase word an unknown word is read as, and its compound prefix's length."""
        target = self._head(lower, lemma) if self._heads else None
        if target is not None:
            return target
        fixed = self._typo(lower, lemma)
        return None if fixed is None else (fixed, 0)

    def _head(self, lower: str, lemma: str) -> tuple[str, int] | None:
        hyphenated = "-" in lower
        if not hyphenated and _known(self.language, lower):
            return None
        for k in range(_MIN_MODIFIER, len(lemma) - _MIN_HEAD + 1):
            if lemma[k:] in self._lemmas:
                return lemma[k:], k
        return None

    def _typo(self, lower: str, lemma: str) -> str | None:
        if len(lower) < MIN_FUZZY or _known(self.language, lower):
            return None
        targets: set[str] = set()
        for word in {lower, lemma}:
            for key in {word} | _deletes(word):
                for form in self._near.get(key, ()):
                    if _one_edit(word, form):
                        targets.add(self._forms[form])
        # Two phrase words within one edit: the typo is ambiguous, read neither.
        return targets.pop() if len(targets) == 1 else None
