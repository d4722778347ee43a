"""The rule editor in Debian's Chromium: a merchandiser drafts, an admin publishes.

The web app runs under uvicorn on a loopback port over a SQLite file with the demo
catalogue, a merchandiser (``mia``) and an admin (``ada``); the rule sets are a copy of
the shipped ones, published once as version 1 before the test. Whether the advisor
uses what was published is checked on the advisor service itself (the same
:class:`advisor.service.Advisor` over the same database as the shop's chat), polled
until the registry serves the new version.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from advisor import accounts
from advisor.events import Event, EventKind, EventLog, Scope
from advisor.service import Advisor, Turn
from advisor.settings import Settings
from advisor.state import ConversationState
from product_rules.publishing import publish
from product_rules.registry import RuleRegistry
from tests.conftest import RULES
from tests.web.browser import Watched, needs_chromium
from tests.web.conftest import ShopDatabase
from tests.web.servers import LoopbackServer, poll_until
from web.app import create_app

pytestmark = needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

PASSWORD = "correct horse battery"
OLD_TEXT = "What will you mostly use the bike for?"
NEW_TEXT = "What kind of riding will the bike be for?"
PHRASE = "fresh on wheels"
#: Seconds the advisor may take to serve a publication: the registry looks every 0.25 s,
#: then builds the new rule set's answer parser (spaCy, a second or two).
SERVE_TIMEOUT_S = 15.0
#: Milliseconds the tries may take: the diff runs 200 recommendations, the preview's first
#: turn builds the draft's answer parser.
SLOW_MS = 20_000


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(RULES, target)
    return target


@pytest.fixture(scope="module")
def editor_url(shop_db: ShopDatabase, rules_dir: Path) -> Iterator[str]:
    with Session(shop_db.engine) as session:
        accounts.create_user(session, name="mia", role="merchandiser", password=PASSWORD)
        accounts.create_user(session, name="ada", role="admin", password=PASSWORD)
    publish(shop_db.engine, rules_dir / "road_bike", author="setup", message="as shipped")
    events = EventLog(shop_db.engine, background=False)
    for n in range(2):
        scope = Scope(f"nu-{n}", "road_bike", 1, "chat", "en")
        events.record(scope, [Event(EventKind.NOT_UNDERSTOOD, "experience", PHRASE)])
    events.flush()
    events.close()
    settings = Settings(
        rasa_url="http://127.0.0.1:9", database_url=shop_db.url, rules_dir=rules_dir
    )
    with LoopbackServer(create_app(settings), name="web app", ready_path="/healthz") as web:
        yield web.url


@pytest.fixture(scope="module")
def advisor(shop_db: ShopDatabase, rules_dir: Path) -> Advisor:
    """The advisor service as the shop's chat runs it, over the same database."""
    return Advisor(RuleRegistry(rules_dir, shop_db.engine))


def first_question(advisor: Advisor) -> str:
    _, reply = advisor.step(ConversationState(), Turn("I want a road bike", "request_advice"))
    return reply.text


def experience_of(advisor: Advisor, text: str) -> Any:
    state, _ = advisor.step(ConversationState(), Turn("I want a road bike", "request_advice"))
    state, _ = advisor.step(state, Turn("long rides", "inform"))
    assert state.question == "experience"
    state, _ = advisor.step(state, Turn(text, "inform"))
    return state.answers.get("experience")


def sign_in(watched: Watched, url: str, name: str) -> Any:
    page = watched.page
    page.goto(url + "/admin/rules")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/rules$"))
    page.get_by_test_id("login-name").fill(name)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/admin/rules$"))
    return page


def open_editor(page: Any) -> None:
    page.get_by_test_id("edit-road_bike").click()
    expect(page.get_by_test_id("rules-editor")).to_have_attribute("data-ready", "true")


@pytest.fixture
def merchandiser(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser, width=1400, height=1000)
    yield watched
    watched.close()


@pytest.fixture
def admin(browser: Any) -> Iterator[Watched]:
    watched = Watched(browser, width=1400, height=1000)
    yield watched
    watched.close()


