"""The whole path a shopper takes: shop page in Chromium, web app, real Rasa, real actions."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RunningBot
from web.stack import Stack, free_port, web_service

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's Chromium at /usr/bin/chromium",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def shop_url(bot: RunningBot) -> Iterator[str]:
    web = web_service(free_port(), bot.rasa_url, rasa_token=bot.rasa_token)
    with Stack([web], log=io.StringIO()).running(timeout=60):
        yield web.url


def test_shopper_gets_offer_cards_from_the_real_bot(shop_url: str) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(shop_url + "/")
        for text in [
            "I want a road bike",
            "mostly long weekend rides",
            "total newbie",
            "about 1.5k",
            "1,82 m",
        ]:
            count = page.get_by_test_id("msg-bot").count()
            page.get_by_test_id("chat-input").fill(text)
            page.get_by_test_id("chat-input").press("Enter")
            sync_api.expect(page.get_by_test_id("msg-bot")).not_to_have_count(count)
        page.get_by_role("button", name="No, normal shoes").click()
        cards = page.get_by_test_id("offer-card")
        sync_api.expect(cards.first).to_be_visible()
        assert 1 <= cards.count() <= 3
        sync_api.expect(cards.first).to_contain_text("Frame 56 cm")
        sync_api.expect(page.get_by_test_id("cross-sell").first).to_be_visible()
        shopper_said = page.get_by_test_id("msg-user").all_inner_texts()
        bot_count = page.get_by_test_id("msg-bot").count()
        card_count = cards.count()
        assert shopper_said[-1] == "No, normal shoes"

        # A reload shows the conversation again, from Rasa's tracker through the web app
        # (which holds Rasa's token), the clicked button by its title.
        page.reload()
        sync_api.expect(page.get_by_test_id("msg-user")).to_have_text(shopper_said)
        sync_api.expect(page.get_by_test_id("msg-bot")).to_have_count(bot_count)
        sync_api.expect(cards).to_have_count(card_count)
        sync_api.expect(cards.first).to_contain_text("Frame 56 cm")
        sync_api.expect(page.get_by_test_id("msg-system")).to_have_count(0)
        browser.close()
        assert errors == []
