"""The chat widget in Debian's Chromium, driven by Playwright.

The web app runs for real under uvicorn. Rasa is :class:`tests.web.fake_rasa.FakeRasa`:
Rasa's REST channel and HTTP API answering through the real advisor over the demo
catalogue and the shipped rules, so every question, button, offer and way out the
widget shows is the engine's own. Each turn goes through :func:`bot_reply`, which fails
on silence, an empty bubble or a server error and checks the question asked next.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from advisor.service import Advisor
from advisor.settings import Settings
from product_rules.offers import offers_in
from product_rules.registry import RuleRegistry, ServedRuleSet
from tests.conftest import RULES
from tests.web.browser import Watched, bot_reply, needs_chromium, send
from tests.web.fake_rasa import FakeRasa
from tests.web.servers import LoopbackServer
from tests.web.test_app import TEST_DATABASE_URL
from web.app import UNAVAILABLE_MESSAGE, create_app
from web.conversation import COOKIE_NAME, decode_cookie

SECRET_KEY = "widget-test-secret"
RASA_TOKEN = "widget-test-rasa-token"
BROKEN = "this message crashes Rasa"

pytestmark = needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

# A 205 cm beginner with SPD shoes and €1,200: no gravel bike that cheap has a frame
# big enough, so the engine loosens the frame and offers raising the budget instead.
GRAVEL_AT_ONCE = (
    "I want a gravel bike for a bit of everything on smooth roads, "
    "I'm new to it, 1200 EUR, 205 cm, SPD shoes"
)
FRAME_LOOSENED = "a frame not too small for your height: from 58 cm instead of 61 cm"
# The way out's budget leaves room for the pedals the bikes need (the cheapest such bike
# alone costs €3,299), so taking it gives offers within it, loosened no further.
BUDGET_WAY_OUT = "your budget: up to €3,630 instead of €1,200"
SPD_ALERT = (
    "This bike comes with flat pedals; to ride in your SPD shoes, add matching clip-in pedals."
)
# A 182 cm beginner on €1,500 in normal shoes: 56 cm frames, flat pedals added.
ROAD_AT_ONCE = (
    "I want a road bike for long rides, I'm a beginner, budget 1500 EUR, 182 cm tall, normal shoes"
)
INTRO = "I help you find a bike"


def price(amount: float) -> str:
    """A price as the widget shows it on /en/ (en-GB: the euro sign first)."""
    return f"€{amount:,.2f}"


@pytest.fixture(scope="module")
def advisor(demo_db: Engine) -> Advisor:
    return Advisor(RuleRegistry(RULES, demo_db))


@pytest.fixture(scope="module")
def rasa(advisor: Advisor) -> FakeRasa:
    fake = FakeRasa(advisor, token=RASA_TOKEN)
    fake.broken.add(BROKEN)
    return fake


@pytest.fixture(scope="module")
def gravel(advisor: Advisor) -> ServedRuleSet:
    served = advisor.served("gravel_bike")
    assert served is not None
    return served


@pytest.fixture(scope="module")
def shop_url(rasa: FakeRasa) -> Iterator[str]:
    with LoopbackServer(rasa.app(), name="fake Rasa") as rasa_server:
        settings = Settings(
            rasa_url=rasa_server.url,
            request_timeout_s=5,
            secret_key=SECRET_KEY,
            rasa_token=RASA_TOKEN,
            database_url=TEST_DATABASE_URL,
        )
        with LoopbackServer(create_app(settings), name="web app", ready_path="/healthz") as web:
            yield web.url


@pytest.fixture
def shopper(browser: Any, shop_url: str, rasa: FakeRasa) -> Iterator[Watched]:
    # A fresh context per test: its own cookies, so its own conversation.
    watched = Watched(browser, width=1280, height=900, rasa=rasa)
    watched.page.goto(shop_url + "/en/")
    expect(watched.page.get_by_test_id("chat-log")).to_contain_text(INTRO)
    yield watched
    watched.close()


@pytest.fixture
def rewrite(rasa: FakeRasa) -> Iterator[FakeRasa]:
    """The fake Rasa, whose offers rewrite is undone after the test."""
    yield rasa
    rasa.rewrite_offers = None


def asks(served: ServedRuleSet, question_id: str) -> str:
    """The wording of a question of the rule set, as the chat asks it."""
    question = served.ruleset.question(question_id)
    assert question is not None, f"{served.ruleset.id} has no question {question_id}"
    return question.text


def options(served: ServedRuleSet, question_id: str) -> list[Any]:
    question = served.ruleset.question(question_id)
    assert question is not None
    return list(question.options)


def button(page: Any, title: str) -> Any:
    return page.get_by_test_id("chat-button").filter(has_text=title).last


def click(page: Any, title: str) -> Any:
    return lambda: button(page, title).click()


def conversation_cookie(page: Any) -> dict[str, Any]:
    [cookie] = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
    return dict(cookie)


def conversation_id(page: Any) -> str:
    decoded = decode_cookie(conversation_cookie(page)["value"], Settings(secret_key=SECRET_KEY))
    assert decoded is not None
    return decoded[0]


def offers_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    offers = offers_in(messages)
    assert offers is not None, f"no offers payload in {messages}"
    return dict(offers)


def main_item(offer: dict[str, Any]) -> dict[str, Any]:
    [main] = [i for i in offer["items"] if i["role"] == "main"]
    return dict(main)


def test_widget_runs_a_conversation_to_offers(
    shopper: Watched, rasa: FakeRasa, gravel: ServedRuleSet, tmp_path: Path
) -> None:
    page = shopper.page
    expect(
        page.get_by_role("heading", name="Find the right bike in a few questions")
    ).to_be_visible()

    bot_reply(shopper, "I want a gravel bike", next_question=asks(gravel, "riding"))

    expect(page.get_by_test_id("msg-user").last).to_have_text("I want a gravel bike")
    expect(page.get_by_test_id("chat-button")).to_have_text(
        [o.label for o in options(gravel, "riding")]
    )
    # The server chose the conversation: an HttpOnly cookie the page cannot read.
    cookie = conversation_cookie(page)
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Lax")
    assert COOKIE_NAME not in page.evaluate("document.cookie")
    assert page.evaluate("localStorage.getItem('bikeAdvisor.senderId')") is None
    sender = conversation_id(page)
    assert rasa.heard[-1] == {
        "sender": sender,
        "message": "I want a gravel bike",
        "metadata": {"language": "en"},  # the page is /en/
    }

    # Buttons and typed answers, each followed by the next question of the rule set.
    steps: list[tuple[Any, str]] = [
        (click(page, "A bit of everything, roads and gravel tracks"), "terrain"),
        (click(page, "Mostly tarmac and smooth gravel roads"), "experience"),
        (click(page, "I'm new to it"), "budget"),
        ("1200", "body_height_cm"),
        ("205 cm", "shoes_owned"),
    ]
    for act, next_id in steps:
        bot_reply(shopper, act, next_question=asks(gravel, next_id))
        for old in page.locator(".choices").all()[:-1]:
            for choice in old.get_by_test_id("chat-button").all():
                expect(choice).to_be_disabled()
    expect(page.get_by_test_id("msg-user")).to_have_text(
        [
            "I want a gravel bike",
            "A bit of everything, roads and gravel tracks",
            "Mostly tarmac and smooth gravel roads",
            "I'm new to it",
            "1200",
            "205 cm",
        ]
    )
    # Rasa got the buttons' payloads, the shopper's words as typed.
    assert [h["message"] for h in rasa.heard[-5:]] == [
        '/inform{"choice":"mixed"}',
        '/inform{"choice":"smooth"}',
        '/inform{"choice":"beginner"}',
        "1200",
        "205 cm",
    ]

    messages = bot_reply(shopper, click(page, "Yes, SPD (2-bolt)"))
    payload = offers_of(messages)
    assert payload["answers"] == {
        "riding": "mixed",
        "terrain": "smooth",
        "experience": "beginner",
        "budget": 1200.0,
        "body_height_cm": 205.0,
        "shoes_owned": "spd",
    }
    cards = page.get_by_test_id("offer-card")
    expect(cards).to_have_count(len(payload["offers"]))
    for offer, card in zip(payload["offers"], cards.all(), strict=True):
        main = main_item(offer)
        # The budget held; the frame was loosened to 58 cm, no further.
        assert offer["total_price"] <= 1200
        expect(card.get_by_test_id("offer-total")).to_have_text(
            f"Total {price(offer['total_price'])}"
        )
        assert 58 <= main["attributes"]["frame_size_cm"] < 61
        expect(card.get_by_test_id("item-attribute").first).to_have_text(
            f"Frame {main['attributes']['frame_size_cm']} cm"
        )
        expect(card.get_by_test_id("relaxed-note")).to_have_text(
            f"Not an exact match: to find this we loosened {FRAME_LOOSENED}."
        )
        # Pedals against shoes: flat pedals come with it, so the card says to add SPD ones.
        assert main["attributes"]["pedals_included"] is True
        alerts = card.get_by_test_id("offer-alerts")
        expect(alerts).to_have_attribute("role", "note")
        expect(alerts).to_have_accessible_name("Please note")
        expect(alerts.get_by_role("listitem")).to_have_text([SPD_ALERT])
        expect(card.get_by_test_id("item-role")).to_have_text(
            ["main"] + ["added: required"] * (len(offer["items"]) - 1)
        )
    first = cards.first
    # A tall reply is shown from its start: the sentence that says what was loosened.
    reply_start = page.get_by_test_id("msg-bot").last
    expect(reply_start).to_contain_text("Got it: Yes, SPD (2-bolt).")
    expect(reply_start).to_contain_text(f"{FRAME_LOOSENED}: 1 model (shown below)")
    expect(reply_start).to_be_in_viewport()
    assert reply_start.evaluate("(el) => el.getBoundingClientRect().top") >= 0
    expect(first.get_by_role("heading", level=3)).to_have_text(f"#1{payload['offers'][0]['title']}")

    # Above the cards: why nothing matched exactly, and every way out with its count.
    relaxation = page.get_by_test_id("relaxation")
    assert relaxation.evaluate(
        "(panel) => panel.compareDocumentPosition(document.querySelector("
        "'[data-testid=offer-card]')) === Node.DOCUMENT_POSITION_FOLLOWING"
    )
    expect(relaxation).to_have_accessible_name("Nothing matches all your wishes. Ways out:")
    expect(relaxation.get_by_test_id("relaxation-choice")).to_have_text(
        [f"{FRAME_LOOSENED} \u2014 1 model shown", f"{BUDGET_WAY_OUT} \u2014 1 model"]
    )
    expect(relaxation.locator(".tag--shown")).to_have_count(1)
    # The way out that answers can express is a button: the engine's own choice.
    [way_out] = [c for c in payload["relaxation"]["choices"] if not c["applied"]]
    assert way_out["answers"] == {"budget": 3630.0}

    cross_sell = page.get_by_test_id("cross-sell")
    expect(cross_sell.get_by_role("heading")).to_have_text("You might also need")
    expect(cross_sell.get_by_test_id("cross-sell-item")).to_have_count(len(payload["cross_sell"]))
    for entry, item in zip(
        payload["cross_sell"], cross_sell.get_by_test_id("cross-sell-item").all(), strict=True
    ):
        expect(item).to_contain_text(entry["name"])
        expect(item).to_contain_text(price(entry["price"]))
        expect(item).to_contain_text(entry["reason"])
    # The card fits the widget: nothing sticks out sideways at this viewport.
    box = first.bounding_box()
    log_box = page.get_by_test_id("chat-log").bounding_box()
    assert box is not None and log_box is not None
    assert box["x"] >= log_box["x"] and box["x"] + box["width"] <= log_box["x"] + log_box["width"]
    page.screenshot(path=str(tmp_path / "widget-offers.png"))

    # Taking the way out: the budget becomes what the choice said, the frame fits again.
    messages = bot_reply(shopper, click(page, BUDGET_WAY_OUT))
    expect(page.get_by_test_id("msg-user").last).to_contain_text(BUDGET_WAY_OUT)
    assert rasa.state(sender).answers["budget"] == 3630.0
    assert rasa.heard[-1]["message"] == '/inform{"choice":"relax-1"}'
    expect(page.get_by_test_id("msg-bot").last).to_contain_text("budget €3,630")
    payload = offers_of(messages)
    latest = page.get_by_test_id("offers").last
    expect(latest.get_by_test_id("offer-card")).to_have_count(len(payload["offers"]))
    for offer in payload["offers"]:
        main = main_item(offer)
        assert main["attributes"]["frame_size_cm"] >= 61, "the frame wish is no longer loosened"
        [pedals] = [i for i in offer["items"] if i["category"] == "pedals"]
        assert (pedals["role"], pedals["attributes"]["cleat_system"]) == ("required", "spd")
        # The budget the button named holds: nothing is loosened again.
        assert offer["relaxed"] == [], offer["relaxed"]
        assert offer["total_price"] <= 3630
    expect(latest.get_by_test_id("relaxation")).to_have_count(0)
    expect(latest.get_by_test_id("offer-item").filter(has_text="SPD cleats")).to_have_count(
        len(payload["offers"])
    )


def test_widget_keeps_a_first_answer_until_the_product_is_known(
    shopper: Watched, rasa: FakeRasa, advisor: Advisor
) -> None:
    page = shopper.page
    road = advisor.served("road_bike")
    assert road is not None

    bot_reply(shopper, "long rides", next_question="What are you looking for?")
    expect(page.get_by_test_id("msg-bot").last).to_contain_text('Noted: "long rides"')

    bot_reply(
        shopper,
        click(page, "Road bike"),
        next_question=asks(road, "experience"),
    )
    assert rasa.state(conversation_id(page)).answers == {"usage": "endurance"}


def test_widget_renders_offers_without_alerts_or_relaxation(
    shopper: Watched, rewrite: FakeRasa
) -> None:
    def legacy(payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as it was before "ruleset", "alerts" and "relaxation" existed."""
        old = copy.deepcopy(payload)
        del old["ruleset"], old["relaxation"]
        for offer in old["offers"]:
            del offer["alerts"]
        return old

    rewrite.rewrite_offers = legacy
    page = shopper.page

    payload = offers_of(bot_reply(shopper, ROAD_AT_ONCE))

    assert "relaxation" not in payload and "alerts" not in payload["offers"][0]
    cards = page.get_by_test_id("offer-card")
    expect(cards).to_have_count(3)
    for offer, card in zip(payload["offers"], cards.all(), strict=True):
        main = main_item(offer)
        assert offer["total_price"] <= 1500
        expect(card.get_by_test_id("offer-total")).to_have_text(
            f"Total {price(offer['total_price'])}"
        )
        # 182 cm rides a 56 cm frame; a bike without pedals gets flat ones for a beginner.
        assert main["attributes"]["frame_size_cm"] == 56
        expect(card.get_by_test_id("item-attribute").first).to_have_text("Frame 56 cm")
        expect(card.get_by_test_id("offer-reasons")).to_contain_text(
            "Frame 56 cm fits your height of 182 cm"
        )
        if main["attributes"]["pedals_included"] is False:
            [pedals] = [i for i in offer["items"] if i["category"] == "pedals"]
            assert (pedals["role"], pedals["attributes"]["cleat_system"]) == ("required", "flat")
            expect(card).to_contain_text("Ships without pedals")
            expect(card).to_contain_text("Flat pedals (no cleats)")
    expect(page.get_by_test_id("relaxed-note")).to_have_count(0)
    expect(page.get_by_test_id("offer-alerts")).to_have_count(0)
    expect(page.get_by_test_id("relaxation")).to_have_count(0)
    expect(page.get_by_test_id("cross-sell-item")).to_have_count(len(payload["cross_sell"]))


