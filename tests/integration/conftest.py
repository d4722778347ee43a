"""The real stack for integration tests: Rasa server + action server on free loopback ports.

The Rasa model must be trained (``make test`` trains it when bot files changed). Each
test run gets its own demo catalogue, tracker store and a writable copy of the rule sets,
so tests may edit rule files while the servers run. Rasa's HTTP API is started with a
random token (``RunningBot.rasa_token``), as ``make run`` does; the REST channel needs none.

Silence is a failure: :meth:`RunningBot.send`, the one way the tests talk to the bot,
fails the test on an HTTP error, on a reply a shopper would see as nothing (no text, no
buttons, no payload), on a stack trace in the chat, and, when the test says what is due
(``expect=`` the next question's wording, ``expect_offers=True``), on a reply without it.
Only a paused conversation (staff took over) may stay silent on its own; any other
silence must be asked for with ``allow_silence=True``.
"""

from __future__ import annotations

import inspect
import io
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from catalog.db import make_engine
from catalog.demo import build_demo_database
from product_rules.loader import load_all
from product_rules.offers import offers_in
from product_rules.publishing import Publication, RuleVersion
from product_rules.registry import RuleRegistry
from product_rules.schema import RuleSet
from web.stack import MODELS, RASA_BIN, REPO, Stack, action_service, free_port, rasa_service

pytestmark = pytest.mark.integration

_LOADED = load_all(REPO / "product_rules" / "rules")[0]

#: The shipped rule sets, as the tests read the questions' wording and the rules.
SHIPPED: dict[str, RuleSet] = {key: loaded.ruleset for key, loaded in _LOADED.items()}

#: The same in German.
SHIPPED_DE: dict[str, RuleSet] = {
    key: loaded.localized("de").ruleset for key, loaded in _LOADED.items()
}

#: Pedal cleat systems a shopper's shoes may have (``shoes_owned``).
CLEATS = frozenset({"spd", "spd_sl", "look_keo"})


def ask(ruleset_id: str, question_id: str, language: str = "en") -> str:
    """The wording of a shipped question, as the bot must ask it in ``language``."""
    question = (SHIPPED_DE if language == "de" else SHIPPED)[ruleset_id].question(question_id)
    assert question is not None, f"{ruleset_id} has no question {question_id!r}"
    return question.text


def _missing() -> str | None:
    if not RASA_BIN.exists():
        return "Rasa is not installed in .venv-rasa (run `make test`)"
    if not list(MODELS.glob("*.tar.gz")):
        return "no trained model in bot/models (run `make train`)"
    return None


def texts(messages: list[dict[str, Any]]) -> str:
    """All text of a reply, joined."""
    return "\n".join(m.get("text", "") for m in messages if m.get("text"))


def buttons(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All buttons of a reply, in order."""
    return [b for m in messages for b in m.get("buttons") or []]


def offers_payload(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``custom`` offers payload of a reply, if it has one."""
    found = offers_in(messages)
    return dict(found) if found is not None else None


def _shown(messages: list[dict[str, Any]]) -> str:
    """A reply as a failure message shows it: text, button titles, payload types."""
    lines = [texts(messages) or "(no text)"]
    titles = [b.get("title") for b in buttons(messages)]
    if titles:
        lines.append(f"buttons: {titles}")
    kinds = [m["custom"].get("type") for m in messages if isinstance(m.get("custom"), dict)]
    if kinds:
        lines.append(f"payloads: {kinds}")
    return "\n".join(lines)


@dataclass
class RunningBot:
    """Handles the tests need: where Rasa listens and which rules it serves."""

    rasa_url: str
    action_url: str
    rules_dir: Path
    database_url: str
    log: io.StringIO
    client: httpx.Client
    rasa_token: str = field(repr=False, default="")

    def send(
        self,
        sender: str,
        message: str,
        *,
        expect: str | Iterable[str] = (),
        expect_offers: bool = False,
        allow_silence: bool = False,
        **extra: Any,
    ) -> list[dict[str, Any]]:
        """One shopper turn over the REST channel; the list of bot messages.

        Fails the test when the shopper would notice something wrong: an HTTP error, a
        reply with nothing in it (unless the conversation is paused, or ``allow_silence``),
        a stack trace, a missing ``expect`` text (the next question's wording, say) or,
        with ``expect_offers``, no offers payload.
        """
        response = self.client.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message, **extra},
        )
        if response.status_code >= 500:
            pytest.fail(
                f"Rasa answered HTTP {response.status_code} to {message[:80]!r} "
                f"(conversation {sender}): {response.text[:500]}"
            )
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        assert isinstance(messages, list), messages
        heard = any(m.get("text") or m.get("buttons") or m.get("custom") for m in messages)
        if not heard:
            if allow_silence or self.paused(sender):
                return messages
            pytest.fail(f"the bot said nothing to {message[:80]!r} (conversation {sender})")
        text = texts(messages)
        if "Traceback" in text:
            pytest.fail(f"a stack trace in the chat after {message[:80]!r}:\n{text}")
        wanted = [expect] if isinstance(expect, str) else list(expect)
        missing = [w for w in wanted if w not in text]
        if missing:
            pytest.fail(
                f"after {message[:80]!r} the bot did not say {missing}; it said:\n"
                + _shown(messages)
            )
        if expect_offers and offers_payload(messages) is None:
            pytest.fail(f"no offers after {message[:80]!r}; the bot said:\n" + _shown(messages))
        return messages

    def talk(
        self, sender: str, turns: Iterable[tuple[str, str]], **checks: Any
    ) -> list[dict[str, Any]]:
        """Several turns, each ``(message, what the reply must say)``; the last reply."""
        reply: list[dict[str, Any]] = []
        for message, expected in turns:
            reply = self.send(sender, message, expect=expected, **checks)
        return reply

    def tracker(self, sender: str) -> dict[str, Any]:
        """Rasa's tracker of a conversation (HTTP API, with the token), without events."""
        response = self.client.get(
            f"{self.rasa_url}/conversations/{sender}/tracker",
            params={"token": self.rasa_token, "include_events": "NONE"},
        )
        response.raise_for_status()
        tracker: dict[str, Any] = response.json()
        return tracker

    def paused(self, sender: str) -> bool:
        """Whether staff paused the conversation: the one case where silence is right."""
        return bool(self.tracker(sender).get("paused"))

    def state(self, sender: str) -> dict[str, Any]:
        """The advisor's conversation state as Rasa keeps it (slot ``advisor_state``)."""
        state = self.tracker(sender)["slots"].get("advisor_state")
        return dict(state) if isinstance(state, dict) else {}

    def product(self, sku: str) -> dict[str, Any]:
        """A product of the test run's catalogue, as a row."""
        path = self.database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM product WHERE sku = ?", (sku,)).fetchone()
        assert row is not None, f"offered product {sku} is not in the catalogue"
        return dict(row)


