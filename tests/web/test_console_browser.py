"""The staff console and the share page in Debian's Chromium, driven by Playwright.

The web app runs for real under uvicorn on a loopback port, on a temporary SQLite
database holding the demo catalogue and one staff account; the advisor is built from
the settings (``DATABASE_URL``, ``PRODUCT_RULES_DIR``) as in production. Rasa is a test
double (as in ``test_widget_browser.py``) that records what the share page's chat sends.
"""

from __future__ import annotations

import os
import re
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
from catalog.db import create_tables, make_engine
from catalog.demo import build_demo_catalog
from tests.conftest import RULES
from tests.web.test_widget_browser import CHROMIUM, CHROMIUM_ARGS, LoopbackServer
from web.app import create_app
from web.settings import WebSettings

WAIT_MS = 15_000
PASSWORD = "correct horse battery"
RESUMED = "Welcome back! Here is the configuration prepared for you."

pytestmark = [
    pytest.mark.browser,
    # Skipped on a developer machine without Chromium; in CI a missing browser fails.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect


def fake_rasa_app(received: list[dict[str, Any]]) -> FastAPI:
    """Rasa's REST channel, answering the share page's resume message."""
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        text = RESUMED if body["message"].startswith("/resume_shared") else "Noted."
        return JSONResponse([{"recipient_id": body["sender"], "text": text}])

    return app


@pytest.fixture(scope="module")
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def console_url(
    tmp_path_factory: pytest.TempPathFactory, received: list[dict[str, Any]]
) -> Iterator[str]:
    database = tmp_path_factory.mktemp("console") / "shop.db"
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
        with LoopbackServer(fake_rasa_app(received)) as rasa:
            settings = WebSettings(
                rasa_url=rasa.url, request_timeout_s=5, database_url=url, rules_dir=RULES
            )
            with LoopbackServer(create_app(settings)) as web:
                yield web.url
    finally:
        accounts.PASSWORD_HASHER = hasher
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A browser context whose pages fail the test on any JavaScript error."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1600, "height": 1000})
        self.context.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"JavaScript errors on the page: {self.errors}"


@pytest.fixture
def staff(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.close()


@pytest.fixture
def customer(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser)  # a second context: no staff cookie, its own storage
    yield watched
    watched.close()


def question(page: Any, question_id: str) -> Any:
    return page.locator(f'[data-testid="question"][data-question="{question_id}"]')


def offer_skus(scope: Any) -> list[str]:
    return [
        str(sku)
        for sku in scope.get_by_test_id("offer-item").evaluate_all(
            "items => items.map(i => i.dataset.sku)"
        )
    ]


def test_assisted_session_to_shared_configuration(
    staff: Watched,
    customer: Watched,
    console_url: str,
    received: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    page = staff.page

    # Signing in: the console sends a stranger to the login page and back.
    page.goto(console_url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next=/console$"))
    page.get_by_test_id("login-name").fill("anna")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    page.screenshot(path=str(tmp_path / "console-start.png"))

    page.get_by_label("Road bike").check()
    page.get_by_label("Customer name").first.fill("Mr Weber")
    page.get_by_test_id("start-session").click()
    expect(page.get_by_test_id("session-title")).to_contain_text("for Mr Weber")
    expect(page.get_by_test_id("question")).to_have_count(6)
    # Changes below must not reload the page: this mark would be gone.
    page.evaluate("window.__notReloaded = true")

    # Any order: the budget in words first, then the usage by button.
    budget = question(page, "budget")
    budget.get_by_test_id("answer-text").fill("about 1.5k")
    budget.get_by_test_id("answer-text").press("Enter")
    expect(question(page, "budget").get_by_test_id("answer-said")).to_have_text("budget 1,500 EUR")
    question(page, "usage").get_by_role("button", name="Long rides and fitness", exact=True).click()
    expect(
        question(page, "usage").get_by_role("button", name="Long rides and fitness", exact=True)
    ).to_have_attribute("aria-pressed", "true")
    offers = page.get_by_test_id("console-offers")
    expect(offers.get_by_test_id("offer-card").first).to_be_visible()

    question(page, "experience").get_by_role("button", name="I'm new to it", exact=True).click()
    expect(question(page, "experience").get_by_test_id("answer-said")).to_be_visible()
    height = question(page, "body_height_cm").get_by_test_id("answer-number")
    height.fill("182")
    height.press("Enter")
    expect(question(page, "body_height_cm").get_by_test_id("answer-said")).to_contain_text("182")
    question(page, "shoes_owned").get_by_role("button", name="No, normal shoes", exact=True).click()
    expect(page.get_by_test_id("questions-complete")).to_be_visible()

    # The expert view: candidates with the parts of their score.
    expert = page.get_by_test_id("expert-view")
    first_candidate = expert.get_by_test_id("candidate").first
    expect(first_candidate.get_by_test_id("score-part").first).to_be_visible()
    expect(first_candidate.get_by_test_id("score-total")).to_have_text(re.compile(r"^[+-]\d"))
    parts = first_candidate.get_by_test_id("score-part").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.points))"
    )
    score = float(first_candidate.get_attribute("data-score") or "nan")
    assert sum(parts) == pytest.approx(score, abs=0.0015)
    expect(expert.get_by_test_id("trace-entry").first).to_be_attached()

    # Keep the first bike, then change its pedals.
    card = offers.get_by_test_id("offer-card").first
    bike = offer_skus(card)[0]
    card.get_by_test_id("keep-bike").click()
    expect(offers.get_by_test_id("offer-card").first.get_by_test_id("pinned-tag")).to_be_visible()
    assert offer_skus(offers.get_by_test_id("offer-card").first)[0] == bike
    expect(page.get_by_test_id("lock-pinned")).to_have_attribute("data-sku", bike)

    card = offers.get_by_test_id("offer-card").first
    before = offer_skus(card)
    card.get_by_test_id("change-component").click()
    options = page.get_by_test_id("component-options")
    expect(options).to_be_visible()
    # Pedals the rules would not pick for a beginner: the lock is a rule break to confirm.
    choice = options.locator(
        '[data-testid="component-option"].c-option--misfit:has([data-testid="choose-component"])'
    ).first
    pedals = str(choice.get_attribute("data-sku"))
    assert pedals not in before
    choice.get_by_test_id("choose-component").click()
    card = offers.get_by_test_id("offer-card").first
    expect(card.get_by_test_id("component-locked")).to_be_visible()
    expect(card.locator(f'[data-testid="offer-item"][data-sku="{pedals}"]')).to_be_visible()
    assert offer_skus(card)[0] == bike
    expect(page.get_by_test_id("lock-component")).to_have_attribute("data-sku", pedals)
    expect(page.get_by_test_id("audit-entry").first).to_have_attribute(
        "data-action", "lock_component"
    )
    violation = offers.get_by_test_id("violation").filter(has=page.locator(f"text={pedals}"))
    expect(violation.get_by_test_id("breach").first).to_be_visible()
    violation.get_by_test_id("confirm-note").fill("customer brings shoes for these pedals")
    violation.get_by_test_id("confirm-violation").click()
    expect(offers.get_by_test_id("violation-confirmed").first).to_contain_text(
        "customer brings shoes for these pedals"
    )
    expect(page.get_by_test_id("audit-entry").first).to_have_attribute("data-action", "confirm")

    # Hand it to the customer.
    page.get_by_test_id("share-button").click()
    code_text = page.get_by_test_id("share-code")
    expect(code_text).to_have_text(re.compile(r"^[A-HJKMNP-Z2-9]{6}$"))
    code = code_text.inner_text()
    link = page.get_by_test_id("share-link").input_value()
    assert link == f"{console_url}/s/{code}"
    expect(page.get_by_test_id("share-qr")).to_have_js_property("complete", True)
    assert page.get_by_test_id("share-qr").evaluate("img => img.naturalWidth") > 0
    shared_skus = offer_skus(offers)
    shared_names = offers.get_by_test_id("item-name").all_inner_texts()
    assert page.evaluate("window.__notReloaded") is True, "the console reloaded the page"
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)

    # The customer opens the link in a browser of their own.
    shop = customer.page
    shop.goto(link)
    shared = shop.get_by_test_id("shared-configuration")
    expect(shared.get_by_test_id("shared-code")).to_have_text(code)
    expect(shared.get_by_test_id("offer-item")).to_have_count(len(shared_skus))
    assert offer_skus(shared) == shared_skus
    assert shared.get_by_test_id("item-name").all_inner_texts() == shared_names
    expect(shared.locator(f'[data-testid="offer-item"][data-sku="{pedals}"]')).to_be_visible()
    # The chat goes on from the shared configuration.
    expect(shop.get_by_test_id("msg-bot").last).to_have_text(RESUMED)
    resumes = [m for m in received if m["message"].startswith("/resume_shared")]
    assert resumes and resumes[-1]["message"] == f'/resume_shared{{"code":"{code}"}}'
    expect(shop.get_by_test_id("msg-user")).to_have_count(0)
    shop.screenshot(path=str(tmp_path / "shared.png"), full_page=True)


def test_share_page_unknown_code_in_the_browser(customer: Watched, console_url: str) -> None:
    response = customer.page.goto(console_url + "/s/zzzzz9")
    assert response is not None and response.status == 404
    expect(customer.page.get_by_role("heading", level=1)).to_have_text(
        "We can't find this configuration"
    )
    customer.page.get_by_test_id("start-advisor").click()
    expect(customer.page).to_have_url(re.compile(r"/#advisor$"))