def test_widget_shows_markup_in_alerts_and_ways_out_literally(
    shopper: Watched, rewrite: FakeRasa
) -> None:
    def hostile(payload: dict[str, Any]) -> dict[str, Any]:
        """Markup in every new text field: the widget must show it as text."""
        changed = copy.deepcopy(payload)
        changed["offers"][0]["alerts"] = ["<img src=x onerror=alert(1)> alert"]
        changed["relaxation"]["choices"][0]["relax"] = ["<b>frame</b> size"]
        return changed

    rewrite.rewrite_offers = hostile

    bot_reply(shopper, GRAVEL_AT_ONCE)

    offers = shopper.page.get_by_test_id("offers")
    expect(offers.get_by_test_id("offer-alerts").get_by_role("listitem")).to_have_text(
        "<img src=x onerror=alert(1)> alert"
    )
    expect(offers.get_by_test_id("relaxation-choice").first).to_have_text(
        "<b>frame</b> size \u2014 1 model shown"
    )
    expect(offers.locator("img, b")).to_have_count(0)


def test_widget_shows_markup_literally(shopper: Watched) -> None:
    page = shopper.page

    bot_reply(shopper, "<b>long rides</b>", next_question="What are you looking for?")

    expect(page.get_by_test_id("msg-user").last).to_have_text("<b>long rides</b>")
    expect(page.get_by_test_id("msg-bot").last).to_contain_text('Noted: "<b>long rides</b>".')
    expect(page.get_by_test_id("chat-log").locator("b")).to_have_count(0)


