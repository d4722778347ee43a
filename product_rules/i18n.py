"""The product rules' own words per language: a gettext domain and Babel's number formats.

The rule files carry the merchandiser's texts in both languages; the few sentences the
engine makes itself (a loosened wish, an offer's title, the expert trace) are gettext
messages of the domain ``product_rules`` in ``product_rules/locale`` (product_rules must
not import the advisor, so it has a catalogue of its own). They are looked up in the
language of the step under way (:func:`product_rules.text.current_language`)::

    pybabel extract -F product_rules/babel.cfg -o product_rules/locale/product_rules.pot \
        product_rules
    pybabel update -D product_rules -i product_rules/locale/product_rules.pot \
        -d product_rules/locale
    pybabel compile -D product_rules -d product_rules/locale

Numbers are written the language's way with Babel: ``1.5`` and ``182 cm`` in English,
``1,5`` and ``182 cm`` in German.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from babel.units import format_unit

from product_rules.text import LOCALES, current_language

__all__ = ["DOMAIN", "LOCALES", "LOCALE_DIR", "N_", "decimal", "gettext", "ngettext", "quantity"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "product_rules"
#: Vocabulary units Babel knows by their CLDR name; others are written after the number.
_CLDR_UNITS = {
    "cm": "length-centimeter",
    "mm": "length-millimeter",
    "m": "length-meter",
    "kg": "mass-kilogram",
}


def N_(message: str) -> str:  # noqa: N802 (gettext's name for a marker)
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of ``language``; English is the source language."""
    if language not in LOCALES or language == "en":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], domain=DOMAIN)


def gettext(message: str) -> str:
    """``message`` in the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural of a message in the current language, by ``count``."""
    return translations(current_language()).ngettext(singular, plural, count)


def _locale() -> str:
    return LOCALES.get(current_language(), LOCALES["en"])


def decimal(value: float, *, digits: int = 1) -> str:
    """A number with at most ``digits`` decimals, ungrouped: ``1.5`` / ``1,5``, ``2000``."""
    return str(format_decimal(value, format=_pattern(digits), locale=_locale()))


def quantity(value: float, unit: str | None, *, digits: int = 1) -> str:
    """A number with its unit, the language's way: ``8.5 kg`` / ``8,5 kg``, ``500 Wh``."""
    cldr = _CLDR_UNITS.get(unit or "")
    if cldr is None:
        shown = decimal(value, digits=digits)
        return f"{shown} {unit}" if unit else shown
    text = format_unit(value, cldr, length="short", format=_pattern(digits), locale=_locale())
    return str(text).replace("\xa0", " ").replace("\u202f", " ")


def _pattern(digits: int) -> str:
    return "0." + "#" * digits if digits > 0 else "0"
