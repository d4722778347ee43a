"""The web app's languages: choosing one per request, its gettext catalogue, its prices.

The shop pages are ``/de/`` and ``/en/``; ``/`` sends a browser to the one its
``Accept-Language`` prefers (German when it names neither: the shops are German). Staff
pages follow ``?lang=de|en`` (kept in a ``lang`` cookie by :class:`LanguageCookieMiddleware`:
a year, HttpOnly, SameSite=Lax, Secure on HTTPS), then ``Accept-Language``, then English;
every page's language switch links to :func:`language_url`. The share page speaks its
conversation's language. In the console the page's words follow the staff member, while
what the advisor says for the customer (questions, answers, offers) follows the session's
language (``product_rules.text.speaking`` around the advisor's calls).

Jinja filters: ``money`` (``1.499,00 €`` / ``€1,499.00``), ``number`` (``1.234`` /
``1,234``; ``number(1)`` with a decimal), ``day`` (``04.12.2026`` / ``2026-12-04``),
``moment`` (day and time) and ``clock`` (time), each in the page's ``lang``. Macros that
translate are imported ``with context``, or they speak English.

Page texts are Jinja2 ``{{ _("…") }}`` / ``{% trans %}`` (``jinja2.ext.i18n``) looked up in
``web/locale/<lang>/LC_MESSAGES/messages.mo``; extraction and compilation::

    pybabel extract -F web/babel.cfg -o web/locale/messages.pot web
    pybabel update -N -i web/locale/messages.pot -d web/locale   # -N: no fuzzy guesses
    pybabel compile -d web/locale

The chat widget's own words (:data:`WIDGET_STRINGS`) go to the page as a JSON blob and
are served by ``GET /api/chat/strings?lang=…``.
"""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from product_rules.text import LOCALES
from product_rules.text import money as text_money
from web.auth import safe_next

__all__ = [
    "DEFAULT_SHOP_LANGUAGE",
    "DEFAULT_STAFF_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "LanguageCookieMiddleware",
    "LOCALES",
    "N_",
    "format_day",
    "format_moment",
    "language_url",
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
#: How long a staff member's language choice is kept: a year.
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


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


class LanguageCookieMiddleware:
    """Keep a ``?lang=de|en`` choice in the ``lang`` cookie, so the next page follows it.

    The cookie says nothing secret, but it is HttpOnly (no script reads it), ``SameSite=Lax``
    and ``Secure`` on HTTPS (or always, with ``always_secure``), like the session cookie.
    """

    def __init__(self, app: ASGIApp, *, always_secure: bool = False) -> None:
        self.app = app
        self.always_secure = always_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the cookie to the response when ``?lang=`` changes it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        chosen = normalize(connection.query_params.get("lang"))
        if chosen is None or connection.cookies.get(LANG_COOKIE) == chosen:
            await self.app(scope, receive, send)
            return
        secure = self.always_secure or connection.url.scheme == "https"
        cookie = (
            f"{LANG_COOKIE}={chosen}; Max-Age={LANG_COOKIE_MAX_AGE}; Path=/; HttpOnly; "
            "SameSite=Lax" + ("; Secure" if secure else "")
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


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
    env.filters["day"] = _day_filter
    env.filters["moment"] = _moment_filter
    env.filters["clock"] = _clock_filter
    env.filters["number"] = _number_filter
    env.globals["language_url"] = language_url


def money(amount: float, language: str, currency: str = "EUR") -> str:
    """A price as the language writes it: ``1.499,00 €`` (de) or ``€1,499.00`` (en).

    The chat's formatting (:func:`product_rules.text.money`) with the cents always shown, as
    a price list does, and a no-break space so a page never wraps between amount and sign.
    """
    return text_money(amount, currency, language, cents=True).replace(" ", "\xa0")


@pass_context
def _money_filter(context: Context, amount: float, currency: str = "EUR") -> str:
    return money(float(amount), str(context.get("lang") or "en"), currency)


def _as_datetime(value: date | datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: How a staff page writes a day (Babel patterns): ISO in English, as staff pages always
#: did; the German day as Germans write it.
DAY_PATTERNS = {"en": "yyyy-MM-dd", "de": "dd.MM.yyyy"}
#: A day without its year, as a chart's axis writes it: ``12-04`` or ``04.12.``
SHORT_DAY_PATTERNS = {"en": "MM-dd", "de": "dd.MM."}


def format_day(value: date | datetime | str, language: str, *, short: bool = False) -> str:
    """A day as the language writes it: ``2026-12-04`` (en) or ``04.12.2026`` (de).

    ``short`` leaves the year out: ``12-04`` or ``04.12.``
    """
    patterns = SHORT_DAY_PATTERNS if short else DAY_PATTERNS
    pattern = patterns.get(language, patterns["en"])
    return str(format_date(_as_datetime(value).date(), pattern, locale=LOCALES[language]))


def format_moment(value: date | datetime | str, language: str, *, seconds: bool = False) -> str:
    """A day and a time (UTC, as the pages say): ``2026-12-04 10:05`` or ``04.12.2026, 10:05``."""
    moment = _as_datetime(value)
    clock = format_time(
        moment, "medium" if seconds else "short", tzinfo=UTC, locale=LOCALES[language]
    )
    return f"{format_day(moment, language)}{',' if language == 'de' else ''} {clock}"


def _language(context: Context) -> str:
    language = str(context.get("lang") or "en")
    return language if language in LANGUAGES else "en"


@pass_context
def _day_filter(context: Context, value: date | datetime | str | None, short: bool = False) -> str:
    return "" if not value else format_day(value, _language(context), short=short)


@pass_context
def _moment_filter(context: Context, value: datetime | str | None) -> str:
    return "" if not value else format_moment(value, _language(context))


@pass_context
def _clock_filter(context: Context, value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    moment = _as_datetime(value)
    pattern = "medium" if seconds else "short"
    return str(format_time(moment, pattern, tzinfo=UTC, locale=LOCALES[_language(context)]))


@pass_context
def _number_filter(context: Context, value: float, digits: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=pattern, locale=LOCALES[_language(context)]))


def language_url(connection: HTTPConnection, language: str) -> str:
    """This page's address with ``?lang=`` set to ``language``.

    The page's other parameters are kept, except a ``next`` that is no path on this site
    (the login page never links anywhere else).
    """
    url = connection.url
    params = [(k, v) for k, v in connection.query_params.multi_items() if k != "lang"]
    params = [(k, v) for k, v in params if k != "next" or safe_next(v) is not None]
    return f"{url.path}?{urlencode([*params, ('lang', language)])}"


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
