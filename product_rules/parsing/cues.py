"""Number questions and their cues: which part of a message a number question reads.

A question's cues ("inseam", "inside leg") name it in a message; :data:`LanguageTables.cues
<product_rules.parsing.languages.LanguageTables>` gives their words in other languages
("Schrittlänge"). Where questions share a unit (body height and inseam, both cm), a cue
claims its clause for its question and the rest of the message goes to the question of
that unit without cues, so "1,82 m, Schrittlänge 86" answers both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from functools import lru_cache

from product_rules.parsing.languages import tables
from product_rules.parsing.numbers import MAX_CHARS, parse_length_cm
from product_rules.schema import Question

__all__ = ["bare_in_range", "cues", "mentions", "scoped_number", "scopes"]


def cues(question: Question, language: str) -> tuple[str, ...]:
    """The question's cues and their words in ``language`` (see ``LanguageTables.cues``)."""
    return _cue_words(tuple(question.cues), language)


def mentions(question: Question, lowered: str, language: str) -> bool:
    """Whether the lower-cased text names the question by one of its cues."""
    return _cue_pattern(tuple(question.cues), language).search(lowered) is not None


@lru_cache(maxsize=256)
def _cue_words(own: tuple[str, ...], language: str) -> tuple[str, ...]:
    translated = tables(language).cues
    words = (*own, *(word for cue in own for word in translated.get(cue.lower(), ())))
    return tuple(dict.fromkeys(w.lower() for w in words))


@lru_cache(maxsize=256)
def _cue_pattern(own: tuple[str, ...], language: str) -> re.Pattern[str]:
    words = sorted(_cue_words(own, language), key=len, reverse=True)
    # A question without cues matches nothing: "(?!)" never matches.
    return re.compile("|".join(map(re.escape, words)) or "(?!)")


def scopes(
    questions: Iterable[Question], unique_units: Set[str | None], text: str, language: str
) -> dict[str, str]:
    """The part of the text each number question reads, where cues divide it.

    Where several questions share a unit (body height and inseam, both cm) and the
    text names one by its cue ("1,82 m, Schrittlänge 86"), the clause of the cue
    belongs to that question and the rest of the text to the first question of that
    unit without cues. Questions of units no cue divides are not in the result.
    """
    lowered = text[:MAX_CHARS].lower()
    found: dict[str, str] = {}
    numbers = [q for q in questions if q.type == "number" and q.unit]
    for unit in {q.unit for q in numbers} - unique_units:
        same = [q for q in numbers if q.unit == unit]
        spans = {q.id: _cue_spans(lowered, q, language) for q in same if q.cues}
        if not any(spans.values()):
            continue
        rest = lowered
        for start, end in sorted((sp for v in spans.values() for sp in v), reverse=True):
            rest = rest[:start] + " ; " + rest[end:]
        plain = next((q for q in same if not q.cues), None)
        for question in same:
            parts = [lowered[a:b] for a, b in spans.get(question.id, [])]
            found[question.id] = " ; ".join(parts)
            if plain is not None and question.id == plain.id:
                found[question.id] = rest
    return found


# Clause breaks: punctuation (not the comma or point inside "1,82") and joining words.
_CLAUSE = re.compile(r",(?!\d)|;|!|\?|\.(?!\d)|\s(?:und|and|sowie|but|aber)\s")


def _cue_spans(lowered: str, question: Question, language: str) -> list[tuple[int, int]]:
    """The character spans that belong to a question's cues, overlaps merged.

    A cue's span runs from it to the end of its clause when a number follows it there
    ("Schrittlänge von 86 cm"), else over its clause up to the cue ("86 cm Schrittlänge").
    """
    spans: set[tuple[int, int]] = set()
    found = list(_cue_pattern(tuple(question.cues), language).finditer(lowered))
    if not found:
        return []
    breaks = [(m.start(), m.end()) for m in _CLAUSE.finditer(lowered)]
    for match in found:
        start, end = match.span()
        clause_start = max((b for a, b in breaks if b <= start), default=0)
        clause_end = min((a for a, b in breaks if a >= end), default=len(lowered))
        if re.search(r"\d", lowered[end:clause_end]):
            spans.add((start, clause_end))
        else:
            spans.add((clause_start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def scoped_number(question: Question, scope: str, is_current: bool) -> float | None:
    """A cm number in a question's part of the text (see ``scopes``)."""
    if question.type != "number" or not scope.strip():
        return None
    cued = bool(question.cues)
    value = parse_length_cm(scope, bare_ok=cued or is_current)
    if value is None and (cued or is_current):
        value = bare_in_range(scope, question)
    return value


def bare_in_range(text: str, question: Question) -> float | None:
    """The text's one unit-less number, if it lies in the question's own range."""
    numbers = re.findall(r"(?<![\d.,])\d{2,3}(?:[.,]\d)?(?![\d.,])", text[:200])
    if len(numbers) != 1 or question.min is None or question.max is None:
        return None
    value = float(numbers[0].replace(",", "."))
    return value if question.min <= value <= question.max else None
