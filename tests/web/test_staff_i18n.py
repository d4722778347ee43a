"""The staff pages in German: the language chosen, kept in a cookie, and the words read.

English stays the default of staff pages (``tests/web/test_console.py`` and the others
read them in English); here the same pages answer in German when ``?lang=de``, the
``lang`` cookie or ``Accept-Language`` ask for it, and an assisted session runs in its
customer's language whatever the page's.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web import test_console as console_tests
from tests.web.test_console import BEGINNER, CSRF_INPUT, HTML, Console

# The console tests' app, accounts and signed-in browser, used by name.
fast_hashing = console_tests.fast_hashing
services = console_tests.services
app = console_tests.app
client = console_tests.client
console = console_tests.console

GERMAN = {**HTML, "accept-language": "de-DE,de;q=0.9,en;q=0.5"}
HTML_LANG = re.compile(r'<html lang="(\w+)">')


def html_lang(text: str) -> str:
    found = HTML_LANG.search(text)
    assert found, "every page names its language"
    return found.group(1)


def lang_cookie(response: object) -> str:
    """The ``Set-Cookie`` of the ``lang`` cookie in a response ("" if none)."""
    headers = getattr(response, "headers")  # noqa: B009 - httpx and starlette alike
    return next((c for c in headers.get_list("set-cookie") if c.startswith("lang=")), "")


def words(text: str) -> str:
    """The page's text without tags, its white space collapsed (what a reader sees)."""
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


# -- choosing the language -------------------------------------------------------------------


def test_login_page_follows_accept_language_german(client: TestClient) -> None:
    page = client.get("/login", headers=GERMAN)
    assert page.status_code == 200
    assert html_lang(page.text) == "de"
    seen = words(page.text)
    assert "Anmeldung für Mitarbeitende" in seen
    assert "Benutzername" in seen and "Passwort" in seen
    assert 'data-testid="login-submit">Anmelden</button>' in page.text
    assert "Noch kein Konto? Bitten Sie einen Admin, eines anzulegen." in seen
    assert "Staff sign-in" not in page.text


def test_login_page_in_german_by_query_sets_the_cookie(client: TestClient) -> None:
    page = client.get("/login?lang=de", headers=HTML)
    assert html_lang(page.text) == "de" and "Anmeldung für Mitarbeitende" in page.text
    cookie = lang_cookie(page)
    assert cookie.startswith("lang=de;")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie and "Max-Age=31536000" in cookie

    again = client.get("/login", headers=HTML)  # no ?lang=, no Accept-Language: the cookie
    assert html_lang(again.text) == "de" and "Anmelden" in again.text
    assert lang_cookie(again) == "", "an unchanged choice is not set again"


def test_language_switch_links_back_to_the_same_page(client: TestClient) -> None:
    page = client.get("/login?next=/console/live", headers=GERMAN)
    assert 'href="/login?next=%2Fconsole%2Flive&amp;lang=en"' in page.text
    assert 'data-testid="lang-de">Deutsch</a>' in page.text
    english = client.get("/login?next=/console/live&lang=en", headers=GERMAN)
    assert html_lang(english.text) == "en" and "Staff sign-in" in english.text
    assert lang_cookie(english).startswith("lang=en;")


def test_switch_to_german_and_the_next_staff_page_is_german(console: Console) -> None:
    switched = console.client.get("/console?lang=de", headers=HTML)
    assert lang_cookie(switched).startswith("lang=de;")
    page = console.client.get("/console", headers=HTML)
    assert html_lang(page.text) == "de"
    seen = words(page.text)
    assert "Beratung" in seen and "Neue Beratung" in seen and "Letzte Beratungen" in seen
    assert "Angemeldet als anna (Verkauf)" in seen
    assert 'data-testid="logout">Abmelden</button>' in page.text
    assert re.search(
        r"Sie sind <strong>(verfügbar|beschäftigt|abwesend)</strong>, in 0 von", page.text
    )
    assert "Sprache der Kundin / des Kunden" in seen, "a new session asks the customer's"
    assert 'value="de" checked' in page.text, "the page's language is the default"


# -- an assisted session in the customer's language ----------------------------------------


def test_assisted_session_asks_in_the_customers_language(console: Console) -> None:
    sid = console.start(language="de")  # the staff page is English
    page = console.client.get(f"/console/sessions/{sid}", headers=HTML)
    assert html_lang(page.text) == "en" and "Expert view" in page.text
    assert "Wofür willst du das Rad hauptsächlich nutzen?" in page.text
    assert re.search(r'data-testid="shopper-language" lang="de"[^>]*>DE<', page.text)

    body = console.api(sid, "answer", question="budget", text="etwa 1500 Euro")
    assert (
        "Budget 1.500 €" in words(body["panels"]["questions"])
        or "1.500 €" in (body["panels"]["questions"])
    ), "the answer is read and said in German"
    listing = console.client.get("/console", headers=HTML)
    assert re.search(r'data-testid="shopper-language" lang="de"[^>]*>DE<', listing.text)


