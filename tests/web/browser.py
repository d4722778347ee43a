"""What the browser tests share: Chromium, watched pages, and waiting for the bot.

Silence is a failure: :func:`bot_reply` waits for the answer to one chat message and
fails when the web app answered with an HTTP status >= 500, with no message at all, or
with an empty bubble, and checks the wording of the question that is due next. Every
:class:`Watched` page also fails its test on a JavaScript error and on any response
>= 500 the page saw, unless the test said it expects one (:meth:`Watched.server_errors`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.web.fake_rasa import FakeRasa

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "WAIT_MS",
    "Watched",
    "bot_reply",
    "needs_chromium",
    "send",
]

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
WAIT_MS = 15_000

#: Marks for a browser test module: skipped on a developer machine without Chromium; in
#: CI (`make test` installs it) a missing browser is a failure, not a skip.
needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


class Watched:
    """A browser context whose page fails the test on a JavaScript error or an HTTP >= 500."""

    def __init__(
        self, browser: Any, *, width: int = 1600, height: int = 1000, rasa: FakeRasa | None = None
    ) -> None:
        #: The fake Rasa the page talks to: :func:`bot_reply` reads the question due from it.
        self.rasa = rasa
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.failed_responses: list[str] = []
        self.expected_failures: list[str] = []
        self._expect_server_errors = 0
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        if response.status >= 500:
            line = f"{response.request.method} {response.url} -> {response.status}"
            if self._expect_server_errors:
                self.expected_failures.append(line)
            else:
                self.failed_responses.append(line)

    @contextmanager
    def server_errors(self) -> Iterator[list[str]]:
        """Within the block, responses >= 500 are expected: they are collected, not failed."""
        self.expected_failures = []
        self._expect_server_errors += 1
        try:
            yield self.expected_failures
        finally:
            self._expect_server_errors -= 1

    def check(self) -> None:
        """Fail now if the page had a JavaScript error or saw an unexpected HTTP >= 500."""
        assert self.errors == [], f"JavaScript errors on the page: {self.errors}"
        assert self.failed_responses == [], (
            f"server errors seen by the page: {self.failed_responses}"
        )

    def close(self) -> None:
        self.context.close()
        self.check()


def send(page: Any, text: str) -> None:
    """Type ``text`` into the chat and press Enter."""
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")


def bot_reply(
    watched: Watched,
    act: str | Callable[[], None],
    *,
    next_question: str | None = None,
    silent: bool = False,
) -> list[dict[str, Any]]:
    """Do ``act`` (type a message, or call it) and wait until the bot's answer is shown.

    Fails when the chat request got an HTTP status >= 500, when the answer holds no
    message (unless ``silent``: a restart says nothing), when a bubble of it is empty,
    or when the last bot bubble does not ask the question due: ``next_question``, or
    else the one the advisor's state waits for (when the page's fake Rasa is known).
    Returns the messages the web app answered with.
    """
    from playwright.sync_api import expect

    page = watched.page
    log = page.get_by_test_id("chat-log")
    before = page.get_by_test_id("msg-bot").count()
    with page.expect_response(
        lambda r: r.url.endswith("/api/chat") and r.request.method == "POST"
    ) as caught:
        if isinstance(act, str):
            send(page, act)
        else:
            act()
    response = caught.value
    assert response.status < 500, f"the chat answered HTTP {response.status}: {response.text()}"
    assert response.ok, f"the chat answered HTTP {response.status}: {response.text()}"
    messages: list[dict[str, Any]] = response.json()["messages"]
    expect(log).to_have_attribute("aria-busy", "false")
    expect(page.get_by_test_id("typing-indicator")).to_be_hidden()
    if silent:
        return messages
    assert messages, "the bot answered nothing"
    for message in messages:
        has_content = bool(str(message.get("text") or "").strip()) or bool(message.get("custom"))
        assert has_content, f"an empty message from the bot: {message}"
    texts = [str(m["text"]) for m in messages if str(m.get("text") or "").strip()]
    bubbles = page.get_by_test_id("msg-bot")
    expect(bubbles).to_have_count(before + len(texts))
    shown = bubbles.all_inner_texts()[before:]
    assert all(t.strip() for t in shown), f"an empty bot bubble: {shown}"
    if next_question is None:
        next_question = _question_due(watched)
    if next_question is not None:
        expect(bubbles.last).to_contain_text(next_question)
    watched.check()
    return messages


def _question_due(watched: Watched) -> str | None:
    """The wording of the question the advisor now waits for, if the fake Rasa knows one."""
    rasa = watched.rasa
    if rasa is None or not rasa.heard:
        return None
    state = rasa.state(rasa.heard[-1]["sender"])
    served = rasa.advisor.served(state.ruleset)
    question = served.ruleset.question(state.question) if served and state.question else None
    return question.text if question is not None else None
