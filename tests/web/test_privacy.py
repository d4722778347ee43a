"""The shopper's download and deletion, and the admin's privacy requests, over HTTP.

Rasa is scripted (MockTransport) and its tracker rows are written in the shape Rasa 3.6's
SQL tracker store writes them (tests/advisor/test_privacy.py); the real Rasa is in
tests/integration/test_privacy_erase.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from advisor import accounts, schema
from advisor.live_payloads import chat_topic
from advisor.settings import Settings
from advisor.sharing import ShareStore
from advisor.state import ConversationState
from catalog.db import make_engine
from tests.advisor.test_privacy import rasa_turn, traces
from web.app import create_app
from web.conversation import COOKIE_NAME, decode_cookie

PASSWORD = "correct horse battery"
HTML = {"accept": "text/html"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
SAID = "I need a gravel bike for the Alpenüberquerung next summer"
COMMENT = "Quick and friendly, thanks for the frame size tip"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    database = f"sqlite:///{tmp_path / 'web.db'}"
    engine = make_engine(database)
    schema.metadata().create_all(engine)  # as `advisor db upgrade` would
    engine.dispose()
    return Settings(
        rasa_url="http://rasa.test:5005",
        database_url=database,
        secret_key="privacy-test-secret",
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        retention_days=21,
    )


@pytest.fixture()
def app(settings: Settings) -> Iterator[FastAPI]:
    reply = [{"recipient_id": "x", "text": "How do you ride?"}]
    app = create_app(
        settings, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=reply))
    )
    with app.state.db.session() as session:
        accounts.create_user(session, name="anna", role="staff", password=PASSWORD)
        accounts.create_user(session, name="olga", role="admin", password=PASSWORD)
    yield app
    app.state.db.dispose()


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _chat(client: TestClient, settings: Settings) -> str:
    """A shopper's conversation: a message, its tracker rows, a rating with a comment."""
    response = client.post("/api/chat", json={"message": SAID})
    assert response.status_code == 200, response.text
    decoded = decode_cookie(client.cookies.get(COOKIE_NAME), settings)
    assert decoded is not None
    sender = decoded[0]
    tracker = create_engine(settings.tracker_store_url)
    rasa_turn(tracker, sender, SAID, {"text": "How do you ride?"}, time.time())
    tracker.dispose()
    rated = client.post("/api/chat/rating", json={"target": "bot", "step": 1, "comment": COMMENT})
    assert rated.status_code == 200, rated.text
    return sender


def _engines(app: FastAPI, settings: Settings) -> list[Engine]:
    return [app.state.db.engine, create_engine(settings.tracker_store_url)]


def test_shopper_downloads_the_conversation(client: TestClient, settings: Settings) -> None:
    sender = _chat(client, settings)

    response = client.get("/api/chat/privacy/export")

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["conversation"] == sender
    assert [m["text"] for m in document["messages"] if m["from"] == "shopper"] == [SAID]
    assert [(r["step"], r["comment"]) for r in document["ratings"]] == [(1, COMMENT)]


def test_download_without_a_conversation_is_empty(client: TestClient) -> None:
    response = client.get("/api/chat/privacy/export")

    assert response.status_code == 200
    assert response.json()["messages"] == []
    assert COOKIE_NAME not in response.cookies, "downloading must not start a conversation"


def test_shopper_deletes_the_conversation(
    client: TestClient, app: FastAPI, settings: Settings
) -> None:
    sender = _chat(client, settings)

    response = client.post("/api/chat/privacy/erase", json={"confirm": True})

    assert response.status_code == 200
    assert response.json() == {"ok": True, "erased": True}
    assert (
        'conversation=""' in response.headers["set-cookie"]
        or "Max-Age=0" in (response.headers["set-cookie"])
    )
    assert COOKIE_NAME not in client.cookies
    assert traces(_engines(app, settings), [sender, SAID, COMMENT]) == []
    again = client.get("/api/chat/history")
    assert again.json()["messages"] == []


def test_deleting_during_a_live_chat_tells_the_staff_member(
    client: TestClient, app: FastAPI, settings: Settings
) -> None:
    sender = _chat(client, settings)
    store = app.state.live.store  # the app's own live desk, made by the chat
    store.set_presence("anna", status="available", capacity=2)
    record, _ = store.request(conversation=sender, state=ConversationState(), code=None)
    store.route()
    store.accept(record.id, staff="anna")
    store.say(record.id, text="Which frame size do you ride now?", staff="anna")
    staff_side = app.state.live.channel.subscribe(chat_topic(record.id))
    assert client.portal is not None
    client.portal.call(staff_side.__aenter__)

    response = client.post("/api/chat/privacy/erase", json={"confirm": True})

    assert response.status_code == 200
    told = client.portal.call(asyncio.wait_for, staff_side.__anext__(), 5)
    assert told["type"] == "closed", told
    assert traces(_engines(app, settings), [sender, "Which frame size do you ride now?"]) == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": {"confirm": "true"}}, 422),  # a cross-site form cannot send JSON
        ({"json": {}}, 422),
        ({"json": {"confirm": False}}, 422),
        ({"json": {"confirm": True}, "headers": {"origin": "https://evil.example"}}, 403),
    ],
    ids=["form post", "no confirm", "confirm false", "other origin"],
)
def test_deletion_refused_keeps_everything(
    client: TestClient, app: FastAPI, settings: Settings, kwargs: dict[str, object], status: int
) -> None:
    sender = _chat(client, settings)

    response = client.post("/api/chat/privacy/erase", **kwargs)

    assert response.status_code == status
    assert traces(_engines(app, settings), [sender]) != []


