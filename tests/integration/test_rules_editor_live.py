"""The rule editor against the real stack: an admin publishes, the shop's chat asks it.

An admin signs in at /admin/rules of the real web app, changes the first road-bike
question in the structured form, saves the draft and publishes it with a note; in
another browser context the shop widget (web app → real Rasa → real action server)
asks the new wording in a fresh conversation. Rolling back from the history brings the
old wording back, again seen in a fresh shop conversation.

The web app and the action server share ``DATABASE_URL`` and ``PRODUCT_RULES_DIR``
(the ``bot`` fixture's): a publication is a row in that database, which the action
server's registry picks up within a second. Nothing is left behind: the version
published as the starting point, the edit and the rollback are deleted by
``no_leaked_publications`` (which waits until the bot serves the shipped rules again),
the draft by ``no_leaked_drafts``, the admin account when the module ends.

Playwright is imported when the browser starts, so a missing package is a skip of this
(integration, browser) test, which fails the run under CI (tests/conftest.py); so does
a missing Chromium, which is not skipped there at all.
"""

from __future__ import annotations

import io
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from advisor import accounts
from catalog.db import make_engine
from product_rules import drafts
from product_rules.publishing import history, publish
from tests.integration.conftest import SHIPPED, RunningBot, ask, poll
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, Watched, bot_reply, needs_chromium
from web.stack import Stack, listening_socket, web_service

pytestmark = [pytest.mark.integration, *needs_chromium]

ADMIN = "ada"
PASSWORD = "correct horse battery"
OLD_TEXT = ask("road_bike", "usage")
NEW_TEXT = "What kind of riding will the bike be for?"
NOTE = "friendlier first question"
#: Seconds from the click on "Publish" (or "Roll back") until a fresh shop conversation
#: must ask the wording: the registry switches within a second; each probe is a whole
#: shop conversation in a new browser context (page load, one turn through web app,
#: Rasa and the action server), a second or two on a loaded two-core machine.
SHOP_SERVES_WITHIN = 10.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; Playwright imported here (a skip is a failure in CI)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def web_url(bot: RunningBot) -> Iterator[str]:
    """The web app over the bot's database and rule files, with an admin account."""
    db = make_engine(bot.database_url)
    hasher = accounts.PASSWORD_HASHER
    accounts.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        with Session(db) as session:
            user_id = accounts.create_user(session, name=ADMIN, role="admin", password=PASSWORD).id
    finally:
        accounts.PASSWORD_HASHER = hasher
    web = web_service(
        listening_socket(),
        bot.rasa_url,
        rasa_token=bot.rasa_token,
        env={"DATABASE_URL": bot.database_url, "PRODUCT_RULES_DIR": str(bot.rules_dir)},
    )
    log = io.StringIO()
    try:
        with Stack([web], log=log).running(timeout=60):
            yield web.url
        logged = log.getvalue()
        assert "Traceback" not in logged, logged[logged.index("Traceback") - 500 :][:4000]
    except (RuntimeError, TimeoutError):
        sys.stderr.write(log.getvalue()[-20000:])
        raise
    finally:
        with Session(db) as session:
            LoginSession, LoginFailure = accounts.LoginSession, accounts.LoginFailure
            session.exec(delete(LoginSession).where(col(LoginSession.user_id) == user_id))
            session.exec(delete(LoginFailure).where(col(LoginFailure.name) == ADMIN))
            session.exec(delete(accounts.StaffUser).where(col(accounts.StaffUser.id) == user_id))
            session.commit()
        db.dispose()


@pytest.fixture()
def no_leaked_drafts(bot: RunningBot) -> Iterator[None]:
    """Delete the drafts (and their revisions) the test's edits and publications made."""
    db = make_engine(bot.database_url)
    with Session(db) as session:
        assert session.exec(select(drafts.RuleDraft)).all() == [], "a draft from elsewhere"
        last_revision = session.exec(select(func.max(drafts.DraftRevision.id))).one() or 0
    try:
        yield
    finally:
        with Session(db) as session:
            session.exec(delete(drafts.RuleDraft))
            session.exec(
                delete(drafts.DraftRevision).where(col(drafts.DraftRevision.id) > last_revision)
            )
            session.commit()
        db.dispose()