def test_widget_ignores_empty_input(shopper: Watched, rasa: FakeRasa) -> None:
    before = len(rasa.heard)

    send(shopper.page, "   ")
    shopper.page.get_by_test_id("chat-send").click()

    expect(shopper.page.get_by_test_id("msg-user")).to_have_count(0)
    expect(shopper.page.get_by_test_id("chat-input")).to_have_value("   ")
    assert len(rasa.heard) == before


def test_widget_keeps_conversation_when_advisor_fails(
    shopper: Watched, gravel: ServedRuleSet
) -> None:
    page = shopper.page
    bot_reply(
        shopper,
        "I want a gravel bike",
        next_question=asks(gravel, "riding"),
    )

    with (
        shopper.server_errors() as failures,
        page.expect_response(lambda r: r.url.endswith("/api/chat")) as caught,
    ):
        send(page, BROKEN)

    assert caught.value.status == 503
    assert failures == [f"POST {caught.value.url} -> 503"]
    expect(page.get_by_test_id("msg-system")).to_have_text(UNAVAILABLE_MESSAGE)
    expect(page.get_by_test_id("msg-user")).to_have_text(["I want a gravel bike", BROKEN])
    expect(page.get_by_test_id("chat-input")).to_have_value(BROKEN)
    # Nothing was answered, so the earlier question's buttons still work, and do.
    expect(page.get_by_test_id("chat-button").first).to_be_enabled()
    bot_reply(
        shopper,
        click(page, "A bit of everything, roads and gravel tracks"),
        next_question=asks(gravel, "terrain"),
    )


