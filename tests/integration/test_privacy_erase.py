"""A real conversation erased from every table, ours and Rasa's, on SQLite and PostgreSQL.

Each backend gets a stack of its own (action server, Rasa with its SQL tracker store,
the web app), on fresh databases, so every row in them comes from this test. A shopper
talks through the web app to the offers (with a message the advisor does not
understand, which the analytics keep as text), rates the advice with a comment, asks
for a person and leaves a message while nobody is in; then asks again, a staff member
signed in to the console accepts, and they chat; a second shopper talks too. Then:

* the shopper's download holds everything they said;
* the shopper deletes the conversation from the widget's route; every text and JSON
  column of every table of both databases is read (``traces``) until none holds the
  conversation id, a sentence the shopper wrote, their email or their code, while the
  other shopper's conversation is all there and the analytics still count both;
* the purge then erases exactly the conversation past retention.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from advisor import accounts, retention, schema
from advisor.privacy import Stores, tracker_engine
from catalog.db import make_engine
from catalog.demo import build_demo_database
from tests.advisor.test_privacy import traces
from tests.integration.conftest import _missing, ask, offers_payload, texts
from tests.integration.test_postgres_tracker import _psycopg2_missing
from web.privacy_view import LATE_SWEEP_SECONDS
from web.production import database_on, drop_databases
from web.stack import (
    REPO,
    Stack,
    action_service,
    free_port,
    listening_socket,
    rasa_service,
    web_service,
)

pytestmark = pytest.mark.integration

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: What the first shopper types, in order, with what the bot must say next.
SHOPPER = [
    ("I want a road bike", ask("road_bike", "usage")),
    ("zxqv flibbertigibbet wobble", ask("road_bike", "usage")),  # not understood
    ("mostly long weekend rides", ask("road_bike", "experience")),
    ("total newbie", ask("road_bike", "budget")),
    ("about 1.5k", ask("road_bike", "body_height_cm")),
    ("1,82 m", ask("road_bike", "shoes_owned")),
]
COMMENT = "Helpful, though the Kesselberg question puzzled me"
LEFT = "Please ring me about the Kesselberg road bike tomorrow"
EMAIL = "kesselberg.rider@example.org"
LIVE = "Could you check the frame size for my Kesselberg knees"
STAFF_SAID = "Gladly: how long is your inside leg for the Kesselberg bike?"
STAFF, STAFF_PASSWORD = "anna", "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
OTHER = [("I'm looking for a gravel bike", ask("gravel_bike", "riding"))]
ERASED_WITHIN_S = 15.0


@dataclass
class PrivacyStack:
    web_url: str
    stores: Stores
    log: io.StringIO

    def engines(self) -> list[Engine]:
        assert self.stores.tracker is not None
        return [self.stores.engine, self.stores.tracker]


def _running(base: Path, database_url: str, tracker_url: str) -> Iterator[PrivacyStack]:
    engine = make_engine(database_url)
    schema.upgrade(engine, database_url)  # as make run does before any process starts
    build_demo_database(database_url)
    with Session(engine) as session:
        accounts.create_user(session, name=STAFF, role="staff", password=STAFF_PASSWORD)
    rules = base / "rules"
    shutil.copytree(REPO / "product_rules" / "rules", rules)
    action_port, rasa_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "PRODUCT_RULES_DIR": str(rules)}
    actions = action_service(action_port, env=env)
    rasa = rasa_service(rasa_port, action_port, env={"TRACKER_STORE_URL": tracker_url})
    web = web_service(
        listening_socket(),
        rasa.url,
        rasa_token=rasa.token,
        env={
            **env,
            "TRACKER_STORE_URL": tracker_url,
            "WEB_SECRET_KEY": secrets.token_urlsafe(32),
            "HANDOVER_ACCEPT_SECONDS": "600",
        },
    )
    log = io.StringIO()
    tracker = tracker_engine(tracker_url)
    try:
        with Stack([actions, rasa, web], log=log).running(timeout=240):
            yield PrivacyStack(web.url, Stores(engine, tracker), log)
    except (RuntimeError, TimeoutError):
        sys.stderr.write(log.getvalue()[-20000:])
        raise
    finally:
        tracker.dispose()
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivacyStack]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("privacy-sqlite")
    yield from _running(
        base, f"sqlite:///{base / 'advisor.db'}", f"sqlite:///{base / 'tracker.db'}"
    )


@pytest.fixture(scope="module")
def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivacyStack]:
    reason = _missing() or _psycopg2_missing()
    try:
        import psycopg

        with psycopg.connect(SERVER, connect_timeout=3) as connection:
            connection.autocommit = True
            suffix = uuid.uuid4().hex[:8]
            names = (f"privacy_advisor_{suffix}", f"privacy_tracker_{suffix}")
            if not reason:
                for name in names:
                    connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        reason = reason or f"PostgreSQL is not reachable at {SERVER}: {exc}"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the PostgreSQL privacy test cannot run under CI: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("privacy-postgres")
    try:
        yield from _running(
            base, database_on(SERVER, names[0], "psycopg"), database_on(SERVER, names[1])
        )
    finally:
        drop_databases(SERVER, names)


def _say(client: httpx.Client, message: str, expected: str = "") -> list[dict[str, Any]]:
    response = client.post("/api/chat", json={"message": message, "metadata": {"language": "en"}})
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    assert expected in texts(messages), f"after {message!r}: {texts(messages)}"
    return messages


def _staff(stack: PrivacyStack) -> tuple[httpx.Client, str]:
    """A staff member signed in to the console and available; their client and CSRF token."""
    client = httpx.Client(
        base_url=stack.web_url, timeout=60, headers={"accept": "text/html"}, follow_redirects=True
    )
    token = CSRF_INPUT.search(client.get("/login").text)
    assert token
    signed_in = client.post(
        "/login", data={"name": STAFF, "password": STAFF_PASSWORD, "csrf_token": token.group(1)}
    )
    assert signed_in.status_code == 200, signed_in.text[:500]
    meta = CSRF_META.search(client.get("/console").text)
    assert meta
    available = client.post(
        "/console/presence", data={"status": "available", "csrf_token": meta.group(1)}
    )
    assert available.status_code == 200, available.text[:500]
    return client, meta.group(1)


def _live_chat(stack: PrivacyStack, shopper: httpx.Client, sender: str) -> str:
    """The shopper asks for a person again, the staff member takes it, they chat."""
    staff, csrf = _staff(stack)
    code = _handoff(shopper, "can I speak to someone")
    with stack.stores.engine.connect() as connection:
        handover = connection.execute(
            text("SELECT id FROM advisor_handover WHERE conversation = :c AND code = :code"),
            {"c": sender, "code": code},
        ).scalar_one()
    json_call = {"accept": "application/json", "x-csrf-token": csrf}
    accepted = staff.post(f"/console/live/{handover}/accept", headers=json_call)
    assert accepted.status_code == 200, accepted.text
    _say(shopper, LIVE)  # to the staff member, not to Rasa
    said = staff.post(f"/console/live/{handover}/say", data={"text": STAFF_SAID}, headers=json_call)
    assert said.status_code == 200, said.text
    back = staff.post(f"/console/live/{handover}/hand-back", headers=json_call)
    assert back.status_code == 200, back.text
    staff.close()
    return code


def _handoff(shopper: httpx.Client, message: str) -> str:
    reply = _say(shopper, message)
    return str(
        next(
            m["custom"]["code"]
            for m in reply
            if isinstance(m.get("custom"), dict) and m["custom"].get("type") == "handoff"
        )
    )


def _converse(stack: PrivacyStack) -> tuple[httpx.Client, str, str]:
    """The first shopper's whole conversation; their client and their two codes."""
    client = httpx.Client(base_url=stack.web_url, timeout=60)
    reply: list[dict[str, Any]] = []
    for message, expected in SHOPPER:
        reply = _say(client, message, expected)
    button = next(
        b for m in reply for b in m.get("buttons") or [] if b["title"] == "No, normal shoes"
    )
    offers = _say(client, button["payload"])
    assert offers_payload(offers) is not None, texts(offers)
    rated = client.post("/api/chat/rating", json={"target": "bot", "step": 2, "comment": COMMENT})
    assert rated.status_code == 200, rated.text
    code = _handoff(client, "i want to talk to a real person")
    left = client.post("/api/chat/message-for-staff", json={"text": LEFT, "email": EMAIL})
    assert left.status_code == 200, left.text
    sender = client.get("/api/chat/privacy/export").json()["conversation"]
    return client, code, _live_chat(stack, client, sender)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _erase_and_check(stack: PrivacyStack) -> None:
    shopper, code, live_code = _converse(stack)
    other = httpx.Client(base_url=stack.web_url, timeout=60)
    for message, expected in OTHER:
        _say(other, message, expected)
    sender = shopper.get("/api/chat/privacy/export").json()["conversation"]
    kept = other.get("/api/chat/privacy/export").json()["conversation"]
    said = [message for message, _ in SHOPPER]
    needles = [sender, *said, COMMENT, LEFT, EMAIL, code, live_code, LIVE, STAFF_SAID]
    # The test proves nothing unless every needle was stored somewhere first.
    before = traces(stack.engines(), needles)
    stored = {n for n in needles if any(line.endswith(f": {n}") for line in before)}
    assert stored == set(needles), before
    assert any(line.startswith("events.") for line in before), "no Rasa tracker rows"

    document = shopper.get("/api/chat/privacy/export").json()
    typed = [m["text"] for m in document["messages"] if m["from"] == "shopper"]
    assert [t for t in typed if t in said] == said, "the export lacks what the shopper said"
    assert document["ratings"][0]["comment"] == COMMENT
    assert document["messages_left"][0]["text"] == LEFT
    assert document["offers"] and document["answers"]["budget"] == 1500
    assert {code, live_code} <= {h["code"] for h in document["hand_overs"]}
    live = [(m["type"], m.get("text")) for m in document["staff_messages"]]
    assert ("shopper_message", LIVE) in live and ("staff_message", STAFF_SAID) in live, live
    events_before = _count(stack.stores.engine, "advisor_event")

    erased = shopper.post("/api/chat/privacy/erase", json={"confirm": True})
    erased_at = time.monotonic()

    assert erased.status_code == 200 and erased.json()["erased"] is True
    deadline = erased_at + ERASED_WITHIN_S
    # Past the late sweep too: events the action server still had queued arrive after
    # the erasure (it writes every half second), and the sweep takes them.
    swept = erased_at + LATE_SWEEP_SECONDS + 1.0
    left = traces(stack.engines(), needles)
    while (left or time.monotonic() < swept) and time.monotonic() < deadline:
        time.sleep(0.5)
        left = traces(stack.engines(), needles)
    assert left == [], f"still stored after the erasure: {left}"
    assert shopper.get("/api/chat/history").json()["messages"] == []
    still = traces(stack.engines(), [kept, OTHER[0][0]])
    assert any(line.startswith("events.sender_id") for line in still), still
    assert _count(stack.stores.engine, "advisor_event") >= events_before, "counts must stay"

    # Purge: nothing is past 30 days' retention today; 31 days on, the other one is.
    assert retention.purge(stack.stores, days=30).conversations == 0
    assert traces(stack.engines(), [kept]) != []
    later = datetime.now(UTC) + timedelta(days=31)
    assert retention.purge(stack.stores, days=30, clock=lambda: later).conversations == 1
    assert traces(stack.engines(), [kept, OTHER[0][0]]) == []
    shopper.close()
    other.close()


def test_erase_on_sqlite_leaves_no_trace(sqlite_stack: PrivacyStack) -> None:
    _erase_and_check(sqlite_stack)


@pytest.mark.postgres
def test_erase_on_postgres_leaves_no_trace(postgres_stack: PrivacyStack) -> None:
    _erase_and_check(postgres_stack)