def shop_first_question(browser: Any, web_url: str) -> str:
    """A fresh shop conversation (a new browser context): what the widget asks first."""
    shopper = Watched(browser, width=1280, height=900)
    try:
        shopper.page.goto(web_url + "/")
        messages = bot_reply(shopper, "I want a road bike")
        said = [str(m["text"]) for m in messages if str(m.get("text") or "").strip()]
        shown = str(shopper.page.get_by_test_id("msg-bot").last.inner_text())
        assert said and " ".join(said[-1].split()) in " ".join(shown.split()), (
            f"the widget shows {shown!r}; the bot said {said!r}"
        )
        return shown
    finally:
        shopper.close()


def shop_asks(browser: Any, web_url: str, wording: str, *, since: float) -> float:
    """Poll fresh shop conversations until the first question is ``wording``; seconds taken."""
    poll(
        f"a fresh shop conversation asking {wording!r}",
        lambda: wording in shop_first_question(browser, web_url),
        within=SHOP_SERVES_WITHIN - (time.monotonic() - since),
    )
    return time.monotonic() - since


def sign_in(watched: Watched, url: str) -> Any:
    from playwright.sync_api import expect

    page = watched.page
    page.goto(url + "/admin/rules")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/rules$"))
    page.get_by_test_id("login-name").fill(ADMIN)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/admin/rules$"))
    return page


def test_admin_publishes_and_rolls_back_and_the_shop_chat_follows(
    bot: RunningBot,
    web_url: str,
    browser: Any,
    no_leaked_publications: None,
    no_leaked_drafts: None,
) -> None:
    from playwright.sync_api import expect

    assert SHIPPED["road_bike"].questions[0].id == "usage", "the first question is usage"
    db = make_engine(bot.database_url)
    try:
        # The starting point: the shipped rules, published as version 1 (a rollback needs
        # a version to go back to).
        assert publish(db, bot.rules_dir / "road_bike", author="setup", message="as shipped")
        assert history(db, "road_bike")[0]["version"] == 1
    finally:
        db.dispose()
    shop_asks(browser, web_url, OLD_TEXT, since=time.monotonic())

    admin = Watched(browser, width=1400, height=1000)
    try:
        page = sign_in(admin, web_url)
        expect(page.get_by_test_id("source-road_bike")).to_have_text("published v1")
        page.get_by_test_id("edit-road_bike").click()
        expect(page.get_by_test_id("rules-editor")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("in-service")).to_have_text("published version 1")

        # The structured form: the first question's text; "Apply" saves the draft.
        page.get_by_test_id("open-usage").click()
        text = page.get_by_test_id("text-usage")
        expect(text).to_have_value(OLD_TEXT)
        text.fill(NEW_TEXT)
        page.get_by_test_id("form-apply").click()
        expect(page.get_by_test_id("draft-revision")).to_have_text("1")
        expect(page.get_by_test_id("source-questions.yml")).to_have_value(
            re.compile(re.escape(f"      en: {NEW_TEXT}\n"))
        )
        expect(page.get_by_test_id("findings-count")).to_have_text("0")
        assert OLD_TEXT in shop_first_question(browser, web_url), "a draft is not live"

        # Publish with a note: the shop's next fresh conversation asks the new text.
        page.get_by_test_id("publish-note").fill(NOTE)
        page.get_by_test_id("publish").click()
        published = time.monotonic()
        expect(page.get_by_test_id("done")).to_contain_text("Published as version 2")
        expect(page.get_by_test_id("in-service")).to_have_text("published version 2")
        row = page.get_by_test_id("history-row").first
        expect(row).to_contain_text(ADMIN)
        expect(row).to_contain_text(NOTE)
        expect(row).to_contain_text("changed questions.yml")
        took = shop_asks(browser, web_url, NEW_TEXT, since=published)
        sys.stderr.write(f"\npublished text asked in the shop after {took:.1f} s\n")

        # Rollback in one click from the history: the old text again, in a fresh chat.
        page.get_by_test_id("rollback-1").click()
        rolled_back = time.monotonic()
        expect(page.get_by_test_id("done")).to_contain_text("Version 1 is back in service")
        expect(page.get_by_test_id("in-service")).to_have_text("published version 1")
        expect(page.get_by_test_id("history-row").first).to_contain_text("rolled back to version 1")
        took = shop_asks(browser, web_url, OLD_TEXT, since=rolled_back)
        sys.stderr.write(f"rolled-back text asked in the shop after {took:.1f} s\n")
        assert NEW_TEXT not in shop_first_question(browser, web_url)
    finally:
        admin.close()