def test_widget_start_over_clears_the_conversation(
    shopper: Watched, rasa: FakeRasa, gravel: ServedRuleSet
) -> None:
    page = shopper.page
    bot_reply(
        shopper,
        "I want a gravel bike",
        next_question=asks(gravel, "riding"),
    )
    bot_reply(shopper, click(page, "A bit of everything, roads and gravel tracks"))
    sender = conversation_id(page)
    assert rasa.state(sender).answers == {"riding": "mixed"}

    bot_reply(shopper, lambda: page.get_by_test_id("chat-restart").click(), silent=True)

    expect(page.get_by_test_id("msg-bot")).to_have_count(0)
    expect(page.get_by_test_id("msg-user")).to_have_count(0)
    expect(page.get_by_test_id("chat-log")).to_contain_text(INTRO)
    assert rasa.heard[-1] == {
        "sender": sender,
        "message": "/restart",
        "metadata": {"language": "en"},
    }
    assert rasa.state(sender).answers == {}
    # The next message starts from the first question again.
    bot_reply(
        shopper,
        "I want a gravel bike",
        next_question=asks(gravel, "riding"),
    )


def test_category_tile_starts_the_advisor(
    shopper: Watched, rasa: FakeRasa, gravel: ServedRuleSet
) -> None:
    page = shopper.page

    bot_reply(
        shopper,
        lambda: page.get_by_role("link", name="Gravel bikes").click(),
        next_question=asks(gravel, "riding"),
    )

    expect(page.get_by_test_id("msg-user")).to_have_text("I'm looking for a gravel bike")
    expect(page.get_by_test_id("msg-bot")).to_have_count(1)
    assert rasa.heard[-1]["message"] == "I'm looking for a gravel bike"
    assert rasa.state(conversation_id(page)).ruleset == "gravel_bike"


