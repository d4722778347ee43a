"""Talk to a human, in Debian's Chromium: a shopper and a staff member in two contexts.

The web app runs for real under uvicorn on a loopback port, on a temporary SQLite
database with the demo catalogue and one staff account. Rasa is a test double (as in
``test_widget_browser.py``): it shows offers, answers "talk to a human" with a real
hand-over code and the ``handoff`` payload, takes pause and resume events on its HTTP
API, and stays silent while paused, like Rasa.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from advisor import accounts
from advisor.db import create_tables as create_advisor_tables
from advisor.handover import HandoverStore
from advisor.routing import OpeningHours
from advisor.sharing import ShareStore
from advisor.state import ConversationState
from catalog.db import create_tables, make_engine
from catalog.demo import build_demo_catalog
from tests.conftest import RULES
from tests.web.test_console_browser import Watched
from tests.web.test_widget_browser import CHROMIUM, CHROMIUM_ARGS, OFFERS, LoopbackServer
from web.app import create_app
from web.settings import WebSettings

PASSWORD = "correct horse battery"
RASA_TOKEN = "live-browser-rasa-token"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect


class Bot:
    """What the fake Rasa heard, and which conversations it is paused for."""

    def __init__(self, codes: ShareStore) -> None:
        self.codes = codes
        self.heard: list[dict[str, Any]] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.paused: set[str] = set()
        self.appended: list[tuple[str, str]] = []

    def log(self, sender: str, event: dict[str, Any]) -> None:
        self.events.setdefault(sender, []).append({**event, "timestamp": time.time()})

    def replies(self, sender: str, message: str) -> list[dict[str, Any]]:
        if "human" in message:
            state = ConversationState(ruleset="road_bike", answers={"budget": 1500})
            code = self.codes.handoff_code(state, sender)
            return [
                {"recipient_id": sender, "text": f"I'll fetch a colleague. Your code is {code}."},
                {"recipient_id": sender, "custom": {"type": "handoff", "code": code}},
            ]
        if "road bike" in message:
            return [
                {"recipient_id": sender, "text": "Here are my top picks for you."},
                {"recipient_id": sender, "custom": OFFERS},
            ]
        return [{"recipient_id": sender, "text": f"Bot heard: {message}"}]


def fake_rasa_app(bot: Bot) -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.json()
        bot.heard.append(body)
        sender, message = body["sender"], body["message"]
        bot.log(sender, {"event": "user", "text": message})
        if sender in bot.paused:
            return JSONResponse([])
        replies = bot.replies(sender, message)
        for reply in replies:
            data = {k: reply[k] for k in ("buttons", "custom") if k in reply}
            bot.log(sender, {"event": "bot", "text": reply.get("text"), "data": data})
        return JSONResponse(replies)

    def authorised(request: Request) -> bool:
        return request.query_params.get("token") == RASA_TOKEN

    @app.get("/conversations/{sender}/tracker")
    async def tracker(sender: str, request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse(status_code=401, content={"reason": "NotAuthenticated"})
        return JSONResponse({"sender_id": sender, "events": bot.events.get(sender, [])})

    @app.post("/conversations/{sender}/tracker/events")
    async def append(sender: str, request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse(status_code=401, content={"reason": "NotAuthenticated"})
        for event in await request.json():
            bot.appended.append((sender, event["event"]))
            if event["event"] == "pause":
                bot.paused.add(sender)
            elif event["event"] == "resume":
                bot.paused.discard(sender)
        return JSONResponse({"sender_id": sender, "events": bot.events.get(sender, [])})

    return app


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Bot]]:
    database = tmp_path_factory.mktemp("live") / "shop.db"
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    create_tables(engine)
    create_advisor_tables(engine)
    hasher = accounts.PASSWORD_HASHER
    accounts.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        with Session(engine) as session:
            build_demo_catalog(session)
            accounts.create_user(session, name="anna", role="staff", password=PASSWORD)
        bot = Bot(ShareStore(engine))
        with LoopbackServer(fake_rasa_app(bot)) as rasa:
            settings = WebSettings(
                rasa_url=rasa.url,
                request_timeout_s=5,
                database_url=url,
                rules_dir=RULES,
                rasa_token=RASA_TOKEN,
            )
            with LoopbackServer(create_app(settings)) as web:
                yield web.url, bot
    finally:
        accounts.PASSWORD_HASHER = hasher
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def staff(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.close()


@pytest.fixture
def shopper(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.close()


def send(page: Any, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")


def test_shopper_and_staff_talk_until_the_hand_back(
    staff: Watched, shopper: Watched, stack: tuple[str, Bot], tmp_path: Path
) -> None:
    url, bot = stack
    desk = staff.page

    # Anna signs in, says she is available and opens the live desk.
    desk.goto(url + "/console")
    desk.get_by_test_id("login-name").fill("anna")
    desk.get_by_test_id("login-password").fill(PASSWORD)
    desk.get_by_test_id("login-submit").click()
    expect(desk).to_have_url(re.compile(r"/console$"))
    desk.get_by_test_id("presence-form").get_by_label("Available").check()
    desk.get_by_test_id("set-presence").click()
    expect(desk.get_by_test_id("presence")).to_contain_text("available")
    desk.goto(url + "/console/live")
    expect(desk.get_by_test_id("live-queue-empty")).to_be_visible()
    expect(desk.get_by_test_id("live-desk")).to_have_attribute("data-listening", "true")

    # The shopper sees offers, then asks for a person.
    shop = shopper.page
    shop.goto(url + "/")
    send(shop, "I want a road bike")
    expect(shop.get_by_test_id("offer-card")).to_have_count(2)
    send(shop, "can I talk to a human?")
    expect(shop.get_by_test_id("msg-live")).to_contain_text("finding a colleague")
    expect(shop.get_by_test_id("chat-widget")).to_have_attribute("data-live", "listening")

    # The request reaches the desk without a reload; Anna accepts.
    request = desk.get_by_test_id("live-request")
    expect(request).to_have_count(1)
    request.get_by_test_id("live-accept").click()
    expect(desk).to_have_url(re.compile(r"/console/live/[0-9a-f]+$"))
    expect(desk.get_by_test_id("live-status")).to_have_attribute("data-status", "accepted")
    expect(desk.get_by_test_id("live-bot-message").first).to_contain_text("top picks")
    expect(desk.get_by_test_id("live-answers")).to_contain_text("1500")
    expect(shop.get_by_test_id("staff-joined")).to_contain_text("anna joined the chat")
    sender = bot.heard[-1]["sender"]
    assert (sender, "pause") in bot.appended

    # Messages both ways, without a reload on either side.
    desk.evaluate("window.__notReloaded = true")
    heard = len(bot.heard)
    send(shop, "Is the 56 frame right for 182 cm?")
    expect(desk.get_by_test_id("live-shopper-message").last).to_contain_text(
        "Is the 56 frame right for 182 cm?"
    )
    assert len(bot.heard) == heard, "a message in the live chat reached the bot"
    desk.get_by_test_id("live-text").fill("Yes, it fits you well.")
    desk.get_by_test_id("live-send").click()
    expect(shop.get_by_test_id("msg-staff").last).to_contain_text("Yes, it fits you well.")
    expect(shop.get_by_test_id("msg-staff").last.get_by_test_id("msg-who")).to_have_text("anna")
    expect(desk.get_by_test_id("live-staff-message").last).to_contain_text("Yes, it fits you well.")
    expect(desk.get_by_test_id("live-staff-message")).to_have_count(1)

    # Anna sends the offers as a card.
    desk.get_by_test_id("live-push-offers").click()
    card = shop.get_by_test_id("staff-offers")
    expect(card.get_by_test_id("offer-card")).to_have_count(2)
    expect(card.get_by_test_id("offer-card").first).to_contain_text(
        "Endurance road bike, ready to ride"
    )
    assert desk.evaluate("window.__notReloaded") is True
    shop.screenshot(path=str(tmp_path / "live-shopper.png"))
    desk.screenshot(path=str(tmp_path / "live-staff.png"), full_page=True)

    # A reload shows the whole conversation, Anna's message included.
    shop.reload()
    expect(shop.get_by_test_id("msg-staff")).to_contain_text(["Yes, it fits you well."])
    expect(shop.get_by_test_id("staff-joined")).to_have_count(1)
    expect(shop.get_by_test_id("chat-widget")).to_have_attribute("data-live", "listening")

    # Anna hands back; the bot answers the next message.
    desk.get_by_test_id("live-hand-back").click()
    expect(desk.get_by_test_id("live-status")).to_have_attribute("data-status", "closed")
    expect(shop.get_by_test_id("handed-back")).to_contain_text("handed you back")
    assert (sender, "resume") in bot.appended
    send(shop, "thanks, what about a helmet?")
    expect(shop.get_by_test_id("msg-bot").last).to_have_text(
        "Bot heard: thanks, what about a helmet?"
    )
    assert bot.heard[-1]["message"] == "thanks, what about a helmet?"

    # The answers open in the expert view, as an assisted session.
    desk.get_by_test_id("live-open-expert").click()
    expect(desk).to_have_url(re.compile(r"/console/sessions/[^/]+$"))
    budget = desk.locator('[data-testid="question"][data-question="budget"]')
    expect(budget.get_by_test_id("answer-said")).to_contain_text("1,500")


def test_outside_opening_hours_the_shopper_leaves_a_message(
    shopper: Watched, stack: tuple[str, Bot]
) -> None:
    url, bot = stack
    store = HandoverStore(bot.codes.engine)
    store.set_opening_hours(OpeningHours.parse({"sun": ["00:00-00:01"]}), by="admin")
    try:
        shop = shopper.page
        shop.goto(url + "/")
        send(shop, "I'd like to talk to a human")
        expect(shop.get_by_test_id("nobody-available")).to_contain_text("not in right now")
        form = shop.get_by_test_id("leave-message-form")
        form.get_by_test_id("leave-text").fill("Please call me about a road bike.")
        form.get_by_test_id("leave-email").fill("not an address")
        form.get_by_test_id("leave-send").click()
        # The browser's own check of the email field stops it first; then a real one.
        form.get_by_test_id("leave-email").fill("kim@example.org")
        form.get_by_test_id("leave-send").click()
        expect(shop.get_by_test_id("leave-thanks")).to_be_visible()
        expect(shop.get_by_test_id("leave-message-form")).to_have_count(0)
        left = store.inbox()[0]
        assert (left.text, left.email) == ("Please call me about a road bike.", "kim@example.org")
        # The bot keeps helping meanwhile.
        send(shop, "a helmet, please")
        expect(shop.get_by_test_id("msg-bot").last).to_have_text("Bot heard: a helmet, please")
    finally:
        store.set_opening_hours(OpeningHours.around_the_clock(), by="admin")
