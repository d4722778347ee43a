"""The advisor's words: Jinja2 templates in ``advisor/templates/<area>/``, in two languages.

Every sentence a person reads comes from a template; the code only chooses which one
and with what. Chat text is plain text (the widget shows it with ``textContent``).
Templates mark their sentences with ``{% trans %}`` (``jinja2.ext.i18n``); the German
wording lives in the gettext catalogue ``advisor/locale/de/LC_MESSAGES/messages.po``
(see ``advisor/locale/README.md``). Prices are formatted in the render's language.
"""

from __future__ import annotations

from functools import cache, partial
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from product_rules.text import current_language, money, speaking

__all__ = [
    "LANGUAGES",
    "LOCALE_DIR",
    "TEMPLATES",
    "gettext",
    "language_of",
    "render",
    "with_article",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "de")


def language_of(value: str | None) -> str:
    """``"de-DE"`` -> ``"de"``; English for anything not ours."""
    code = (value or "en").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else "en"


@cache
def translations(language: str) -> NullTranslations:
    """The gettext catalogue of ``language`` (English is the source language)."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


def gettext(message: str, **variables: Any) -> str:
    """``message`` from the advisor's catalogue in the current language, ``%(name)s`` filled.

    For the few sentences the advisor's Python makes itself (the console's refusals);
    everything longer is a template.
    """
    text = translations(language_of(current_language())).gettext(message)
    return text % variables if variables else text


@cache
def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    env.filters["money"] = partial(_money, language=language)
    env.filters["with_article"] = with_article if language == "en" else (lambda noun: noun)
    return env


def _money(value: Any, currency: str = "EUR", *, language: str) -> str:
    return money(value, currency, language=language)


def with_article(noun: str) -> str:
    """Put 'a' or 'an' before a noun, by its first letter (English only; right for our titles)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def render(name: str, language: str | None = None, **context: Any) -> str:
    """Render ``templates/chat/<name>.j2`` (or ``<area>/<name>``) in ``language``.

    Without ``language``, the language of the step under way (the advisor's
    :func:`product_rules.text.speaking` block; English outside one).
    """
    path = name if "/" in name else f"chat/{name}"
    code = language_of(language or current_language())
    with speaking(code):
        return _environment(code).get_template(f"{path}.j2").render(**context).strip()