def test_widget_shows_a_sentence_when_rasa_says_nothing(
    shopper: Watched, rasa: FakeRasa, gravel: ServedRuleSet
) -> None:
    page = shopper.page
    bot_reply(
        shopper,
        "I want a gravel bike",
        next_question=asks(gravel, "riding"),
    )
    rasa.actions_down = True  # Rasa answers []
    try:
        # No question again: the polite sentence asks for the last message once more.
        messages = bot_reply(shopper, "mixed", next_question="please send your last message again")
    finally:
        rasa.actions_down = False

    [message] = messages
    assert message["text"].startswith("Sorry, something went wrong on my side.")
    expect(page.get_by_test_id("msg-bot").last).to_contain_text(
        "Sorry, something went wrong on my side."
    )
    # Nothing was lost: the same question is still open, and the answer, sent again, counts.
    sender = conversation_id(page)
    assert (rasa.state(sender).question, rasa.state(sender).answers) == ("riding", {})
    bot_reply(shopper, "a bit of everything", next_question=asks(gravel, "terrain"))
    assert rasa.state(sender).answers == {"riding": "mixed"}


def test_widget_reload_shows_the_conversation_so_far(
    shopper: Watched, browser: Any, shop_url: str, rasa: FakeRasa, gravel: ServedRuleSet
) -> None:
    page = shopper.page
    bot_reply(shopper, "I want a gravel bike")
    messages = bot_reply(shopper, GRAVEL_AT_ONCE)
    payload = offers_of(messages)
    expect(page.get_by_test_id("offer-card")).to_have_count(len(payload["offers"]))
    shown_before = page.get_by_test_id("msg-bot").evaluate_all(
        "(bubbles) => bubbles.map((b) => b.textContent)"
    )
    sender = conversation_id(page)

    page.reload()

    # The shopper's words and the bot's, as they were shown.
    expect(page.get_by_test_id("msg-user")).to_have_text(["I want a gravel bike", GRAVEL_AT_ONCE])
    expect(page.get_by_test_id("msg-bot")).to_have_text(shown_before)
    expect(page.get_by_test_id("offer-card")).to_have_count(len(payload["offers"]))
    expect(page.get_by_test_id("relaxation-choice")).to_have_count(2)
    expect(page.get_by_test_id("cross-sell-item")).to_have_count(len(payload["cross_sell"]))
    expect(page.get_by_test_id("chat-log")).to_contain_text(INTRO)
    # Only the latest reply's buttons (the way out) still work after the reload.
    enabled = page.locator("[data-testid=chat-button]:enabled")
    expect(enabled).to_have_count(1)
    expect(enabled).to_contain_text(BUDGET_WAY_OUT)
    expect(page.get_by_test_id("msg-system")).to_have_count(0)

    # The same conversation goes on after the reload, from the same answers.
    bot_reply(shopper, "why?")
    assert rasa.heard[-1]["sender"] == sender
    expect(page.get_by_test_id("msg-bot").last).to_contain_text(payload["offers"][0]["title"])

    # Another browser has a conversation of its own and sees nothing of this one.
    stranger = Watched(browser, rasa=rasa)
    try:
        stranger.page.goto(shop_url + "/en/")
        expect(stranger.page.get_by_test_id("chat-log")).to_contain_text(INTRO)
        expect(stranger.page.get_by_test_id("typing-indicator")).to_be_hidden()
        expect(stranger.page.get_by_test_id("msg-user")).to_have_count(0)
        expect(stranger.page.get_by_test_id("msg-bot")).to_have_count(0)
        bot_reply(
            stranger,
            "I want a gravel bike",
            next_question=asks(gravel, "riding"),
        )
        assert rasa.heard[-1]["sender"] != sender
    finally:
        stranger.close()


