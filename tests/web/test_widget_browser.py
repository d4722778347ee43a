"""The chat widget in Debian's Chromium, driven by Playwright.

The web app runs for real under uvicorn. Rasa is replaced by a test double: a tiny ASGI
app, also under uvicorn on its own loopback port, that answers the REST-channel protocol
with scripted replies (text with buttons, then an offers payload) and keeps each
conversation's events for its tracker endpoint (token required), so a reload can show
the conversation again. It exists only so this test can check how the browser renders
replies; the real Rasa is exercised by the integration tests.
"""

from __future__ import annotations

import copy
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.web.test_app import TEST_DATABASE_URL
from web.app import UNAVAILABLE_MESSAGE, create_app
from web.conversation import COOKIE_NAME, decode_cookie
from web.settings import WebSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000
SECRET_KEY = "widget-test-secret"
RASA_TOKEN = "widget-test-rasa-token"

pytestmark = [
    pytest.mark.browser,
    # Skipped on a developer machine without Chromium; in CI (`make test` installs it)
    # a missing browser is a failure, not a skip.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

BEGINNER_PAYLOAD = '/inform{"experience":"beginner"}'
EXPERT_PAYLOAD = '/inform{"experience":"expert"}'
MARKUP_PAYLOAD = '/inform{"experience":"markup"}'

FRAME_RELAXED = "frame size: 54 to 58 cm instead of exactly 56 cm"
BUDGET_RELAXED = "your budget: up to 1,900 EUR instead of 1,500 EUR"
GEOMETRY_RELAXED = "without endurance geometry"
RACE_ALERT = "A race geometry is less comfortable on long rides; a test ride is worth it."
RIM_ALERT = "Rim brakes stop later in the wet."

# The current contract: "ruleset", per-offer "alerts" and a "relaxation" block.
OFFERS: dict[str, Any] = {
    "type": "offers",
    "ruleset": "road_bike",
    "answers": {"usage": "endurance", "experience": "beginner", "budget": 1500},
    "offers": [
        {
            "rank": 1,
            "title": "Endurance road bike, ready to ride",
            "total_price": 1479.0,
            "currency": "EUR",
            "items": [
                {
                    "sku": "RB-END-56",
                    "name": "Veloce Endurance 105",
                    "category": "road_bike",
                    "role": "main",
                    "price": 1299.0,
                    "in_stock": True,
                    "attributes": {"frame_size_cm": 56, "pedals_included": False},
                },
                {
                    "sku": "PD-M520",
                    "name": "Shimano PD-M520 pedals",
                    "category": "pedals",
                    "role": "required",
                    "price": 49.0,
                    "in_stock": True,
                    "attributes": {"cleat_system": "spd"},
                },
                {
                    "sku": "SH-RC1",
                    "name": "Shimano RC1 shoes",
                    "category": "shoes",
                    "role": "option",
                    "price": 131.0,
                    "in_stock": False,
                    "attributes": {"cleat_system": "spd"},
                },
            ],
            "reasons": [
                "Relaxed endurance geometry for long weekend rides",
                "A 56 cm frame fits a body height of 182 cm",
            ],
            "relaxed": [FRAME_RELAXED],
            "alerts": [RACE_ALERT, RIM_ALERT],
        },
        {
            "rank": 2,
            "title": "Aluminium road bike with flat pedals",
            "total_price": 1049.0,
            "currency": "EUR",
            "items": [
                {
                    "sku": "RB-ALU-58",
                    "name": "Strada Alu Sora",
                    "category": "road_bike",
                    "role": "main",
                    "price": 999.0,
                    "in_stock": True,
                    "attributes": {"frame_size_cm": 58, "pedals_included": False},
                },
                {
                    "sku": "PD-FLAT",
                    "name": "Flat pedals",
                    "category": "pedals",
                    "role": "required",
                    "price": 50.0,
                    "in_stock": True,
                    "attributes": {"cleat_system": "flat"},
                },
            ],
            "reasons": ["Well below your budget"],
            "relaxed": [FRAME_RELAXED],
            "alerts": [],
        },
    ],
    "cross_sell": [
        {
            "sku": "HE-1",
            "name": "Aero helmet",
            "category": "helmet",
            "price": 59.0,
            "reason": "A helmet is a must on the road",
        },
        {
            "sku": "LI-1",
            "name": "Light set",
            "category": "lights",
            "price": 39.9,
            "reason": "Be seen on darker evenings",
        },
    ],
    "relaxation": {
        "unmet": ["frame size", "your budget"],
        "choices": [
            {"relax": [FRAME_RELAXED], "filters": ["fits_rider"], "count": 2, "applied": True},
            {"relax": [BUDGET_RELAXED], "filters": ["fits_budget"], "count": 1, "applied": False},
            {
                "relax": [BUDGET_RELAXED, GEOMETRY_RELAXED],
                "filters": ["fits_budget", "geometry_for_usage"],
                "count": 5,
                "applied": False,
            },
        ],
    },
}


def legacy_offers() -> dict[str, Any]:
    """The payload as it was before "ruleset", "alerts" and "relaxation" existed."""
    legacy = copy.deepcopy(OFFERS)
    del legacy["ruleset"], legacy["relaxation"]
    for offer in legacy["offers"]:
        del offer["alerts"]
    legacy["offers"][0]["relaxed"] = []
    legacy["offers"][1]["relaxed"] = ["frame size 56 cm"]
    return legacy


def markup_offers() -> dict[str, Any]:
    """Markup in every new text field: the widget must show it as text."""
    hostile = copy.deepcopy(OFFERS)
    hostile["offers"][0]["alerts"] = ["<img src=x onerror=alert(1)> alert"]
    hostile["relaxation"]["choices"][0]["relax"] = ["<b>frame</b> size"]
    return hostile


OFFERS_BY_MESSAGE = {
    BEGINNER_PAYLOAD: OFFERS,
    EXPERT_PAYLOAD: legacy_offers(),
    MARKUP_PAYLOAD: markup_offers(),
}


def scripted_replies(sender: str, message: str) -> list[dict[str, Any]]:
    """What the fake Rasa answers to ``message``."""
    if message == "/restart":
        return []
    if message in OFFERS_BY_MESSAGE:
        return [
            {"recipient_id": sender, "text": "Here are my top picks for you."},
            {"recipient_id": sender, "custom": OFFERS_BY_MESSAGE[message]},
            {"recipient_id": sender, "custom": {"type": "handoff", "code": "ABC123"}},
            {"recipient_id": sender, "text": "Anything else I can help with?"},
        ]
    if "<" in message:
        return [{"recipient_id": sender, "text": f"You said: {message}"}]
    return [
        {
            "recipient_id": sender,
            "text": "Great, a road bike!\nHow experienced are you?",
            "buttons": [
                {"title": "Beginner", "payload": BEGINNER_PAYLOAD},
                {"title": "Experienced", "payload": EXPERT_PAYLOAD},
            ],
        }
    ]


def fake_rasa_app(received: list[dict[str, Any]]) -> FastAPI:
    """A stand-in for Rasa's REST channel and tracker endpoint, keyed on the message."""
    app = FastAPI()
    events: dict[str, list[dict[str, Any]]] = {}

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        sender, message = body["sender"], body["message"]
        if message == "fail":
            return JSONResponse(status_code=500, content={"error": "boom"})
        replies = scripted_replies(sender, message)
        if message == "/restart":
            events[sender] = []  # like Rasa: the tracker starts after the restart
        else:
            log = events.setdefault(sender, [])
            log.append({"event": "user", "text": message})
            for reply in replies:
                data = {k: reply[k] for k in ("buttons", "custom") if k in reply}
                log.append({"event": "bot", "text": reply.get("text"), "data": data})
        return JSONResponse(replies)

    @app.get("/conversations/{sender}/tracker")
    async def tracker(sender: str, request: Request) -> JSONResponse:
        if request.query_params.get("token") != RASA_TOKEN:
            return JSONResponse(status_code=401, content={"reason": "NotAuthenticated"})
        return JSONResponse({"sender_id": sender, "events": events.get(sender, [])})

    return app


class LoopbackServer:
    """Serve an ASGI app with uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, app: Any) -> None:
        # Binding here and handing uvicorn the socket avoids a race for the port.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def shop_url(received: list[dict[str, Any]]) -> Iterator[str]:
    with LoopbackServer(fake_rasa_app(received)) as rasa:
        settings = WebSettings(
            rasa_url=rasa.url,
            request_timeout_s=5,
            secret_key=SECRET_KEY,
            rasa_token=RASA_TOKEN,
            database_url=TEST_DATABASE_URL,
        )
        app = create_app(settings)
        with LoopbackServer(app) as web:
            yield web.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, shop_url: str) -> Iterator[Any]:
    # A fresh context per test: its own cookies, so its own conversation.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(shop_url + "/")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def send(page: Any, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")


def conversation_cookie(page: Any) -> dict[str, Any]:
    [cookie] = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
    return dict(cookie)


def conversation_id(page: Any) -> str:
    decoded = decode_cookie(conversation_cookie(page)["value"], WebSettings(secret_key=SECRET_KEY))
    assert decoded is not None
    return decoded[0]


def test_widget_runs_a_conversation_to_offers(
    page: Any, received: list[dict[str, Any]], tmp_path: Path
) -> None:
    expect(
        page.get_by_role("heading", name="Find the right bike in a few questions")
    ).to_be_visible()

    send(page, "I want a road bike")

    expect(page.get_by_test_id("msg-user").last).to_have_text("I want a road bike")
    question = page.get_by_test_id("msg-bot").last
    expect(question).to_contain_text("How experienced are you?")
    expect(question.locator(".msg__line")).to_have_count(2)
    # The server chose the conversation: an HttpOnly cookie the page cannot read.
    cookie = conversation_cookie(page)
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Lax")
    assert COOKIE_NAME not in page.evaluate("document.cookie")
    assert page.evaluate("localStorage.getItem('bikeAdvisor.senderId')") is None
    assert received[-1] == {"sender": conversation_id(page), "message": "I want a road bike"}

    page.get_by_test_id("chat-button").filter(has_text="Beginner").click()

    expect(page.get_by_test_id("msg-user").last).to_have_text("Beginner")
    expect(page.get_by_test_id("offer-card")).to_have_count(2)
    assert received[-1]["message"] == BEGINNER_PAYLOAD
    for button in page.get_by_test_id("chat-button").all():
        expect(button).to_be_disabled()

    first = page.get_by_test_id("offer-card").first
    # A tall reply is shown from its start, so the best offer is what the shopper sees.
    expect(first.get_by_role("heading", level=3)).to_be_in_viewport()
    expect(first.get_by_role("heading", level=3)).to_contain_text("Endurance road bike")
    expect(first.get_by_test_id("offer-total")).to_have_text("Total 1,479.00 EUR")
    expect(first.get_by_test_id("offer-reasons")).to_contain_text("56 cm frame fits")
    expect(first.get_by_test_id("item-role")).to_have_text(["main", "added: required", "option"])
    expect(first.get_by_test_id("item-attribute").first).to_have_text("Frame 56 cm")
    expect(first).to_contain_text("SPD cleats")
    expect(first.get_by_test_id("stock-badge").first).to_have_text("In stock")
    alerts = first.get_by_test_id("offer-alerts")
    expect(alerts).to_have_attribute("role", "note")
    expect(alerts).to_have_accessible_name("Please note")
    expect(alerts.get_by_role("listitem")).to_have_text([RACE_ALERT, RIM_ALERT])
    expect(first.get_by_test_id("relaxed-note")).to_contain_text(FRAME_RELAXED)
    second = page.get_by_test_id("offer-card").nth(1)
    expect(second.get_by_test_id("offer-alerts")).to_have_count(0)

    # Above the cards: why nothing matched exactly, and every way out with its count.
    relaxation = page.get_by_test_id("relaxation")
    expect(relaxation).to_be_in_viewport()
    assert relaxation.evaluate(
        "(panel) => panel.compareDocumentPosition(document.querySelector("
        "'[data-testid=offer-card]')) === Node.DOCUMENT_POSITION_FOLLOWING"
    )
    expect(relaxation).to_have_accessible_name("Nothing matches all your wishes. Ways out:")
    expect(relaxation.get_by_test_id("relaxation-choice")).to_have_text(
        [
            f"{FRAME_RELAXED} \u2014 2 models shown",
            f"{BUDGET_RELAXED} \u2014 1 model",
            f"{BUDGET_RELAXED} and {GEOMETRY_RELAXED} \u2014 5 models",
        ]
    )
    expect(relaxation.locator(".tag--shown")).to_have_count(1)

    cross_sell = page.get_by_test_id("cross-sell")
    expect(cross_sell.get_by_role("heading")).to_have_text("You might also need")
    expect(cross_sell.get_by_test_id("cross-sell-item")).to_have_count(2)
    expect(cross_sell).to_contain_text("Aero helmet")
    expect(cross_sell).to_contain_text("59.00 EUR")
    expect(cross_sell).to_contain_text("A helmet is a must on the road")
    # The unknown "handoff" payload shows nothing and does not stop what follows.
    expect(page.get_by_test_id("msg-bot").last).to_have_text("Anything else I can help with?")

    shot = tmp_path / "widget-offers.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    card_shot = tmp_path / "widget-offer-card.png"
    first.screenshot(path=str(card_shot))
    assert card_shot.stat().st_size > 0


def test_widget_renders_offers_without_alerts_or_relaxation(page: Any) -> None:
    send(page, "I want a road bike")
    page.get_by_test_id("chat-button").filter(has_text="Experienced").click()

    expect(page.get_by_test_id("offer-card")).to_have_count(2)
    first = page.get_by_test_id("offer-card").first
    expect(first.get_by_role("heading", level=3)).to_contain_text("Endurance road bike")
    expect(first.get_by_test_id("offer-total")).to_have_text("Total 1,479.00 EUR")
    expect(first.get_by_test_id("offer-reasons")).to_contain_text("56 cm frame fits")
    expect(first.get_by_test_id("relaxed-note")).to_have_count(0)
    second = page.get_by_test_id("offer-card").nth(1)
    expect(second.get_by_test_id("relaxed-note")).to_contain_text("frame size 56 cm")
    expect(page.get_by_test_id("offer-alerts")).to_have_count(0)
    expect(page.get_by_test_id("relaxation")).to_have_count(0)
    expect(page.get_by_test_id("cross-sell-item")).to_have_count(2)
    expect(page.get_by_test_id("msg-bot").last).to_have_text("Anything else I can help with?")


def test_widget_shows_markup_in_alerts_and_ways_out_literally(page: Any) -> None:
    send(page, MARKUP_PAYLOAD)

    offers = page.get_by_test_id("offers")
    expect(offers.get_by_test_id("offer-alerts").get_by_role("listitem")).to_have_text(
        "<img src=x onerror=alert(1)> alert"
    )
    expect(offers.get_by_test_id("relaxation-choice").first).to_contain_text("<b>frame</b> size")
    expect(offers.locator("img, b")).to_have_count(0)


def test_widget_shows_markup_literally(page: Any) -> None:
    send(page, "<b>bold</b>")

    expect(page.get_by_test_id("msg-user").last).to_have_text("<b>bold</b>")
    expect(page.get_by_test_id("msg-bot").last).to_have_text("You said: <b>bold</b>")
    expect(page.get_by_test_id("chat-log").locator("b")).to_have_count(0)


def test_widget_ignores_empty_input(page: Any, received: list[dict[str, Any]]) -> None:
    before = len(received)

    send(page, "   ")
    page.get_by_test_id("chat-send").click()

    expect(page.get_by_test_id("msg-user")).to_have_count(0)
    assert len(received) == before


def test_widget_keeps_conversation_when_advisor_fails(page: Any) -> None:
    send(page, "I want a road bike")
    expect(page.get_by_test_id("chat-button").first).to_be_enabled()

    send(page, "fail")

    expect(page.get_by_test_id("msg-system")).to_have_text(UNAVAILABLE_MESSAGE)
    expect(page.get_by_test_id("msg-user")).to_have_text(["I want a road bike", "fail"])
    expect(page.get_by_test_id("chat-input")).to_have_value("fail")
    # Nothing was answered, so the earlier question's buttons still work.
    expect(page.get_by_test_id("chat-button").first).to_be_enabled()


def test_widget_start_over_clears_the_conversation(
    page: Any, received: list[dict[str, Any]]
) -> None:
    send(page, "I want a road bike")
    expect(page.get_by_test_id("msg-bot")).to_have_count(1)

    page.get_by_test_id("chat-restart").click()

    expect(page.get_by_test_id("msg-bot")).to_have_count(0)
    expect(page.get_by_test_id("msg-user")).to_have_count(0)
    expect(page.get_by_test_id("chat-log")).to_contain_text("I help you find a bike")
    assert received[-1]["message"] == "/restart"


def test_category_tile_starts_the_advisor(page: Any, received: list[dict[str, Any]]) -> None:
    page.get_by_role("link", name="Gravel bikes").click()

    expect(page.get_by_test_id("msg-user")).to_have_text("I'm looking for a gravel bike")
    expect(page.get_by_test_id("msg-bot")).to_have_count(1)
    assert received[-1]["message"] == "I'm looking for a gravel bike"


def test_widget_reload_shows_the_conversation_so_far(
    page: Any, browser: Any, shop_url: str, received: list[dict[str, Any]]
) -> None:
    send(page, "I want a road bike")
    page.get_by_test_id("chat-button").filter(has_text="Beginner").click()
    expect(page.get_by_test_id("offer-card")).to_have_count(2)
    sender = conversation_id(page)

    page.reload()

    # The shopper's words as they were shown (the button's title, not its payload).
    expect(page.get_by_test_id("msg-user")).to_have_text(["I want a road bike", "Beginner"])
    expect(page.get_by_test_id("offer-card")).to_have_count(2)
    expect(page.get_by_test_id("cross-sell-item")).to_have_count(2)
    expect(page.get_by_test_id("msg-bot").last).to_have_text("Anything else I can help with?")
    expect(page.get_by_test_id("chat-log")).to_contain_text("I help you find a bike")
    # The question was answered: its buttons stay disabled after the reload too.
    for button in page.get_by_test_id("chat-button").all():
        expect(button).to_be_disabled()
    expect(page.get_by_test_id("msg-system")).to_have_count(0)

    # The same conversation goes on after the reload.
    send(page, "<i>more</i>")
    expect(page.get_by_test_id("msg-bot").last).to_have_text("You said: <i>more</i>")
    assert received[-1]["sender"] == sender

    # Another browser has a conversation of its own and sees nothing of this one.
    other = browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(shop_url + "/")
        expect(stranger.get_by_test_id("chat-log")).to_contain_text("I help you find a bike")
        expect(stranger.get_by_test_id("typing-indicator")).to_be_hidden()
        expect(stranger.get_by_test_id("msg-user")).to_have_count(0)
        expect(stranger.get_by_test_id("msg-bot")).to_have_count(0)
        send(stranger, "I want a road bike")
        expect(stranger.get_by_test_id("msg-bot")).to_have_count(1)
        assert received[-1]["sender"] != sender
    finally:
        other.close()


def test_widget_start_over_then_reload_shows_no_old_messages(page: Any) -> None:
    send(page, "I want a road bike")
    expect(page.get_by_test_id("msg-bot")).to_have_count(1)
    page.get_by_test_id("chat-restart").click()
    expect(page.get_by_test_id("msg-bot")).to_have_count(0)

    page.reload()

    expect(page.get_by_test_id("chat-log")).to_contain_text("I help you find a bike")
    expect(page.get_by_test_id("typing-indicator")).to_be_hidden()
    expect(page.get_by_test_id("msg-user")).to_have_count(0)
    expect(page.get_by_test_id("msg-bot")).to_have_count(0)
