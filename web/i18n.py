"""The web app's languages: choosing one per request, its gettext catalogue, its prices.

The shop pages are ``/de/`` and ``/en/``; ``/`` sends a browser to the one its
``Accept-Language`` prefers (German when it names neither: the shops are German). Staff
pages follow ``?lang=de|en`` (kept in a ``lang`` cookie), then ``Accept-Language``, then
English.

Page texts are Jinja2 ``{{ _("…") }}`` / ``{% trans %}`` (``jinja2.ext.i18n``) looked up in
``web/locale/<lang>/LC_MESSAGES/messages.mo``; extraction and compilation::

    pybabel extract -F web/babel.cfg -o web/locale/messages.pot web
    pybabel update -i web/locale/messages.pot -d web/locale
    pybabel compile -d web/locale

The chat widget's own words (:data:`WIDGET_STRINGS`) go to the page as a JSON blob and
are served by ``GET /api/chat/strings?lang=…``.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.requests import HTTPConnection

from product_rules.text import LOCALES
from product_rules.text import money as text_money

__all__ = [
    "DEFAULT_SHOP_LANGUAGE",
    "DEFAULT_STAFF_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "LOCALES",
    "money",
    "negotiate",
    "normalize",
    "staff_language",
    "translations",
    "widget_strings",
]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("de", "en")
DEFAULT_SHOP_LANGUAGE = "de"
DEFAULT_STAFF_LANGUAGE = "en"
LANG_COOKIE = "lang"


def normalize(value: str | None) -> str | None:
    """``"de-AT"`` → ``"de"``; ``None`` for anything that is not one of ours."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def negotiate(accept_language: str | None, default: str = DEFAULT_SHOP_LANGUAGE) -> str:
    """The language of ours an ``Accept-Language`` header prefers (q-values respected)."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        language = normalize(tag)
        if language is None:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, raw = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(raw)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        candidate = (-quality, position, language)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else default


def staff_language(connection: HTTPConnection) -> str:
    """A staff page's language: ``?lang=``, the ``lang`` cookie, Accept-Language, English."""
    return (
        normalize(connection.query_params.get("lang"))
        or normalize(connection.cookies.get(LANG_COOKIE))
        or negotiate(connection.headers.get("accept-language"), default=DEFAULT_STAFF_LANGUAGE)
    )


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The web catalogue of ``language`` (English is the source: its catalogue is identity)."""
    return gettext.translation(
        "messages", localedir=LOCALE_DIR, languages=[language], fallback=True
    )


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(str(context.get("lang") or "en")).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(str(context.get("lang") or "en")).ngettext(singular, plural, n)


def install(env: Any) -> None:
    """Add ``jinja2.ext.i18n`` to a template environment, looking up the context's ``lang``."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    env.globals["money"] = _money_filter
    env.globals["widget_strings"] = widget_strings
    env.filters["money"] = _money_filter


def money(amount: float, language: str, currency: str = "EUR") -> str:
    """A price as the language writes it: ``1.499,00 €`` (de) or ``€1,499.00`` (en).

    The chat's formatting (:func:`product_rules.text.money`) with the cents always shown, as
    a price list does, and a no-break space so a page never wraps between amount and sign.
    """
    return text_money(amount, currency, language, cents=True).replace(" ", "\xa0")


@pass_context
def _money_filter(context: Context, amount: float, currency: str = "EUR") -> str:
    return money(float(amount), str(context.get("lang") or "en"), currency)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    """Mark a message for extraction; it is translated where it is used."""
    return message


#: The chat widget's own words, English msgids (chat.js reads them by key). ``{staff}``,
#: ``{title}``, ``{count}`` are filled in by the widget.
WIDGET_STRINGS: dict[str, str] = {
    "unavailable": N_("Our advisor is not reachable right now. Please try again in a moment."),
    "liveQueued": N_(
        "Please wait a moment: we are finding a colleague for you. "
        "I'm still here to help meanwhile."
    ),
    "liveJoined": N_("{staff} joined the chat."),
    "liveOfferCard": N_("{staff} sent you these offers:"),
    "liveHandedBack": N_("{staff} handed you back to the advisor. Ask me anything."),
    "liveClosed": N_("The chat with our colleague has ended. I'm here to help again."),
    "liveNobodyTimeout": N_(
        "Sorry, all our colleagues are busy right now. Leave us a message and we will get "
        "back to you; I'm still here to help meanwhile."
    ),
    "liveNobodyHours": N_(
        "Our colleagues are not in right now. Leave us a message and we will get back to "
        "you; I'm still here to help meanwhile."
    ),
    "liveThanks": N_("Thank you! Your message is with our team; we will get back to you."),
    "ratingBot": N_("How was the advice?"),
    "ratingStaff": N_("How was your chat with {staff}?"),
    "chooseLabel": N_("Choose this one"),
    "chosen": N_(
        "Good choice: {title}. Add it to your basket in the shop, or ask me anything about it."
    ),
    "roleMain": N_("main"),
    "roleRequired": N_("added: required"),
    "roleOption": N_("option"),
    "cleatFlat": N_("Flat pedals (no cleats)"),
    "cleatSpd": N_("SPD cleats"),
    "cleatSpdSl": N_("SPD-SL cleats"),
    "cleatLookKeo": N_("Look Keo cleats"),
    "cleatOther": N_("{name} cleats"),
    "frame": N_("Frame {size} cm"),
    "noPedals": N_("Ships without pedals"),
    "inStock": N_("In stock"),
    "notInStock": N_("Not in stock"),
    "pleaseNote": N_("Please note"),
    "modelOne": N_("1 model"),
    "modelMany": N_("{count} models"),
    "relaxationLead": N_("Nothing matches all your wishes. Ways out:"),
    "relaxationAnd": N_(" and "),
    "relaxationShown": N_("shown"),
    "total": N_("Total"),
    "included": N_("What is included"),
    "whyThis": N_("Why this one"),
    "relaxedNote": N_("Not an exact match: to find this we loosened {wishes}."),
    "crossSell": N_("You might also need"),
    "offersLabel": N_("Offers for you"),
    "suggested": N_("Suggested answers"),
    "minimise": N_("Minimise"),
    "open": N_("Open advisor"),
}


def widget_strings(language: str) -> dict[str, str]:
    """:data:`WIDGET_STRINGS` in ``language``, plus ``lang`` and ``locale`` (for Intl)."""
    catalogue = translations(language)
    strings = {key: catalogue.gettext(message) for key, message in WIDGET_STRINGS.items()}
    strings["lang"] = language
    strings["locale"] = LOCALES.get(language, "en_GB").replace("_", "-")
    return strings