def _derive(ruleset: RuleSet, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The rule set's derived values (frame size from height) read off its tables."""
    values = dict(answers)
    for derived in ruleset.derived:
        for source in derived.sources:
            given = values.get(source.source)
            if isinstance(given, int | float):
                row = next((r for r in source.table if r.min <= given < r.max), None)
                if row is not None:
                    values[derived.id] = row.value
                    break
    return values


_HOLDS = {
    "eq": lambda actual, wanted: actual == wanted,
    "le": lambda actual, wanted: actual <= wanted,
    "lt": lambda actual, wanted: actual < wanted,
    "ge": lambda actual, wanted: actual >= wanted,
    "gt": lambda actual, wanted: actual > wanted,
}


def check_offers(bot: RunningBot, reply: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    """The offers payload of a reply (or the payload itself), checked; the payload.

    The offers a shopper sees keep the contract and every promise not loosened.

    The contract of shared/DESIGN.md; items as in the catalogue; each hard wish on a
    number (budget on the total, frame size against the height) holds unless the offer
    says it was loosened; a bike without pedals comes with pedals, for the cleats of the
    shopper's shoes or, for a beginner, flat or SPD; shoes suggested beside clip into
    the pedals offered.
    """
    if isinstance(reply, list):
        payload = offers_payload(reply)
        assert payload is not None, "no offers in the reply:\n" + _shown(reply)
    else:
        payload = reply
    assert payload["type"] == "offers"
    answers = payload["answers"]
    assert isinstance(answers, dict)
    assert 1 <= len(payload["offers"]) <= 3
    ruleset = SHIPPED[payload["ruleset"]]
    values = _derive(ruleset, answers)
    pedal_cleats: set[str] = set()
    for rank, offer in enumerate(payload["offers"], start=1):
        assert offer["rank"] == rank
        assert offer["currency"] == "EUR"
        assert offer["reasons"] and all(isinstance(r, str) and r for r in offer["reasons"])
        assert isinstance(offer["relaxed"], list)
        roles = [item["role"] for item in offer["items"]]
        assert roles[0] == "main"
        assert set(roles) <= {"main", "required", "option"}
        assert offer["total_price"] == pytest.approx(sum(i["price"] for i in offer["items"]))
        for item in offer["items"]:
            assert {"sku", "name", "category", "role", "price", "in_stock", "attributes"} <= set(
                item
            )
            row = bot.product(item["sku"])
            assert (item["category"], item["price"]) == (row["category"], row["price"]), item
            assert item["in_stock"] == (row["stock"] > 0), item
        main = offer["items"][0]
        assert main["category"] == ruleset.category
        for rule in ruleset.filters:
            loosened = any(rule.label in r for r in offer["relaxed"])
            wanted = values.get(rule.answer) if rule.answer else None
            if (
                not rule.hard
                or rule.when is not None
                or rule.op not in _HOLDS
                or rule.map is not None
                or loosened
                or not isinstance(wanted, int | float)
            ):
                continue
            if rule.scope == "bundle":
                actual = offer["total_price"] if rule.attribute == "price" else None
            else:
                actual = main["attributes"].get(rule.attribute, main.get(rule.attribute))
            assert actual is not None and _HOLDS[rule.op](actual, wanted), (
                f"offer {rank} breaks {rule.label!r} ({rule.attribute} {rule.op} {wanted}) "
                f"with {actual}, and does not say it was loosened: {offer['relaxed']}"
            )
        pedals = [i for i in offer["items"] if i["category"] == "pedals"]
        if main["attributes"].get("pedals_included") is False:
            assert [p["role"] for p in pedals] == ["required"], offer["items"]
            cleat = pedals[0]["attributes"]["cleat_system"]
            pedal_cleats.add(cleat)
            if answers.get("shoes_owned") in CLEATS:
                assert cleat == answers["shoes_owned"], "pedals must take the shoes' cleats"
            elif answers.get("experience") == "beginner":
                assert cleat in {"flat", "spd"}, "a beginner gets flat or SPD pedals"
        elif main["attributes"].get("pedals_included") is True:
            assert pedals == [], "a bike with pedals gets no second pair"
    for item in payload["cross_sell"]:
        assert {"sku", "name", "category", "price", "reason"} <= set(item)
        assert item["reason"]
        row = bot.product(item["sku"])
        assert (item["category"], item["price"]) == (row["category"], row["price"]), item
        if item["category"] == "shoes" and pedal_cleats:
            assert row["cleat_system"] in pedal_cleats, "suggested shoes must fit the pedals"
    return payload


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"integration tests cannot run: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("stack")
    rules = base / "rules"
    shutil.copytree(REPO / "product_rules" / "rules", rules)
    database_url = f"sqlite:///{base / 'catalog.db'}"
    build_demo_database(database_url)

    action_port, rasa_port = free_port(), free_port()
    actions = action_service(
        action_port, env={"DATABASE_URL": database_url, "PRODUCT_RULES_DIR": str(rules)}
    )
    rasa = rasa_service(
        rasa_port, action_port, env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"}
    )
    log = io.StringIO()
    stack = Stack([actions, rasa], log=log)
    try:
        with stack.running(timeout=240), httpx.Client(timeout=60) as client:
            yield RunningBot(
                rasa.url, actions.url, rules, database_url, log, client, rasa_token=rasa.token
            )
    except (RuntimeError, TimeoutError):
        sys.stderr.write(log.getvalue()[-20000:])
        raise


# Rules published while the servers run (test_rules_live.py, test_rules_editor_live.py).

T = TypeVar("T")

#: How often the action server's registry looks at files and publications at most.
CHECK_INTERVAL: float = inspect.signature(RuleRegistry).parameters["check_interval"].default
#: The promise: a file edit or a publish is in service within a second (plus a loaded CI
#: machine's slack); other waits get longer, as they only guard the next test.
IN_SERVICE_WITHIN = 2.0
RESTORED_WITHIN = 15.0


def fresh() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def poll(what: str, probe: Callable[[], T | None], *, within: float) -> T:
    """``probe()`` again and again (each is a turn with the bot) until it gives a value."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within} s")


def served_rules(bot: RunningBot) -> dict[str, tuple[str, str]]:
    """What the bot serves, as a shopper sees it: each rule set's button and first question."""
    listed = buttons(bot.send(fresh(), "hi"))
    served = {}
    for button in listed:
        assert button["payload"].startswith("/request_advice"), listed
        served[button["payload"]] = (button["title"], texts(bot.send(fresh(), button["payload"])))
    return served


@pytest.fixture()
def no_leaked_publications(bot: RunningBot) -> Iterator[None]:
    """Take back every publication the test makes; wait until the bot serves what it did.

    Not autouse: a module whose tests publish asks for it (``usefixtures``).

    The publication log is append-only for merchandisers; the test run's database is the
    test's own, so its rows are deleted. The registry sees the deletion (the newest
    publication id goes down) on a turn at least one check interval later: the poll asks
    until such a turn shows the rules from before the test.
    """
    db = make_engine(bot.database_url)
    with Session(db) as session:
        last_publication = session.exec(select(func.max(Publication.id))).one() or 0
        last_version = session.exec(select(func.max(RuleVersion.id))).one() or 0
    before = served_rules(bot)
    mark = len(bot.log.getvalue())
    try:
        yield
    finally:
        with Session(db) as session:
            session.exec(delete(Publication).where(col(Publication.id) > last_publication))
            session.exec(delete(RuleVersion).where(col(RuleVersion.id) > last_version))
            session.commit()
        db.dispose()
        taken_back = time.monotonic()
        poll(
            f"the bot serving the rules from before the test again ({sorted(before)})",
            lambda: time.monotonic() - taken_back > CHECK_INTERVAL and served_rules(bot) == before,
            within=RESTORED_WITHIN,
        )
        logged = bot.log.getvalue()[mark:]
        if "Traceback" in logged:  # the shopper saw "something went wrong": show why
            start = logged.index("Traceback")
            pytest.fail(
                "the servers logged a stack trace:\n" + logged[max(0, start - 500) : start + 4000]
            )