def test_draft_try_publish_rollback_and_a_new_synonym(
    merchandiser: Watched, admin: Watched, editor_url: str, advisor: Advisor, tmp_path: Path
) -> None:
    assert OLD_TEXT in first_question(advisor)
    page = sign_in(merchandiser, editor_url, "mia")
    expect(page.get_by_test_id("source-road_bike")).to_have_text("published v1")
    page.screenshot(path=str(tmp_path / "rules-list.png"), full_page=True)
    open_editor(page)
    expect(page.get_by_test_id("in-service")).to_have_text("published version 1")

    # The form: a question's text and an option's synonyms; the YAML follows.
    page.get_by_test_id("open-usage").click()
    page.get_by_test_id("text-usage").fill(NEW_TEXT)
    page.get_by_test_id("open-experience").click()
    synonyms = page.get_by_test_id("synonyms-experience-beginner")
    synonyms.fill("beginner, new to it, newbie, fresh starter")
    page.get_by_test_id("weight-margin").fill("2")
    page.get_by_test_id("form-apply").click()
    expect(page.get_by_test_id("draft-revision")).to_have_text("1")
    source = page.get_by_test_id("source-questions.yml")
    expect(source).to_have_value(re.compile(re.escape(f"      en: {NEW_TEXT}\n")))
    expect(source).to_have_value(
        re.compile(r"          en: \[beginner, new to it, newbie, fresh starter\]\n")
    )
    expect(page.get_by_test_id("findings-count")).to_have_text("0")
    page.get_by_test_id("rules-form").screenshot(path=str(tmp_path / "rules-form.png"))
    assert first_question(advisor).count(OLD_TEXT) == 1, "a draft is not live"

    # A mistake typed in the source is shown at its line, with "did you mean"; then fixed.
    page.get_by_test_id("tab-filters.yml").click()
    filters = page.get_by_test_id("source-filters.yml")
    good = filters.input_value()
    line = good.splitlines().index("    attribute: frame_size_cm") + 1
    filters.fill(good.replace("attribute: frame_size_cm", "attribute: frame_sise", 1))
    finding = page.locator(f'[data-testid="finding"][data-file="filters.yml"][data-line="{line}"]')
    expect(finding).to_contain_text("unknown attribute 'frame_sise'")
    expect(finding.get_by_test_id("suggestion")).to_have_text("frame_size_cm")
    editor = page.get_by_test_id("editor-filters.yml")
    expect(editor.locator(f'.rules-editor__num--finding[data-line="{line}"]')).to_be_visible()
    expect(editor.locator(f'[data-testid="inline-finding"][data-line="{line}"]')).to_contain_text(
        "frame_size_cm"
    )
    expect(page.get_by_test_id("tab-filters.yml")).to_contain_text("1")
    finding.locator("a").click()  # goes to the line
    expect(
        editor.locator(f'[data-testid="inline-finding"][data-line="{line}"]')
    ).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "rules-finding.png"), full_page=True)
    editor.screenshot(path=str(tmp_path / "rules-finding-editor.png"))
    filters.fill(good)
    expect(page.get_by_test_id("findings-count")).to_have_text("0")
    expect(page.get_by_test_id("finding")).to_have_count(0)

    # Try it: persona tests, the outcome diff, the preview chat (new text, new synonym).
    page.get_by_test_id("run-personas").click()
    summary = page.get_by_test_id("personas-summary")
    expect(summary).to_contain_text(re.compile(r"(\d+) of \1 persona tests pass"), timeout=SLOW_MS)
    assert page.locator('[data-testid="persona"][data-passed="false"]').count() == 0
    page.get_by_test_id("run-diff").click()
    expect(page.get_by_test_id("diff-summary")).to_contain_text(
        re.compile(r"\d+ of 100 sample answer sets get other offers than with published v1"),
        timeout=SLOW_MS,
    )
    assert page.get_by_test_id("diff-change").count() > 0
    page.get_by_test_id("preview-start").click()
    bot = page.get_by_test_id("preview-bot")
    expect(bot.last).to_contain_text(NEW_TEXT, timeout=SLOW_MS)
    page.get_by_test_id("preview-choice").filter(has_text="Long rides and fitness").click()
    expect(bot.last).to_contain_text("How much road cycling experience")
    page.get_by_test_id("preview-input").fill("fresh starter")
    page.get_by_test_id("preview-input").press("Enter")
    expect(bot.last).to_contain_text("What is your budget")
    page.screenshot(path=str(tmp_path / "rules-try.png"), full_page=True)
    page.locator("#try-title").locator("..").screenshot(path=str(tmp_path / "rules-try-part.png"))
    expect(page.get_by_test_id("publish-not-allowed")).to_be_visible()
    assert page.get_by_test_id("publish").count() == 0

    # An admin publishes with a note; the advisor asks the new text.
    admin_page = sign_in(admin, editor_url, "ada")
    open_editor(admin_page)
    admin_page.get_by_test_id("publish-note").fill("friendlier first question")
    admin_page.get_by_test_id("publish").click()
    expect(admin_page.get_by_test_id("done")).to_contain_text("Published as version 2")
    expect(admin_page.get_by_test_id("in-service")).to_have_text("published version 2")
    row = admin_page.get_by_test_id("history-row").first
    expect(row).to_contain_text("ada")
    expect(row).to_contain_text("friendlier first question")
    expect(row).to_contain_text("changed questions.yml")
    poll_until(
        lambda: NEW_TEXT in first_question(advisor),
        timeout_s=SERVE_TIMEOUT_S,
        message="the advisor does not ask the published text",
    )
    admin_page.screenshot(path=str(tmp_path / "rules-published.png"), full_page=True)

    # Rollback in one click restores the old text.
    admin_page.get_by_test_id("rollback-1").click()
    expect(admin_page.get_by_test_id("done")).to_contain_text("Version 1 is back in service")
    poll_until(
        lambda: OLD_TEXT in first_question(advisor),
        timeout_s=SERVE_TIMEOUT_S,
        message="the rollback did not restore the old text",
    )

    # A phrase shoppers typed becomes a synonym; once published, it is understood.
    assert experience_of(advisor, PHRASE) is None
    page.reload()
    expect(page.get_by_test_id("rules-editor")).to_have_attribute("data-ready", "true")
    nu = page.get_by_test_id("nu-row").filter(has_text=PHRASE)
    expect(nu).to_contain_text("2")
    nu.get_by_test_id("nu-option").select_option("experience:beginner")
    nu.get_by_test_id("nu-add").click()
    expect(page.get_by_test_id("done")).to_contain_text("added as a synonym")
    expect(page.get_by_test_id("source-questions.yml")).to_have_value(
        re.compile(f"first time, {PHRASE}\\]")
    )
    admin_page.reload()
    admin_page.get_by_test_id("publish-note").fill("a shopper phrase for beginners")
    admin_page.get_by_test_id("publish").click()
    expect(admin_page.get_by_test_id("done")).to_contain_text("Published as version 3")
    poll_until(
        lambda: experience_of(advisor, PHRASE) == "beginner",
        timeout_s=SERVE_TIMEOUT_S,
        message=f"the advisor does not understand {PHRASE!r} once published",
    )
    assert OLD_TEXT in first_question(advisor), "built on the version in service (v1)"