def test_notice_before_the_first_message(client: TestClient) -> None:
    page = client.get("/en/")

    assert "I am an automated assistant, not a person." in page.text
    assert "until 21 days after your last message" in page.text
    assert "A strictly necessary cookie keeps this conversation" in page.text
    assert 'href="/en/privacy" data-testid="privacy-link"' in page.text
    assert "set-cookie" not in page.headers, "a page sets no cookie before the first message"
    german = client.get("/de/")
    assert "Ich bin ein automatischer Assistent, kein Mensch." in german.text
    assert 'href="/de/datenschutz"' in german.text


def test_notice_text_and_link_come_from_the_settings(settings: Settings) -> None:
    own = Settings(
        **{
            **{f: getattr(settings, f) for f in ("rasa_url", "database_url", "secret_key")},
            "privacy_url_de": "https://shop.example/datenschutz",
            "privacy_notice_de": "Wir speichern den Chat 7 Tage lang.",
        }
    )
    with TestClient(create_app(own)) as client:
        german, english = client.get("/de/").text, client.get("/en/").text

    assert "Wir speichern den Chat 7 Tage lang." in german
    assert 'href="https://shop.example/datenschutz"' in german
    assert 'href="/en/privacy"' in english, "the other language keeps its default"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS must be a positive number of days"),
        ({"RETENTION_DAYS": "a month"}, "RETENTION_DAYS must be a whole number of days"),
        ({"PRIVACY_URL_EN": "javascript:alert(1)"}, "PRIVACY_URL_EN must start with https://"),
        ({"PRIVACY_NOTICE_DE": "x" * 2001}, "PRIVACY_NOTICE_DE is 2001 characters long"),
    ],
    ids=["zero days", "not a number", "a script url", "too long"],
)
def test_privacy_settings_refuse_bad_values(tmp_path: Path, env: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Settings.from_env(env, var_dir=tmp_path)


def test_privacy_page_in_both_languages(client: TestClient) -> None:
    english, german = client.get("/en/privacy"), client.get("/de/datenschutz")

    assert english.status_code == german.status_code == 200
    assert "A conversation is deleted 21 days after its last message." in english.text
    assert "Ein Gespräch wird 21 Tage nach seiner letzten Nachricht gelöscht." in german.text


# -- staff -----------------------------------------------------------------------


def _sign_in(client: TestClient, name: str) -> None:
    page = client.get("/login", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def _login(client: TestClient, name: str) -> str:
    """Sign ``name`` in; the CSRF token of the privacy page."""
    _sign_in(client, name)
    page = client.get("/console/privacy", headers=HTML)
    meta = CSRF_META.search(page.text)
    assert meta, page.text[:300]
    return meta.group(1)


def test_privacy_console_needs_an_admin(client: TestClient) -> None:
    assert client.get("/console/privacy", headers={"accept": "application/json"}).status_code == 401
    _sign_in(client, "anna")

    assert client.get("/console/privacy", headers=HTML).status_code == 403


def test_admin_exports_by_code_and_erases(
    client: TestClient, app: FastAPI, settings: Settings
) -> None:
    sender = _chat(client, settings)
    code = ShareStore(app.state.db.engine).handoff_code(ConversationState(), sender)
    client.cookies.delete(COOKIE_NAME)  # the admin's own browser, not the shopper's
    csrf = _login(client, "olga")

    exported = client.post(
        "/console/privacy/export", data={"reference": code.lower(), "csrf_token": csrf}
    )
    refused = client.post(
        "/console/privacy/erase", data={"reference": code, "csrf_token": csrf}, headers=HTML
    )
    erased = client.post(
        "/console/privacy/erase",
        data={"reference": code, "confirm": "yes", "csrf_token": csrf},
        headers=HTML,
    )

    assert exported.status_code == 200
    assert json.loads(exported.text)["ratings"][0]["comment"] == COMMENT
    assert refused.status_code == 422 and "Tick the box" in refused.text
    assert erased.status_code == 200 and "Erased: " in erased.text
    assert traces(_engines(app, settings), [sender, SAID, COMMENT, code]) == []
    audit = client.get("/console/privacy", headers=HTML).text
    assert audit.count("olga") >= 2 and "export" in audit and "erase" in audit
    unknown = client.post(
        "/console/privacy/erase",
        data={"reference": code, "confirm": "yes", "csrf_token": csrf},
        headers=HTML,
    )
    assert unknown.status_code == 404 and "Nothing is stored under this id or code" in unknown.text
    german = client.get("/console/privacy?lang=de", headers=HTML).text
    assert "Datenschutzanfragen" in german and "Löschung" in german and "Export" in german


def test_admin_post_without_csrf_is_refused(client: TestClient) -> None:
    _login(client, "olga")

    response = client.post(
        "/console/privacy/erase", data={"reference": "ABCDEF", "confirm": "yes"}, headers=HTML
    )

    assert response.status_code == 403
