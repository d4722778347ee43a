"""Rendering of the short texts written in rule files (reasons), with a sandboxed Jinja2.

Merchandisers write reasons like ``Within your budget of {{ answer | money }}``; the
sandbox keeps a rule file from reaching into Python.

Language: product_rules stays pure Python and imports nothing from the advisor, so the
language a text is shown in travels as a context variable (:func:`speaking`): the advisor
sets it around an engine call, and :func:`money`, :func:`render_text` and
:meth:`product_rules.wishes.Wish.describe` read it. An explicit ``language`` argument wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

from babel import Locale
from babel.numbers import format_currency
from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "CLEAT_NAMES",
    "LOCALES",
    "compile_text",
    "current_language",
    "money",
    "render_text",
    "speaking",
    "TemplateError",
]

CLEAT_NAMES = {"flat": "Flat", "spd": "SPD", "spd_sl": "SPD-SL", "look_keo": "Look Keo"}

#: The language texts are shown in now (``en`` or ``de``).
_LANGUAGE: ContextVar[str] = ContextVar("product_rules_language", default="en")


def current_language() -> str:
    """The language set by :func:`speaking` (English by default)."""
    return _LANGUAGE.get()


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Show texts in ``language`` inside the block."""
    token = _LANGUAGE.set((language or "en").split("-")[0].lower())
    try:
        yield
    finally:
        _LANGUAGE.reset(token)


#: The Babel (and Intl) locale of each language: German as in Germany, English as in the UK.
LOCALES = {"en": "en_GB", "de": "de_DE"}


def money(
    value: Any, currency: str = "EUR", language: str | None = None, *, cents: bool | None = None
) -> str:
    """Format an amount the way the language writes prices, with Babel.

    English ``€1,479`` and ``€49.90``, German ``1.479 €`` and ``49,90 €``. ``cents=None``
    drops the cents of a whole amount (a budget reads better as ``€1,500``); ``True`` always
    shows them, as a price list does (``€1,500.00``, ``1.500,00 €``).
    """
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    locale = LOCALES.get(language or current_language(), LOCALES["en"])
    whole = cents is not True and amount == int(amount)
    # Babel's standard pattern of the locale; a whole amount drops its fraction digits.
    pattern = _whole_pattern(locale) if whole else None
    text = format_currency(
        amount, currency, format=pattern, locale=locale, currency_digits=not whole
    )
    # A plain space: the chat and the tests compare text, and a no-break space looks the same.
    return str(text).replace("\xa0", " ").replace("\u202f", " ")


@cache
def _whole_pattern(locale: str) -> str:
    """The locale's currency pattern without fraction digits (``¤#,##0``, ``#,##0 ¤``)."""
    pattern = str(Locale.parse(locale).currency_formats["standard"].pattern)
    return pattern.split(";")[0].replace(".00", "")


def _cleat(value: Any) -> str:
    return CLEAT_NAMES.get(str(value), str(value))


@cache
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["money"] = money
    env.filters["cleat"] = _cleat
    return env


@cache
def compile_text(source: str) -> Template:
    """Compile a rule text once; raises :class:`jinja2.TemplateError` when it is broken."""
    return _environment().from_string(source)


def render_text(source: str, *, language: str | None = None, **context: Any) -> str:
    """Render a rule text; a name the text needs but the context lacks renders the raw text.

    ``language`` (default: the one set by :func:`speaking`) decides how prices are shown.
    """
    try:
        with speaking(language or current_language()):
            return compile_text(source).render(**context).strip()
    except TemplateError:
        # The checker refuses texts that do not compile; a missing value at run time
        # (an optional answer) should not cost the shopper the offer.
        return source
