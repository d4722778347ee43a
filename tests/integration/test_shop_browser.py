"""The whole path a shopper takes: shop page in Chromium, web app, real Rasa, real actions."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RunningBot, ask, check_offers, texts
from web.stack import Stack, listening_socket, web_service

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

USAGE = ask("road_bike", "usage")
EXPERIENCE = ask("road_bike", "experience")
BUDGET = ask("road_bike", "budget")
HEIGHT = ask("road_bike", "body_height_cm")
SHOES = ask("road_bike", "shoes_owned")
#: The widget's tag for a pedal's cleat system (web/static/chat.js, CLEAT_LABELS).
CLEAT_TAGS = {"flat": "Flat pedals (no cleats)", "spd": "SPD cleats"}


@pytest.fixture(scope="module")
def shop_url(bot: RunningBot) -> Iterator[str]:
    web = web_service(listening_socket(), bot.rasa_url, rasa_token=bot.rasa_token)
    with Stack([web], log=io.StringIO()).running(timeout=60):
        yield web.url


def _chat_reply(response: Any) -> bool:
    return bool(response.request.method == "POST" and response.url.endswith("/api/chat"))


def _say(page: Any, send: Any, expected: str) -> list[dict[str, Any]]:
    """One shopper turn in the widget: the messages the web app passed on from Rasa.

    The reply must say ``expected`` (the next question), and the newest bot bubble must
    show it: the widget neither drops nor garbles what the bot said.
    """
    bubbles = page.get_by_test_id("msg-bot")
    count = bubbles.count()
    with page.expect_response(_chat_reply) as answered:
        send()
    messages: list[dict[str, Any]] = answered.value.json()["messages"]
    assert expected in texts(messages), texts(messages)
    sync_api.expect(bubbles).not_to_have_count(count)
    sync_api.expect(bubbles.last).to_contain_text(expected)
    return messages


def _typed(page: Any, text: str) -> Any:
    def send() -> None:
        page.get_by_test_id("chat-input").fill(text)
        page.get_by_test_id("chat-input").press("Enter")

    return send


def _price(amount: float) -> str:
    """A total as the English shop page shows it (en-GB: ``€1,423.90``)."""
    return f"€{amount:,.2f}"


def test_shopper_gets_offer_cards_from_the_real_bot(bot: RunningBot, shop_url: str) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(shop_url + "/en/")
        for text, question in [
            ("I want a road bike", USAGE),
            ("mostly long weekend rides", EXPERIENCE),
            ("total newbie", BUDGET),
            ("about 1.5k", HEIGHT),
            ("1,82 m", SHOES),
        ]:
            _say(page, _typed(page, text), question)
        button = page.get_by_role("button", name="No, normal shoes")
        messages = _say(page, button.click, "Got it: No, normal shoes.")
        payload = check_offers(bot, messages)
        assert payload["answers"] == {
            "usage": "endurance",
            "experience": "beginner",
            "budget": 1500.0,
            "body_height_cm": 182.0,
            "shoes_owned": "none",
        }
        # Each card shows its offer: title, a total within budget, the frame for 182 cm,
        # and the pedals a bike without them needs.
        cards = page.get_by_test_id("offer-card")
        sync_api.expect(cards).to_have_count(len(payload["offers"]))
        for card, offer in zip(cards.all(), payload["offers"], strict=True):
            assert offer["total_price"] <= 1500
            sync_api.expect(card.locator("h3")).to_contain_text(offer["title"])
            sync_api.expect(card.get_by_test_id("offer-total")).to_have_text(
                f"Total {_price(offer['total_price'])}"
            )
            main = card.get_by_test_id("offer-item").first
            sync_api.expect(main).to_contain_text(offer["items"][0]["name"])
            sync_api.expect(main).to_contain_text("Frame 56 cm")
            items = card.get_by_test_id("offer-item")
            sync_api.expect(items).to_have_count(len(offer["items"]))
            if not offer["items"][0]["attributes"]["pedals_included"]:
                sync_api.expect(main).to_contain_text("Ships without pedals")
                index, pedal = next(
                    (n, i) for n, i in enumerate(offer["items"]) if i["category"] == "pedals"
                )
                pedals = items.nth(index)
                sync_api.expect(pedals).to_contain_text(pedal["name"])
                sync_api.expect(pedals).to_contain_text("added: required")
                sync_api.expect(pedals).to_contain_text(
                    CLEAT_TAGS[pedal["attributes"]["cleat_system"]]
                )
            for reason in offer["reasons"]:
                sync_api.expect(card.get_by_test_id("offer-reasons")).to_contain_text(reason)
        extras = page.get_by_test_id("cross-sell-item")
        sync_api.expect(extras).to_have_count(len(payload["cross_sell"]))
        for extra, item in zip(extras.all(), payload["cross_sell"], strict=True):
            sync_api.expect(extra).to_contain_text(item["name"])
            sync_api.expect(extra).to_contain_text(item["reason"])
        assert "helmet" in {c["category"] for c in payload["cross_sell"]}
        shopper_said = page.get_by_test_id("msg-user").all_inner_texts()
        bot_said = page.get_by_test_id("msg-bot").all_text_contents()
        assert shopper_said[-1] == "No, normal shoes"

        # A reload shows the conversation again, from Rasa's tracker through the web app
        # (which holds Rasa's token), the clicked button by its title.
        page.reload()
        sync_api.expect(page.get_by_test_id("msg-user")).to_have_text(shopper_said)
        sync_api.expect(page.get_by_test_id("msg-bot")).to_have_text(bot_said)
        sync_api.expect(cards).to_have_count(len(payload["offers"]))
        for card, offer in zip(cards.all(), payload["offers"], strict=True):
            sync_api.expect(card.get_by_test_id("offer-total")).to_have_text(
                f"Total {_price(offer['total_price'])}"
            )
            sync_api.expect(card.get_by_test_id("offer-item").first).to_contain_text("Frame 56 cm")
        sync_api.expect(page.get_by_test_id("msg-system")).to_have_count(0)
        browser.close()
        assert errors == []
