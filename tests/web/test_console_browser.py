"""The staff console and the share page in Debian's Chromium, driven by Playwright.

The web app runs for real under uvicorn on a loopback port, on a temporary SQLite
database holding the demo catalogue and one staff account; the advisor is built from
the settings (``DATABASE_URL``, ``PRODUCT_RULES_DIR``) as in production. Rasa is
:class:`tests.web.fake_rasa.FakeRasa`, the real advisor over the same database, so the
share page's chat resumes the very configuration staff shared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.render import render
from advisor.service import Advisor
from advisor.settings import Settings
from advisor.sharing import ShareStore
from product_rules.offers import offers_in
from product_rules.registry import RuleRegistry
from tests.conftest import RULES
from tests.web.browser import Watched, bot_reply, needs_chromium
from tests.web.conftest import STAFF_NAME, STAFF_PASSWORD, ShopDatabase
from tests.web.fake_rasa import FakeRasa
from tests.web.servers import LoopbackServer
from web.app import create_app

pytestmark = needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect


@pytest.fixture(scope="module")
def rasa(shop_db: ShopDatabase) -> FakeRasa:
    advisor = Advisor(RuleRegistry(RULES, shop_db.engine), codes=ShareStore(shop_db.engine))
    return FakeRasa(advisor)


@pytest.fixture(scope="module")
def console_url(shop_db: ShopDatabase, rasa: FakeRasa) -> Iterator[str]:
    with LoopbackServer(rasa.app(), name="fake Rasa") as rasa_server:
        settings = Settings(
            rasa_url=rasa_server.url, request_timeout_s=5, database_url=shop_db.url, rules_dir=RULES
        )
        with LoopbackServer(create_app(settings), name="web app", ready_path="/healthz") as web:
            yield web.url


@pytest.fixture
def staff(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.close()


@pytest.fixture
def customer(browser: Any, rasa: FakeRasa) -> Iterator[Watched]:
    watched = Watched(browser, rasa=rasa)  # a second context: no staff cookie, its own storage
    yield watched
    watched.close()


def money(text: str) -> float:
    """``Total €1,423.90`` -> 1423.9."""
    return float(re.sub(r"[^0-9.]", "", text.replace(",", "")))


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
    rasa: FakeRasa,
    tmp_path: Path,
) -> None:
    page = staff.page

    # Signing in: the console sends a stranger to the login page and back.
    page.goto(console_url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next=/console$"))
    page.get_by_test_id("login-name").fill(STAFF_NAME)
    page.get_by_test_id("login-password").fill(STAFF_PASSWORD)
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
    expect(question(page, "budget").get_by_test_id("answer-said")).to_have_text("budget €1,500")
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

    # The offers fit the answers: within budget, a 56 cm frame for 182 cm, and pedals a
    # beginner in normal shoes can ride (the bike's own, or flat ones added).
    cards = offers.get_by_test_id("offer-card")
    expect(cards).to_have_count(3)
    for card in cards.all():
        assert money(card.get_by_test_id("offer-total").inner_text()) <= 1500
        main = card.get_by_test_id("offer-item").first
        expect(main.get_by_test_id("item-role")).to_have_text("main")
        expect(main.get_by_test_id("item-attribute").first).to_have_text("Frame 56 cm")
        if "Ships without pedals" in main.inner_text():
            added = card.get_by_test_id("offer-item").filter(has_text="added: required")
            expect(added).to_contain_text("Flat pedals (no cleats)")

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
    # The trace names the rules that decided: the frame size from the height, among them.
    expect(expert.get_by_test_id("trace-entry").filter(has_text="182")).not_to_have_count(0)

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
    # The share page's chat loads the configuration by itself (a silent /resume_shared).
    messages = bot_reply(customer, lambda: shop.goto(link))
    shared = shop.get_by_test_id("shared-configuration")
    expect(shared.get_by_test_id("shared-code")).to_have_text(code)
    expect(shared.get_by_test_id("offer-item")).to_have_count(len(shared_skus))
    assert offer_skus(shared) == shared_skus
    assert shared.get_by_test_id("item-name").all_inner_texts() == shared_names
    expect(shared.locator(f'[data-testid="offer-item"][data-sku="{pedals}"]')).to_be_visible()
    # The chat goes on from the shared configuration: the kept bike with the locked pedals.
    resumes = [m for m in rasa.heard if m["message"].startswith("/resume_shared")]
    assert resumes and resumes[-1]["message"] == f'/resume_shared{{"code":"{code}"}}'
    expect(shop.get_by_test_id("msg-bot").first).to_contain_text(render("resumed"))
    resumed = offers_in(messages)
    assert resumed is not None
    assert resumed["answers"] == rasa.state(resumes[-1]["sender"]).answers
    assert resumed["answers"]["budget"] == 1500.0
    first_skus = [item["sku"] for item in resumed["offers"][0]["items"]]
    assert first_skus[:1] == [bike] and pedals in first_skus
    pedal_name = (
        shared.locator(f'[data-testid="offer-item"][data-sku="{pedals}"]')
        .get_by_test_id("item-name")
        .inner_text()
    )
    chat_card = shop.get_by_test_id("chat-log").get_by_test_id("offer-card").first
    expect(chat_card).to_contain_text(pedal_name)
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
