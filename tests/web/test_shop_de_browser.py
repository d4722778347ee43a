"""The German shop page in Chromium: German chrome, a German conversation to offer cards.

The advisor behind the fake Rasa is the real one: rule sets, parser and replies in
German; no English sentence reaches the chat log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from advisor.service import Advisor
from advisor.settings import Settings
from product_rules.registry import RuleRegistry
from tests.conftest import RULES
from tests.web.browser import Watched, needs_chromium, send
from tests.web.fake_rasa import FakeRasa
from tests.web.servers import LoopbackServer
from tests.web.test_app import TEST_DATABASE_URL
from web.app import create_app

pytestmark = needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

RASA_TOKEN = "de-browser-token"
GERMAN_PRICE = re.compile(r"\d{1,3}(\.\d{3})*,\d\d\s€")
#: Sentences of the English chat; none may reach the German shop's chat log.
ENGLISH = ("Got it", "Here are", "Here is", "instead of", "Sorry", "cm tall", 'Ask "why')


@pytest.fixture(scope="module")
def rasa(demo_db: Engine) -> FakeRasa:
    return FakeRasa(Advisor(RuleRegistry(RULES, demo_db)), token=RASA_TOKEN)


@pytest.fixture(scope="module")
def shop_url(rasa: FakeRasa) -> Iterator[str]:
    with LoopbackServer(rasa.app(), name="fake Rasa") as rasa_server:
        settings = Settings(
            rasa_url=rasa_server.url,
            request_timeout_s=5,
            secret_key="de-browser-secret",
            rasa_token=RASA_TOKEN,
            database_url=TEST_DATABASE_URL,
        )
        with LoopbackServer(create_app(settings), name="web app", ready_path="/healthz") as web:
            yield web.url


@pytest.fixture
def shopper(browser: Any, shop_url: str, rasa: FakeRasa) -> Iterator[Watched]:
    watched = Watched(browser, width=1280, height=900, rasa=rasa)
    watched.page.goto(shop_url + "/de/")
    yield watched
    watched.close()


def test_german_page_chrome(shopper: Watched) -> None:
    page = shopper.page
    assert page.locator("html").get_attribute("lang") == "de"
    expect(page.get_by_test_id("chat-widget")).to_have_attribute("data-lang", "de")
    expect(page.locator("h1")).to_have_text("Finde das richtige Fahrrad mit ein paar Fragen")
    expect(page.get_by_test_id("chat-log")).to_contain_text("Ich helfe dir")
    expect(page.get_by_test_id("chat-input")).to_have_attribute(
        "placeholder", "Schreib deine Antwort…"
    )


def test_german_message_carries_language_de(shopper: Watched, rasa: FakeRasa) -> None:
    page = shopper.page
    with page.expect_request("**/api/chat") as sent:
        send(page, "Hallo, ich suche ein Rennrad")
    assert sent.value.post_data_json["metadata"] == {"language": "de"}


def test_german_conversation_to_offer_cards(shopper: Watched) -> None:
    """Through to offers in German: answers said back, offer cards and prices in German."""
    page = shopper.page
    send(page, "Hallo, ich suche ein Rennrad")
    bot = page.get_by_test_id("msg-bot")
    expect(bot.last).to_be_visible(timeout=10_000)
    for answer in (
        "Ich bin Anfänger, eher längere Touren, keine Rennen",
        "1,82 m",
        "bis 1.500 Euro",
        "normale Schuhe",
    ):
        if page.get_by_test_id("offer-card").count():
            break
        send(page, answer)
        page.wait_for_timeout(500)
    card = page.get_by_test_id("offer-card").first
    expect(card).to_be_visible(timeout=10_000)
    expect(card.get_by_test_id("offer-total")).to_contain_text("Gesamt")
    assert GERMAN_PRICE.search(card.get_by_test_id("offer-total").inner_text())
    expect(card.get_by_test_id("offer-choose")).to_have_text("Das nehme ich")
    log = page.get_by_test_id("chat-log").inner_text()
    assert "Verstanden:" in log, log
    leaked = [phrase for phrase in ENGLISH if phrase in log]
    assert not leaked, f"English in the German chat {leaked}:\n{log}"
