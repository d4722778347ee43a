"""The widget's privacy notice and its "Your data" menu in Chromium, with the real bot.

Before the first message the widget says it is an automated assistant, what is kept and
for how long, and links the privacy page; nothing is stored in the browser yet (no
cookie, no local or session storage). After a message, the menu downloads the
conversation (a JSON file holding what the shopper wrote) and deletes it: the widget
starts afresh, the cookie is gone, and Rasa's tracker holds no row of it any more.
In English and in German.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from advisor import schema
from catalog.db import make_engine
from tests.integration.conftest import RunningBot, ask
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from web.stack import Stack, listening_socket, web_service

pytestmark = [pytest.mark.integration, *needs_chromium]

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect
#: How long a check waits: the bot answers within seconds, slower on a loaded machine.
WAIT_MS = 30_000

#: Per language: the page, what the shopper types and the question due next, the words.
CASES = {
    "en": {
        "path": "/en/",
        "say": ("I want a road bike", ask("road_bike", "usage")),
        "assistant": "I am an automated assistant, not a person.",
        "kept": "until 30 days after your last message",
        "cookie": "A strictly necessary cookie keeps this conversation",
        "privacy": "/en/privacy",
        "menu": "Your data",
        "download": "Download my conversation",
        "delete": "Delete my conversation",
        "confirm": "Delete",
        "deleted": "Your conversation has been deleted",
    },
    "de": {
        "path": "/de/",
        "say": ("Ich suche ein Rennrad", ask("road_bike", "usage", "de")),
        "assistant": "Ich bin ein automatischer Assistent, kein Mensch.",
        "kept": "bis 30 Tage nach deiner letzten Nachricht",
        "cookie": "Ein technisch notwendiges Cookie hält dieses Gespräch",
        "privacy": "/de/datenschutz",
        "menu": "Deine Daten",
        "download": "Mein Gespräch herunterladen",
        "delete": "Mein Gespräch löschen",
        "confirm": "Löschen",
        "deleted": "Dein Gespräch ist gelöscht",
    },
}


def _tracker_url(bot: RunningBot) -> str:
    # The bot fixture keeps Rasa's tracker beside its catalogue (tests/integration/conftest.py).
    path = Path(bot.database_url.removeprefix("sqlite:///")).with_name("tracker.db")
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def shop_url(bot: RunningBot) -> Iterator[str]:
    engine = make_engine(bot.database_url)
    schema.upgrade(engine, bot.database_url)  # the advisor's tables, as make run makes them
    engine.dispose()
    web = web_service(
        listening_socket(),
        bot.rasa_url,
        rasa_token=bot.rasa_token,
        env={"DATABASE_URL": bot.database_url, "TRACKER_STORE_URL": _tracker_url(bot)},
    )
    with Stack([web], log=io.StringIO()).running(timeout=60):
        yield web.url


def _tracker_rows(bot: RunningBot, sender: str) -> int:
    engine = create_engine(_tracker_url(bot))
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM events WHERE sender_id = :s")
            return int(connection.execute(query, {"s": sender}).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("language", ["en", "de"])
def test_notice_then_download_and_delete(
    bot: RunningBot, shop_url: str, tmp_path: Path, language: str
) -> None:
    case: dict[str, Any] = CASES[language]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(30_000)
        page: Any = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(shop_url + case["path"])

        notice = page.get_by_test_id("privacy-notice")
        expect(notice).to_contain_text(case["assistant"], timeout=WAIT_MS)
        expect(notice).to_contain_text(case["kept"], timeout=WAIT_MS)
        expect(notice).to_contain_text(case["cookie"], timeout=WAIT_MS)
        expect(page.get_by_test_id("privacy-link")).to_have_attribute(
            "href", case["privacy"], timeout=WAIT_MS
        )
        page.wait_for_load_state("networkidle")
        assert context.cookies() == [], "nothing may be stored before the first message"
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0

        message, question = case["say"]
        page.get_by_test_id("chat-input").fill(message)
        page.get_by_test_id("chat-input").press("Enter")
        expect(page.get_by_test_id("msg-bot").last).to_contain_text(question, timeout=WAIT_MS)
        assert [c["name"] for c in context.cookies()] == ["conversation"]
        assert all(c["httpOnly"] for c in context.cookies())

        page.get_by_role("button", name=case["menu"]).click()
        with page.expect_download() as download:
            page.get_by_role("link", name=case["download"]).click()
        saved = tmp_path / f"conversation-{language}.json"
        download.value.save_as(saved)
        document = json.loads(saved.read_text(encoding="utf-8"))
        said = [m["text"] for m in document["messages"] if m["from"] == "shopper"]
        assert message in said
        sender = document["conversation"]
        assert _tracker_rows(bot, sender) > 0

        page.get_by_role("button", name=case["menu"]).click()
        page.get_by_role("button", name=case["delete"]).click()
        confirm = page.get_by_test_id("chat-erase-confirm")
        expect(confirm).to_be_visible(timeout=WAIT_MS)
        with page.expect_response("**/api/chat/privacy/erase") as erased:
            confirm.get_by_role("button", name=case["confirm"], exact=True).click()
        assert erased.value.status == 200

        log = page.get_by_test_id("chat-log")
        expect(log).to_contain_text(case["deleted"], timeout=WAIT_MS)
        expect(log).not_to_contain_text(message, timeout=WAIT_MS)
        expect(page.get_by_test_id("privacy-notice")).to_be_visible(timeout=WAIT_MS)
        assert context.cookies() == [], "the conversation cookie ends with the conversation"
        deadline = time.monotonic() + 10
        while _tracker_rows(bot, sender) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _tracker_rows(bot, sender) == 0
        page.reload()
        expect(page.get_by_test_id("privacy-notice")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id("chat-log")).not_to_contain_text(message, timeout=WAIT_MS)
        assert errors == []
        browser.close()
