"""Rule files in several languages: one text per language, one plain rule set per language.

A translatable field (a question's text, an option's label and synonyms, a reason …) is
written either plainly, in English, or as a mapping by language code::

    text: {en: How tall are you?, de: Wie groß bist du?}
    synonyms:
      en: [beginner, new to it]
      de: [anfänger, einsteiger, neu dabei]

:func:`localize` turns the merged document into the document of one language, which the
schema then reads as an ordinary rule set: the engine, the parser and the templates never
see a translation mapping. Word lists (synonyms, cues) of a view hold the language's words
first and then the English ones, because German shoppers write "SPD" and "racing" as
well. :func:`missing_translations` finds every text without a translation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from product_rules.errors import RuleProblem
from product_rules.i18n import lazy_gettext as _

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGE_NAMES",
    "LANGUAGES",
    "TEXT_FIELDS",
    "WORD_FIELDS",
    "localize",
    "missing_translations",
    "translation_problems",
]

LANGUAGES = ("en", "de")
"""The languages a rule set is written in, as ISO 639-1 codes; the first is the default."""

DEFAULT_LANGUAGE = LANGUAGES[0]

LANGUAGE_NAMES = {"en": "English", "de": "German"}

TEXT_FIELDS = frozenset(
    {"title", "intro", "text", "label", "example", "why", "explain", "reason", "message"}
)
"""Keys whose value is a sentence a person reads."""

WORD_FIELDS = frozenset({"synonyms", "cues"})
"""Keys whose value is a list of words a shopper may write."""

# Sections whose keys are attribute names, answers or option ids, never texts: a filter
# on an attribute called "label" is not a label.
_OPAQUE = frozenset(
    {"when", "ask_if", "if_item", "filter", "target", "map", "from", "ranking", "default"}
)

Path_ = tuple[str | int, ...]

_MISSING = {
    "en": _("missing English translation ({language}) of {key} {sample!r}"),
    "de": _("missing German translation ({language}) of {key} {sample!r}"),
}
_MISSING_OTHER = _("missing translation ({language}) of {key} {sample!r}")


def _is_translation(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k in LANGUAGES for k in value)


def _fields(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str, Any]]:
    """Every translatable field under ``node``: its path, its key and its value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _OPAQUE:
                continue
            if key in TEXT_FIELDS and (isinstance(value, str | dict)):
                yield (*path, key), key, value
            elif key in WORD_FIELDS and isinstance(value, list | dict):
                yield (*path, key), key, value
            else:
                yield from _fields(value, (*path, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _fields(item, (*path, i))


def _words(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _pick(key: str, value: Any, language: str) -> Any:
    if not _is_translation(value):
        return value
    if key in WORD_FIELDS:
        # English shoppers do not write German words; German ones write English ones.
        order = [language] if language == DEFAULT_LANGUAGE else [language, DEFAULT_LANGUAGE]
        words = [w for lang in order for w in _words(value.get(lang))]
        return list(dict.fromkeys(words))
    for lang in (language, DEFAULT_LANGUAGE, *LANGUAGES):
        if isinstance(value.get(lang), str):
            return value[lang]
    return next(iter(value.values()))


def localize(document: Any, language: str) -> Any:
    """The merged rule document as written for ``language`` (a deep copy).

    A text lacking ``language`` falls back to English; the checker reports it.
    """
    if isinstance(document, dict):
        out: dict[Any, Any] = {}
        for key, value in document.items():
            if key in _OPAQUE:
                out[key] = value
            elif key in TEXT_FIELDS | WORD_FIELDS and _is_translation(value):
                out[key] = _pick(key, value, language)
            else:
                out[key] = localize(value, language)
        return out
    if isinstance(document, list):
        return [localize(item, language) for item in document]
    return document


def translation_problems(document: Any, locate: Any) -> list[RuleProblem]:
    """Mappings of a translatable field with a key that is no language ("dee:")."""
    problems: list[RuleProblem] = []
    for path, key, value in _fields(document):
        if isinstance(value, dict) and not _is_translation(value):
            unknown = [str(k) for k in value if k not in LANGUAGES]
            problems.append(
                locate(
                    path,
                    _("{key}: unknown language {unknown}; write one of {languages}").format(
                        key=key,
                        unknown=", ".join(map(repr, unknown)) or _("(none)"),
                        languages=", ".join(LANGUAGES),
                    ),
                )
            )
    return problems


def missing_translations(
    document: Any, locate: Any, languages: tuple[str, ...] = LANGUAGES
) -> list[RuleProblem]:
    """One problem per translatable field that lacks a text in one of ``languages``.

    Args:
        document: The merged rule document as read from the files.
        locate: ``SourceMap.problem``: builds a located problem from a path and a message.
        languages: The languages every text must have.
    """
    problems: list[RuleProblem] = []
    for path, key, value in _fields(document):
        if isinstance(value, dict) and not _is_translation(value):
            continue  # translation_problems reports it
        have = set(value) if isinstance(value, dict) else {DEFAULT_LANGUAGE}
        if key in WORD_FIELDS and not isinstance(value, dict) and not value:
            continue  # an empty word list needs no translation
        for language in languages:
            if language not in have:
                shown = value.get(DEFAULT_LANGUAGE, "") if isinstance(value, dict) else value
                if isinstance(shown, list):
                    shown = ", ".join(map(str, shown))
                sample = str(shown)[:40] + ("…" if len(str(shown)) > 40 else "")
                # One msgid per language: "German translation" is declined in German.
                message = _MISSING.get(language, _MISSING_OTHER).format(
                    language=language, key=key, sample=sample
                )
                problems.append(locate(path, message))
    return problems
