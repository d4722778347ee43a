"""The shop in German and English: /de/, /en/, / by Accept-Language, the widget's words."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.tables import create_schema
from tests.web.test_app import SETTINGS, FakeRasa, serve
from web.app import create_app
from web.i18n import WIDGET_STRINGS, money, negotiate, widget_strings

BLOB = re.compile(r'<script type="application/json" id="chat-strings"[^>]*>(.*?)</script>', re.S)


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
async def client(rasa: FakeRasa) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(SETTINGS, transport=httpx.MockTransport(rasa))) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "de"),
        ("", "de"),
        ("fr-FR,fr;q=0.9", "de"),
        ("en-US,en;q=0.9", "en"),
        ("de-AT,de;q=0.9,en;q=0.8", "de"),
        ("fr;q=1, en;q=0.5, de;q=0.7", "de"),
        ("de;q=0, en", "en"),
    ],
)
async def test_root_redirects_by_accept_language(
    client: httpx.AsyncClient, header: str | None, language: str
) -> None:
    headers = {"accept-language": header} if header is not None else {}
    response = await client.get("/", headers=headers)

    assert response.status_code == 307
    assert response.headers["location"] == f"/{language}/"
    assert "Accept-Language" in response.headers["vary"]
    assert negotiate(header) == language


async def test_root_followed_gives_a_shop_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"accept-language": "en"}, follow_redirects=True)

    assert response.status_code == 200
    assert "Find the right bike in a few questions" in response.text


async def test_german_page_is_german(client: httpx.AsyncClient) -> None:
    html = (await client.get("/de/")).text

    assert '<html lang="de">' in html
    assert 'data-lang="de"' in html
    for text in (
        "Finde das richtige Fahrrad mit ein paar Fragen",
        "Nach Kategorie stöbern",
        "Rennräder",
        'data-chat-prompt="Ich suche ein Rennrad"',
        "Kostenloser Versand ab 50,00\xa0€",
        'placeholder="Schreib deine Antwort…"',
        "Fahrradberater",
    ):
        assert text in html, text
    for english in ("Find the right bike", "Shop by category", "Type your answer", "Bike advisor"):
        assert english not in html, english


async def test_english_page_is_english(client: httpx.AsyncClient) -> None:
    html = (await client.get("/en/")).text

    assert '<html lang="en">' in html
    assert 'data-lang="en"' in html
    assert "Find the right bike in a few questions" in html
    assert "€50.00" in html
    assert "Finde das richtige" not in html


def test_prices_per_locale() -> None:
    assert money(1499, "de") == "1.499,00\xa0€"
    assert money(1499, "en") == "€1,499.00"


async def test_tiles_show_catalogue_prices_per_locale(tmp_path: object) -> None:
    from sqlmodel import Session

    from advisor.settings import Settings
    from catalog.db import make_engine
    from catalog.demo import build_demo_catalog

    url = f"sqlite:///{tmp_path}/shop.db"
    engine = make_engine(url)
    create_schema(engine)
    with Session(engine) as session:
        build_demo_catalog(session)
    engine.dispose()
    settings = Settings(rasa_url=SETTINGS.rasa_url, secret_key="x", database_url=url)
    async with serve(create_app(settings, transport=httpx.MockTransport(FakeRasa()))) as client:
        german = (await client.get("/de/")).text
        english = (await client.get("/en/")).text

    assert re.search(r"ab \d{1,3}(\.\d{3})*,\d\d\xa0€", german)
    assert re.search(r"from €\d{1,3}(,\d{3})*\.\d\d", english)


@pytest.mark.parametrize("language", ["de", "en"])
async def test_page_carries_the_widget_strings(client: httpx.AsyncClient, language: str) -> None:
    html = (await client.get(f"/{language}/")).text
    found = BLOB.search(html)

    assert found is not None
    strings = json.loads(found.group(1))
    assert strings == widget_strings(language)
    assert set(WIDGET_STRINGS) <= set(strings)


async def test_strings_endpoint_in_both_languages(client: httpx.AsyncClient) -> None:
    german = (await client.get("/api/chat/strings", params={"lang": "de"})).json()
    english = (await client.get("/api/chat/strings", params={"lang": "en"})).json()
    by_header = (await client.get("/api/chat/strings", headers={"accept-language": "en"})).json()

    assert german["chooseLabel"] == "Das nehme ich"
    assert german["relaxationLead"] == "Nichts passt zu allen deinen Wünschen. Auswege:"
    assert german["locale"] == "de-DE"
    assert english["chooseLabel"] == "Choose this one"
    assert by_header == english
    for key in WIDGET_STRINGS:
        assert german[key], key
        assert english[key], key


def test_german_catalogue_translates_every_widget_string() -> None:
    german = widget_strings("de")
    untranslated = [k for k, m in WIDGET_STRINGS.items() if german[k] == m and m != "(optional)"]
    assert untranslated == []


def test_chat_js_holds_no_english_sentence() -> None:
    from web.deps import WEB_DIR

    script = (WEB_DIR / "static" / "chat.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)
    for sentence in ("Choose this one", "Nothing matches", "In stock", "Why this one", "Minimise"):
        assert sentence not in code


async def test_chat_from_the_german_page_sends_language_de(
    client: httpx.AsyncClient, rasa: FakeRasa
) -> None:
    rasa.handler = lambda request: httpx.Response(200, json=[{"text": "Hallo!"}])

    await client.post("/api/chat", json={"message": "Hallo", "metadata": {"language": "de"}})
    assert rasa.sent_json()["metadata"] == {"language": "de"}

    # A client that omits it: the page it came from says German.
    await client.post(
        "/api/chat", json={"message": "Hallo"}, headers={"referer": "http://testserver/de/"}
    )
    assert rasa.sent_json()["metadata"] == {"language": "de"}

    # Else the browser's Accept-Language.
    await client.post("/api/chat", json={"message": "hi"}, headers={"accept-language": "en-GB"})
    assert rasa.sent_json()["metadata"] == {"language": "en"}

    # A script that names nothing gets no language: the advisor keeps its own.
    await client.post("/api/chat", json={"message": "hi"})
    assert "metadata" not in rasa.sent_json()