def test_a_stale_save_says_who_changed_the_draft(
    merchandiser: Watched, admin: Watched, editor_url: str, tmp_path: Path
) -> None:
    page = sign_in(merchandiser, editor_url, "mia")
    open_editor(page)
    admin_page = sign_in(admin, editor_url, "ada")
    open_editor(admin_page)
    admin_page.get_by_test_id("open-budget").click()
    admin_page.get_by_test_id("text-budget").fill("How much would you like to spend?")
    admin_page.get_by_test_id("form-apply").click()
    expect(admin_page.get_by_test_id("save-message")).not_to_be_empty()

    source = page.get_by_test_id("source-compatibility.yml")
    source.fill(
        source.input_value() + "# a note\n"
    )  # checked as typed: the page learns of ada's save
    expect(page.get_by_test_id("newer")).to_be_visible()
    page.get_by_test_id("open-budget").click()
    page.get_by_test_id("text-budget").fill("What may the bike cost?")
    page.get_by_test_id("form-apply").click()
    stale = page.get_by_test_id("stale-note")
    expect(stale).to_contain_text("changed by ada since you opened it")
    expect(page.get_by_test_id("stale-diff")).to_contain_text("How much would you like to spend?")
    page.screenshot(path=str(tmp_path / "rules-stale.png"), full_page=True)
