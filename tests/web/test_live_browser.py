"""Talk to a human, in Debian's Chromium: a shopper and a staff member in two contexts.

The web app runs for real under uvicorn on a loopback port, on a temporary SQLite
database with the demo catalogue and one staff account. Rasa is
:class:`tests.web.fake_rasa.FakeRasa` over the same database: the real advisor shows the
offers, answers "talk to a human" with a real hand-over code and the ``handoff``
payload, keeps its state in the tracker's slot (which staff change), takes pause and
resume events on its HTTP API and stays silent while paused, like Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.handover import HandoverStore
from advisor.routing import OpeningHours
from advisor.service import Advisor
from advisor.settings import Settings
from advisor.sharing import ShareStore
from product_rules.offers import offers_in
from product_rules.registry import RuleRegistry
from tests.conftest import RULES
from tests.web.browser import Watched, bot_reply, needs_chromium, send
from tests.web.conftest import STAFF_NAME, STAFF_PASSWORD, ShopDatabase
from tests.web.fake_rasa import FakeRasa
from tests.web.servers import LoopbackServer
from web.app import create_app

RASA_TOKEN = "live-browser-rasa-token"
# A 182 cm beginner on €1,500 in normal shoes, all in one message.
ROAD_AT_ONCE = (
    "I want a road bike for long rides, I'm a beginner, budget 1500 EUR, 182 cm tall, normal shoes"
)

pytestmark = needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect


@pytest.fixture(scope="module")
def stack(shop_db: ShopDatabase) -> Iterator[tuple[str, FakeRasa]]:
    advisor = Advisor(RuleRegistry(RULES, shop_db.engine), codes=ShareStore(shop_db.engine))
    rasa = FakeRasa(advisor, token=RASA_TOKEN)
    with LoopbackServer(rasa.app(), name="fake Rasa") as rasa_server:
        settings = Settings(
            rasa_url=rasa_server.url,
            request_timeout_s=5,
            database_url=shop_db.url,
            rules_dir=RULES,
            rasa_token=RASA_TOKEN,
        )
        with LoopbackServer(create_app(settings), name="web app", ready_path="/healthz") as web:
            yield web.url, rasa


@pytest.fixture
def staff(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.close()


@pytest.fixture
def shopper(browser: Any, stack: tuple[str, FakeRasa]) -> Iterator[Watched]:
    watched = Watched(browser, rasa=stack[1])
    yield watched
    watched.close()


def sign_in_available(desk: Any, url: str) -> None:
    """Anna signs in, says she is available and opens the live desk."""
    desk.goto(url + "/console")
    desk.get_by_test_id("login-name").fill(STAFF_NAME)
    desk.get_by_test_id("login-password").fill(STAFF_PASSWORD)
    desk.get_by_test_id("login-submit").click()
    expect(desk).to_have_url(re.compile(r"/console$"))
    desk.get_by_test_id("presence-form").get_by_label("Available").check()
    desk.get_by_test_id("set-presence").click()
    expect(desk.get_by_test_id("presence")).to_contain_text("available")
    desk.goto(url + "/console/live")
    expect(desk.get_by_test_id("live-queue-empty")).to_be_visible()
    expect(desk.get_by_test_id("live-desk")).to_have_attribute("data-listening", "true")


def ask_for_a_person(shopper: Watched) -> dict[str, Any]:
    """The shopper asks for a person; returns the ``handoff`` payload the bot sent."""
    [handoff] = [
        m["custom"]
        for m in bot_reply(shopper, "can I talk to a human?")
        if (m.get("custom") or {}).get("type") == "handoff"
    ]
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", handoff["code"])
    expect(shopper.page.get_by_test_id("msg-bot").last).to_contain_text(handoff["code"])
    return dict(handoff)


def accept_the_request(desk: Any) -> None:
    request = desk.get_by_test_id("live-request")
    expect(request).to_have_count(1)
    request.get_by_test_id("live-accept").click()
    expect(desk).to_have_url(re.compile(r"/console/live/[0-9a-f]+$"))
    expect(desk.get_by_test_id("live-status")).to_have_attribute("data-status", "accepted")


def hand_back(desk: Any) -> None:
    desk.get_by_test_id("live-hand-back").click()
    expect(desk.get_by_test_id("live-status")).to_have_attribute("data-status", "closed")


def change_the_budget(desk: Any, words: str) -> None:
    desk.get_by_test_id("live-answer-question").select_option("budget")
    desk.get_by_test_id("live-answer-text").fill(words)
    desk.get_by_test_id("live-answer-submit").click()


def test_shopper_and_staff_talk_until_the_hand_back(
    staff: Watched, shopper: Watched, stack: tuple[str, FakeRasa], tmp_path: Path
) -> None:
    url, rasa = stack
    desk = staff.page

    sign_in_available(desk, url)

    # The shopper sees offers, then asks for a person.
    shop = shopper.page
    shop.goto(url + "/en/")
    payload = offers_in(bot_reply(shopper, ROAD_AT_ONCE))
    assert payload is not None
    titles = [o["title"] for o in payload["offers"]]
    expect(shop.get_by_test_id("offer-card")).to_have_count(len(titles))
    assert all(o["total_price"] <= 1500 for o in payload["offers"])
    ask_for_a_person(shopper)
    expect(shop.get_by_test_id("msg-live")).to_contain_text("finding a colleague")
    expect(shop.get_by_test_id("chat-widget")).to_have_attribute("data-live", "listening")

    # The request reaches the desk without a reload; Anna accepts.
    accept_the_request(desk)
    # The desk shows what the bot said and the bot's own answers and offers.
    expect(desk.get_by_test_id("live-bot-message").first).to_contain_text("top 3 picks")
    answers = desk.get_by_test_id("live-answer")
    expect(answers.filter(has_text="budget")).to_contain_text(
        "1,500"
    )  # a number as the page writes it
    expect(answers.filter(has_text="body height cm")).to_contain_text("182")
    expect(answers.filter(has_text="shoes owned")).to_contain_text("none")
    for title in titles:
        expect(desk.get_by_test_id("live-answers")).to_contain_text(title)
    expect(shop.get_by_test_id("staff-joined")).to_contain_text(f"{STAFF_NAME} joined the chat")
    sender = rasa.heard[-1]["sender"]
    assert (sender, "pause") in rasa.appended

    # Messages both ways, without a reload on either side; the bot hears none of them.
    desk.evaluate("window.__notReloaded = true")
    heard = len(rasa.heard)
    send(shop, "Is the 56 frame right for 182 cm?")
    expect(desk.get_by_test_id("live-shopper-message").last).to_contain_text(
        "Is the 56 frame right for 182 cm?"
    )
    assert len(rasa.heard) == heard, "a message in the live chat reached the bot"
    desk.get_by_test_id("live-text").fill("Yes, it fits you well.")
    desk.get_by_test_id("live-send").click()
    expect(shop.get_by_test_id("msg-staff").last).to_contain_text("Yes, it fits you well.")
    expect(shop.get_by_test_id("msg-staff").last.get_by_test_id("msg-who")).to_have_text(STAFF_NAME)
    expect(desk.get_by_test_id("live-staff-message").last).to_contain_text("Yes, it fits you well.")
    expect(desk.get_by_test_id("live-staff-message")).to_have_count(1)

    # Anna sends the offers as a card: the bot's offers, in the bot's order.
    desk.get_by_test_id("live-push-offers").click()
    card = shop.get_by_test_id("staff-offers")
    expect(card.get_by_test_id("offer-card")).to_have_count(len(titles))
    for title, offer_card in zip(titles, card.get_by_test_id("offer-card").all(), strict=True):
        expect(offer_card.get_by_role("heading", level=3)).to_contain_text(title)
    assert desk.evaluate("window.__notReloaded") is True

    # Anna raises the budget in the shopper's words; the new offers reach the chat.
    change_the_budget(desk, "about 2k")
    expect(card).to_have_count(2)
    assert rasa.state(sender).answers["budget"] == 2000.0
    new_card = shop.get_by_test_id("staff-offers").last
    expect(new_card.get_by_test_id("offer-card").first).to_be_visible()
    totals = [
        float(t.replace("Total", "").replace("€", "").replace(",", "").strip())
        for t in new_card.get_by_test_id("offer-total").all_inner_texts()
    ]
    assert totals and all(t <= 2000 for t in totals), totals
    shop.screenshot(path=str(tmp_path / "live-shopper.png"))
    desk.screenshot(path=str(tmp_path / "live-staff.png"), full_page=True)

    # A reload shows the whole conversation, Anna's message included.
    shop.reload()
    expect(shop.get_by_test_id("msg-staff")).to_contain_text(["Yes, it fits you well."])
    expect(shop.get_by_test_id("staff-joined")).to_have_count(1)
    expect(shop.get_by_test_id("chat-widget")).to_have_attribute("data-live", "listening")

    # Anna hands back; the bot answers the next message from the answers Anna changed.
    hand_back(desk)
    expect(shop.get_by_test_id("handed-back")).to_contain_text("handed you back")
    assert (sender, "resume") in rasa.appended
    # The shopper is asked how the chat with Anna was (the bot's own rating is separate).
    staff_rating = shop.locator('[data-testid="rating-form"][data-target="staff"]')
    expect(staff_rating).to_contain_text("How was your chat with anna?")
    bot_reply(shopper, "why this one?")
    assert rasa.heard[-1] == {
        "sender": sender,
        "message": "why this one?",
        "metadata": {"language": "en"},  # the page's language, with every message
    }
    last = rasa.state(sender).last
    assert last is not None and last.offers
    expect(shop.get_by_test_id("msg-bot").last).to_contain_text(last.offers[0]["title"])


def test_expert_view_opens_with_the_shoppers_answers(
    staff: Watched, shopper: Watched, stack: tuple[str, FakeRasa]
) -> None:
    url, _ = stack
    desk = staff.page
    sign_in_available(desk, url)
    shopper.page.goto(url + "/en/")
    bot_reply(shopper, ROAD_AT_ONCE)
    ask_for_a_person(shopper)
    accept_the_request(desk)
    hand_back(desk)

    desk.get_by_test_id("live-open-expert").click()

    expect(desk).to_have_url(re.compile(r"/console/sessions/[^/]+$"))
    budget = desk.locator('[data-testid="question"][data-question="budget"]')
    expect(budget.get_by_test_id("answer-said")).to_have_text("budget €1,500")
    height = desk.locator('[data-testid="question"][data-question="body_height_cm"]')
    expect(height.get_by_test_id("answer-said")).to_contain_text("182")


def test_expert_view_opens_with_the_answers_staff_changed(
    staff: Watched, shopper: Watched, stack: tuple[str, FakeRasa]
) -> None:
    url, rasa = stack
    desk = staff.page
    sign_in_available(desk, url)
    shopper.page.goto(url + "/en/")
    bot_reply(shopper, ROAD_AT_ONCE)
    ask_for_a_person(shopper)
    accept_the_request(desk)
    change_the_budget(desk, "about 2k")
    expect(shopper.page.get_by_test_id("staff-offers")).to_have_count(1)
    assert rasa.state(rasa.heard[-1]["sender"]).answers["budget"] == 2000.0
    hand_back(desk)

    desk.get_by_test_id("live-open-expert").click()

    expect(desk).to_have_url(re.compile(r"/console/sessions/[^/]+$"))
    budget = desk.locator('[data-testid="question"][data-question="budget"]')
    expect(budget.get_by_test_id("answer-said")).to_have_text("budget €2,000", timeout=2_000)


def test_outside_opening_hours_the_shopper_leaves_a_message(
    shopper: Watched, stack: tuple[str, FakeRasa]
) -> None:
    url, rasa = stack
    assert rasa.advisor.codes is not None
    store = HandoverStore(rasa.advisor.codes.engine)
    store.set_opening_hours(OpeningHours.parse({"sun": ["00:00-00:01"]}), by="admin")
    try:
        shop = shopper.page
        shop.goto(url + "/en/")
        bot_reply(shopper, "I'd like to talk to a human")
        expect(shop.get_by_test_id("nobody-available")).to_contain_text("not in right now")
        form = shop.get_by_test_id("leave-message-form")
        form.get_by_test_id("leave-text").fill("Please call me about a road bike.")
        form.get_by_test_id("leave-email").fill("not an address")
        form.get_by_test_id("leave-send").click()
        # The browser's own check of the email field stops it first; then a real one.
        expect(shop.get_by_test_id("leave-thanks")).to_have_count(0)
        form.get_by_test_id("leave-email").fill("kim@example.org")
        form.get_by_test_id("leave-send").click()
        expect(shop.get_by_test_id("leave-thanks")).to_be_visible()
        expect(shop.get_by_test_id("leave-message-form")).to_have_count(0)
        left = store.inbox()[0]
        assert (left.text, left.email) == ("Please call me about a road bike.", "kim@example.org")
        # The bot keeps helping meanwhile: the first question of the road bike.
        road = rasa.advisor.served("road_bike")
        assert road is not None
        bot_reply(shopper, "I want a road bike", next_question=road.ruleset.questions[0].text)
    finally:
        store.set_opening_hours(OpeningHours.around_the_clock(), by="admin")