def test_widget_start_over_then_reload_shows_no_old_messages(
    shopper: Watched, gravel: ServedRuleSet
) -> None:
    page = shopper.page
    bot_reply(
        shopper,
        "I want a gravel bike",
        next_question=asks(gravel, "riding"),
    )
    bot_reply(shopper, lambda: page.get_by_test_id("chat-restart").click(), silent=True)
    expect(page.get_by_test_id("msg-bot")).to_have_count(0)

    page.reload()

    expect(page.get_by_test_id("chat-log")).to_contain_text(INTRO)
    expect(page.get_by_test_id("typing-indicator")).to_be_hidden()
    expect(page.get_by_test_id("msg-user")).to_have_count(0)
    expect(page.get_by_test_id("msg-bot")).to_have_count(0)


def test_widget_asks_for_a_rating_after_the_offers_and_reports_a_choice(shopper: Watched) -> None:
    from sqlalchemy import create_engine, inspect
    from sqlmodel import Session, col, select

    from advisor.events import AdvisorEvent
    from advisor.ratings import RatingStore
    from tests.web.servers import poll_until

    page = shopper.page
    payload = offers_of(bot_reply(shopper, ROAD_AT_ONCE))
    rating = page.get_by_test_id("rating-form")
    expect(rating).to_have_count(1)
    expect(rating).to_contain_text("How was the advice?")
    for label in ["Excellent", "Good", "Okay", "Poor", "Frustrated"]:
        expect(rating).to_contain_text(label)
    rating.get_by_test_id("rating-step-2").check()
    rating.get_by_test_id("rating-comment").fill("Clear and quick")
    rating.get_by_test_id("rating-send").click()
    expect(rating.get_by_test_id("rating-status")).to_have_text(
        "Thank you for your rating. You can change it for a few minutes."
    )
    conversation = conversation_id(page)
    stored = RatingStore(create_engine(TEST_DATABASE_URL)).get(conversation, "bot")
    assert stored is not None and (stored.step, stored.comment) == (2, "Clear and quick")

    first = payload["offers"][0]
    page.get_by_test_id("offer-card").first.get_by_test_id("offer-choose").click()
    expect(page.get_by_test_id("offer-chosen")).to_have_text(
        f"Good choice: {first['title']}. Add it to your basket in the shop, "
        "or ask me anything about it."
    )
    engine = create_engine(TEST_DATABASE_URL)

    def clicked() -> list[AdvisorEvent]:
        # The app writes its events every half second; the table comes with the first.
        if not inspect(engine).has_table(AdvisorEvent.__tablename__):
            return []
        with Session(engine) as session:
            return list(
                session.exec(
                    select(AdvisorEvent).where(
                        col(AdvisorEvent.conversation) == conversation,
                        col(AdvisorEvent.kind) == "offer_clicked",
                    )
                )
            )

    [event] = poll_until(clicked, timeout_s=5, message="the click never reached the event log")
    assert event.value == "1" and event.data == {"sku": main_item(first)["sku"]}
    # Once per conversation: a second offers message asks no second time.
    bot_reply(shopper, "actually my budget is 2000")
    expect(page.get_by_test_id("rating-form")).to_have_count(1)