def test_assisted_session_of_a_german_page_is_german_throughout(console: Console) -> None:
    console.client.get("/console?lang=de", headers=HTML)
    sid = console.start()  # no language chosen: the page's
    console.answer_all(sid, {"usage": "endurance", "budget": "2500", **BEGINNER})
    page = console.client.get(f"/console/sessions/{sid}", headers=HTML)
    seen = words(page.text)
    assert html_lang(page.text) == "de"
    assert "Expertenansicht" in seen and "Änderungsprotokoll" in seen and "Angebote" in seen
    assert "Jede zutreffende Frage ist beantwortet." in seen
    assert "Wie groß bist du?" in seen or "Körpergröße" in seen, "questions in German"
    assert "An die Kundin / den Kunden übergeben" in seen
    assert "passt nicht zu 182 cm (56 cm würde passen)" in seen or "über dem Budget" in seen
    assert re.search(r'data-testid="score-total">\+\d+,\d\d<', page.text), "German points"
    assert "Pedale ändern" in seen, "the required item's change, in words"
    total = re.search(r'data-testid="offer-total">Gesamt <strong>([^<]+)</strong>', page.text)
    assert total and re.fullmatch(r"[\d.]+,\d\d\xa0€", total.group(1)), "German money"


def test_english_session_stays_english_on_a_german_page(console: Console) -> None:
    console.client.get("/console?lang=de", headers=HTML)
    sid = console.start(language="en")
    page = console.client.get(f"/console/sessions/{sid}", headers=HTML)
    assert "Expertenansicht" in page.text
    assert "What will you mostly use the bike for?" in page.text
    assert re.search(r'data-testid="shopper-language" lang="en"[^>]*>EN<', page.text)


# -- forbidden, CSRF, share page ---------------------------------------------------------------


def test_forbidden_page_in_german(console: Console) -> None:
    page = console.client.get("/admin/rules?lang=de", headers=HTML)
    assert page.status_code == 403
    assert html_lang(page.text) == "de"
    seen = words(page.text)
    assert "Diese Seite ist für Ihre Rolle nicht freigegeben" in seen
    assert "Sie sind als anna mit der Rolle Verkauf angemeldet." in seen
    assert "Diese Seite erfordert die Rolle Sortimentsmanagement oder höher." in seen


def test_csrf_page_in_german(client: TestClient) -> None:
    refused = client.post("/logout", headers=GERMAN, data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert html_lang(refused.text) == "de"
    seen = words(refused.text)
    assert "Bitte versuchen Sie es noch einmal" in seen
    assert "deshalb wurde nichts geändert" in seen
    api = client.post(
        "/logout", headers={"accept": "application/json", "accept-language": "de"}, data={}
    )
    assert api.json()["message"].startswith("Dieser Anfrage fehlt ein gültiges CSRF-Token.")


def test_share_page_of_a_german_conversation_is_german(console: Console) -> None:
    sid = console.start(language="de")  # staff page English, customer German
    console.answer_all(sid, {"usage": "endurance", "budget": "2500", **BEGINNER})
    shared = console.api(sid, "share")
    assert "Gültig bis" not in shared["panels"]["share"], "the staff panel stays English"
    customer = TestClient(console.client.app)
    page = customer.get(f"/s/{shared['code']}", headers=HTML)
    assert page.status_code == 200
    assert html_lang(page.text) == "de"
    seen = words(page.text)
    assert "Für dich in unserem Laden zusammengestellt" in seen
    assert "Deine Konfiguration" in seen and "Dein Code ist" in seen
    assert "Warum dieses" in seen and "Auf Lager" in seen
    total = re.search(r'data-testid="offer-total">Gesamt <strong>([^<]+)</strong>', page.text)
    assert total and total.group(1).endswith("\xa0€")
    assert 'data-lang="de"' in page.text, "the widget on the page speaks German too"


def test_unknown_share_code_in_german(client: TestClient) -> None:
    page = client.get("/s/ZZZZZ9", headers=GERMAN)
    assert page.status_code == 404 and html_lang(page.text) == "de"
    assert "Wir finden diese Konfiguration nicht" in page.text
    assert 'href="/de/#advisor"' in page.text


def test_csrf_input_is_on_the_german_login_form(client: TestClient) -> None:
    page = client.get("/login?lang=de", headers=HTML)
    assert CSRF_INPUT.search(page.text), "the German form still signs in"
