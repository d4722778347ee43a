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

Findings of the checks and errors of the rule editor are read by merchandisers long after
they are made (a rule set is loaded once and its problems shown to every staff member in
their own language), so they are *lazy*: :func:`lazy_gettext` gives a :class:`Message`, an
ordinary English ``str`` that remembers its msgid and placeholders and is shown in another
language by :meth:`Message.localized`. Modules import it as ``_`` so that ``pybabel
extract`` (default keywords) finds the msgids::

    from product_rules.i18n import lazy_gettext as _

    _("unknown attribute {name!r}").format(name=attribute)

Numbers are written the language's way with Babel: ``1.5`` and ``182 cm`` in English,
``1,5`` and ``182 cm`` in German.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from babel.units import format_unit

from product_rules.text import LOCALES, current_language

__all__ = [
    "DOMAIN",
    "LOCALES",
    "LOCALE_DIR",
    "N_",
    "Message",
    "decimal",
    "gettext",
    "lazy_gettext",
    "lazy_ngettext",
    "localized",
    "ngettext",
    "quantity",
]

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


class Message(str):
    """An English sentence that can still be shown in another language (a lazy gettext).

    The ``str`` value is the English text, so a message compares, sorts, hashes, prints
    and serializes as it always did; :meth:`localized` looks the msgid up in another
    language's catalogue and fills in the same placeholders. A placeholder that is a
    Message itself (the subject of a finding) is shown in that language too; every other
    value (rule ids, attribute names, values) is technical and stays as written.
    """

    msgid: str
    plural: str | None
    number: int | None  # not ``count``: that is str.count
    params: Mapping[str, Any] | None

    def __new__(
        cls,
        msgid: str,
        plural: str | None = None,
        number: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Message:
        """The message ``msgid`` (``plural`` for a ``number`` other than 1), in English."""
        source = plural if plural is not None and number != 1 else msgid
        if plural is not None:
            params = {"count": number, **(params or {})}  # a plural always shows its count
        self = super().__new__(cls, _fill(source, params, "en"))
        self.msgid, self.plural, self.number, self.params = msgid, plural, number, params
        return self

    def format(self, *args: Any, **params: Any) -> Message:
        """The message with its named placeholders filled (only names: msgids are keys)."""
        if args:
            raise TypeError("a message takes named placeholders only")
        return Message(self.msgid, self.plural, self.number, {**(self.params or {}), **params})

    def localized(self, language: str | None = None) -> str:
        """The message in ``language`` (the current language when None)."""
        language = language or current_language()
        catalogue = translations(language)
        if self.plural is not None:
            text = catalogue.ngettext(self.msgid, self.plural, self.number or 0)
        else:
            text = catalogue.gettext(self.msgid)
        return _fill(text, self.params, language)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (and deep-copied) as what it is, not as the plain English string.
        return (Message, (self.msgid, self.plural, self.number, self.params))


def _fill(text: str, params: Mapping[str, Any] | None, language: str) -> str:
    if params is None:
        return text  # never formatted: a literal brace stays a brace
    shown = {k: v.localized(language) if isinstance(v, Message) else v for k, v in params.items()}
    return text.format_map(_Unfilled(shown))


class _Unfilled(dict[str, Any]):
    """Placeholders not given yet stay as written (a plural knows its count first)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def lazy_gettext(message: str) -> Message:
    """``message`` as a :class:`Message`, shown in the reader's language later."""
    return Message(message)


def lazy_ngettext(singular: str, plural: str, count: int) -> Message:
    """The singular or plural of a lazy message by ``count`` (available as ``{count}``)."""
    return Message(singular, plural, count)


def localized(text: str, language: str | None = None) -> str:
    """``text`` in ``language`` if it is a :class:`Message`, else as it is."""
    return text.localized(language) if isinstance(text, Message) else str(text)


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
