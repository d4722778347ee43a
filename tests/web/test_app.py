"""The web app against a fake Rasa made with httpx.MockTransport (no network)."""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from advisor.service import Advisor, Turn
from advisor.settings import Settings
from advisor.state import ConversationState
from catalog.db import make_engine
from product_rules.offers import offers_in
from product_rules.registry import RuleRegistry
from tests.conftest import RULES
from tests.tables import create_schema
from tests.web.fake_rasa import FakeRasa as FakeRasaServer
from web.app import UNAVAILABLE_MESSAGE, create_app
from web.conversation import COOKIE_NAME, decode_cookie
from web.routers.shop import MAX_MESSAGE_CHARS

RASA_URL = "http://rasa.test:5005"
WEBHOOK = f"{RASA_URL}/webhooks/rest/webhook"
RASA_TOKEN = "rasa-test-token"
# The web app reads the advisor's tables (hand-over requests) on every chat turn: tests
# keep them in a database of their own, removed when the run ends, never in var/.
_TEST_DIR = Path(tempfile.mkdtemp(prefix="web-tests-"))
atexit.register(shutil.rmtree, _TEST_DIR, ignore_errors=True)
TEST_DATABASE_URL = f"sqlite:///{_TEST_DIR / 'web.db'}"
_engine = create_schema(make_engine(TEST_DATABASE_URL))  # as `advisor db upgrade` would
_engine.dispose()
SETTINGS = Settings(
    rasa_url=RASA_URL,
    secret_key="web-test-secret",
    rasa_token=RASA_TOKEN,
    database_url=TEST_DATABASE_URL,
)


def conversation_of(client: httpx.AsyncClient, settings: Settings = SETTINGS) -> str:
    """The conversation id in the client's signed cookie (fails when it has none)."""
    decoded = decode_cookie(client.cookies.get(COOKIE_NAME), settings)
    assert decoded is not None, "no valid conversation cookie"
    return decoded[0]


Handler = Callable[[httpx.Request], httpx.Response]


class FakeRasa:
    """Records what the web app sent and answers with a scripted handler."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler = lambda request: httpx.Response(200, json=[])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def sent_json(self) -> Any:
        return json.loads(self.requests[-1].content)


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # ASGITransport does not run the lifespan, which opens the client to Rasa: run it here.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client(rasa: FakeRasa) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, transport=httpx.MockTransport(rasa))
    async with serve(app) as test_client:
        yield test_client


def raise_(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def test_get_shop_page_renders(client: httpx.AsyncClient) -> None:
    response = await client.get("/en/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Find the right bike in a few questions" in response.text
    assert 'src="/static/chat.js"' in response.text
    assert 'href="/static/chat.css"' in response.text
    for testid in ("chat-input", "chat-send", "chat-log", "chat-restart"):
        assert f'data-testid="{testid}"' in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_get_shop_page_loads_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    html = (await client.get("/en/")).text

    assert "http://" not in html and "https://" not in html


@pytest.mark.parametrize("name", ["chat.js", "chat.css", "shop.css"])
async def test_get_static_file_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/static/{name}")

    assert response.status_code == 200
    assert "http://" not in response.text and "https://" not in response.text


async def test_post_chat_forwards_message_metadata_as_the_cookies_conversation(
    client: httpx.AsyncClient, rasa: FakeRasa
) -> None:
    replies = [
        {
            "recipient_id": "abc",
            "text": "Hi!\nHow do you ride?",
            "buttons": [{"title": "Beginner", "payload": '/inform{"choice":"beginner"}'}],
        },
        {"recipient_id": "abc", "custom": {"type": "offers", "offers": [], "cross_sell": []}},
    ]
    rasa.handler = lambda request: httpx.Response(200, json=replies)

    response = await client.post(
        "/api/chat", json={"message": "hello", "metadata": {"language": "en", "page": "/"}}
    )

    assert response.status_code == 200
    assert response.json() == {"messages": replies}
    assert str(rasa.requests[-1].url) == WEBHOOK
    assert rasa.requests[-1].method == "POST"
    sender = conversation_of(client)
    # Only the language goes on: the actions read nothing else.
    expected = {"sender": sender, "message": "hello", "metadata": {"language": "en"}}
    assert rasa.sent_json() == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "\\ud800 road bike"}',
        b'{"message": "hi", "metadata": {"language": "\\ud800"}}',
        b'{"message": "hi", "metadata": {"budget": 1e309}}',
        b'{"message": "hi", "metadata": {"budget": NaN}}',
        b'{"message": "hi", "metadata": ' + b'{"a":' * 900 + b"1" + b"}" * 900 + b"}",
    ],
    ids=["surrogate", "surrogate-metadata", "overflow", "nan", "deep-metadata"],
)
async def test_post_chat_hostile_body_is_answered_not_a_500(
    client: httpx.AsyncClient, rasa: FakeRasa, body: bytes
) -> None:
    rasa.handler = lambda request: httpx.Response(200, json=[{"text": "What do you need?"}])
    response = await client.post(
        "/api/chat", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert [m.get("text") for m in response.json()["messages"]] == ["What do you need?"]
        sent = rasa.sent_json()
        assert set(sent.get("metadata") or {}) <= {"language"}


ROAD_AT_ONCE = (
    "I want a road bike for long rides, I'm a beginner, budget 1500 EUR, 182 cm tall, normal shoes"
)


async def test_post_chat_passes_the_advisors_offers_through_unchanged(demo_db: Engine) -> None:
    # Rasa here is the real advisor behind Rasa's REST channel (tests/web/fake_rasa.py).
    advisor = Advisor(RuleRegistry(RULES, demo_db))
    real = FakeRasaServer(advisor, token=RASA_TOKEN)
    app = create_app(SETTINGS, transport=httpx.ASGITransport(app=real.app()))
    async with serve(app) as test_client:
        response = await test_client.post("/api/chat", json={"message": ROAD_AT_ONCE})

    assert response.status_code == 200
    messages = response.json()["messages"]
    _, reply = advisor.step(ConversationState(), Turn(ROAD_AT_ONCE, "request_advice"))
    [expected] = reply.payloads
    assert offers_in(messages) == expected
    assert expected["answers"] == {
        "usage": "endurance",
        "experience": "beginner",
        "budget": 1500.0,
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
    # The text lists the same offers, in the same order, ready to ride.
    [text] = [m["text"] for m in messages if "text" in m]
    assert "Here are my top 3 picks, ready to ride:" in text
    for offer in expected["offers"]:
        assert f"{offer['rank']}. {offer['title']}" in text
        assert offer["total_price"] <= 1500


async def test_post_chat_without_metadata_sends_none(
    client: httpx.AsyncClient, rasa: FakeRasa
) -> None:
    await client.post("/api/chat", json={"message": "hi"})

    assert rasa.sent_json() == {"sender": conversation_of(client), "message": "hi"}


async def test_post_chat_truncates_long_message(client: httpx.AsyncClient, rasa: FakeRasa) -> None:
    response = await client.post("/api/chat", json={"message": "x" * (MAX_MESSAGE_CHARS + 1000)})

    assert response.status_code == 200
    assert rasa.sent_json()["message"] == "x" * MAX_MESSAGE_CHARS


async def test_post_chat_passes_junk_text_through_unchanged(
    client: httpx.AsyncClient, rasa: FakeRasa
) -> None:
    junk = "<b>bold</b> ' \" \x00 🚲 \u202e"

    await client.post("/api/chat", json={"message": junk})

    assert rasa.sent_json()["message"] == junk


@pytest.mark.parametrize(
    "handler",
    [
        raise_(httpx.ConnectError("Connection refused")),
        raise_(httpx.ReadTimeout("timed out")),
        raise_(httpx.RemoteProtocolError("peer closed connection")),
        lambda request: httpx.Response(500, text="Internal Server Error"),
        lambda request: httpx.Response(502),
        lambda request: httpx.Response(404),
        lambda request: httpx.Response(200, text="<html>not json</html>"),
        lambda request: httpx.Response(200, json={"not": "a list"}),
        lambda request: httpx.Response(200, json=["not an object"]),
    ],
    ids=[
        "connect_error",
        "read_timeout",
        "dropped_connection",
        "http_500",
        "http_502",
        "http_404",
        "not_json",
        "not_a_list",
        "list_of_non_objects",
    ],
)
async def test_post_chat_rasa_failure_returns_friendly_503(
    client: httpx.AsyncClient, rasa: FakeRasa, handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    rasa.handler = handler

    with caplog.at_level(logging.ERROR, logger="web"):
        response = await client.post("/api/chat", json={"message": "hi"})

    assert response.status_code == 503
    assert response.json() == {"error": "assistant_unavailable", "message": UNAVAILABLE_MESSAGE}
    [record] = [r for r in caplog.records if r.name == "web"]
    assert rasa.sent_json()["sender"] in record.getMessage()
    assert WEBHOOK in record.getMessage()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"sender": "abc"}, "message"),
        ({"message": 42}, "message"),
        ({"message": None}, "message"),
        ({"message": "hi", "metadata": "not a dict"}, "metadata"),
    ],
    ids=["empty", "no_message", "message_not_text", "message_null", "metadata_not_object"],
)
async def test_post_chat_invalid_body_returns_friendly_422(
    client: httpx.AsyncClient, rasa: FakeRasa, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/chat", json=body)

    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert payload["message"].startswith("We could not read that message")
    # It says which field is wrong, and never echoes the input back.
    assert [d["field"] for d in payload["details"]] == [field]
    assert all(d["problem"] for d in payload["details"])
    assert "not a dict" not in response.text
    assert rasa.requests == []


async def test_post_chat_not_json_returns_friendly_422(
    client: httpx.AsyncClient, rasa: FakeRasa
) -> None:
    response = await client.post(
        "/api/chat", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert rasa.requests == []


@pytest.mark.parametrize(
    "sender",
    ["", "has space", "<script>", "x" * 129, "A-z_9" * 25 + "abc", "someone-else", 42, None],
    ids=[
        "empty",
        "space",
        "markup",
        "too_long",
        "longest_valid",
        "plausible",
        "not_text",
        "null",
    ],
)
async def test_post_chat_ignores_any_sender_in_the_body(
    client: httpx.AsyncClient, rasa: FakeRasa, sender: object
) -> None:
    # Widgets from before the cookie send one; it must neither fail nor be used.
    response = await client.post("/api/chat", json={"sender": sender, "message": "hi"})

    assert response.status_code == 200
    assert rasa.sent_json() == {"sender": conversation_of(client), "message": "hi"}
    assert rasa.sent_json()["sender"] != sender


async def test_get_healthz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/de/", "/en/", "/healthz"])
async def test_head_answers_for_uptime_checks(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.head(path)).status_code == 200


async def test_get_healthz_rasa_ok(client: httpx.AsyncClient, rasa: FakeRasa) -> None:
    rasa.handler = lambda request: httpx.Response(200, text="Hello from Rasa: 3.6.21")

    response = await client.get("/healthz/rasa")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "rasa": "Hello from Rasa: 3.6.21"}
    assert str(rasa.requests[-1].url) == f"{RASA_URL}/"


@pytest.mark.parametrize(
    "handler",
    [raise_(httpx.ConnectError("Connection refused")), lambda r: httpx.Response(500)],
    ids=["connect_error", "http_500"],
)
async def test_get_healthz_rasa_down(
    client: httpx.AsyncClient, rasa: FakeRasa, handler: Handler
) -> None:
    rasa.handler = handler

    response = await client.get("/healthz/rasa")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


async def test_create_app_uses_settings_timeout(rasa: FakeRasa) -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=[])

    app = create_app(
        Settings(rasa_url=RASA_URL, request_timeout_s=7, database_url=TEST_DATABASE_URL),
        transport=httpx.MockTransport(handler),
    )
    async with serve(app) as test_client:
        await test_client.post("/api/chat", json={"message": "hi"})

    assert seen[0]["read"] == 7


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Settings("http://localhost:5005", 30.0)),
        ({"RASA_URL": "http://rasa:5005/"}, Settings("http://rasa:5005", 30.0)),
        ({"RASA_TIMEOUT_SECONDS": "2.5"}, Settings("http://localhost:5005", 2.5)),
    ],
    ids=["defaults", "trailing_slash_dropped", "timeout"],
)
def test_settings_from_env(env: dict[str, str], expected: Settings) -> None:
    assert Settings.from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"RASA_TIMEOUT_SECONDS": "soon"}, "RASA_TIMEOUT_SECONDS"),
        ({"RASA_TIMEOUT_SECONDS": "0"}, "RASA_TIMEOUT_SECONDS"),
        ({"RASA_URL": "localhost:5005"}, "RASA_URL"),
        ({"CONVERSATION_DAYS": "a month"}, "CONVERSATION_DAYS"),
        ({"CONVERSATION_DAYS": "0"}, "CONVERSATION_DAYS"),
        ({"APP_ENV": "production", "WEB_SECRET_KEY": "k" * 40}, "RASA_TOKEN"),
        ({"APP_ENV": "production", "WEB_SECRET_KEY": "k" * 40, "RASA_TOKEN": " "}, "RASA_TOKEN"),
    ],
    ids=[
        "timeout_not_a_number",
        "timeout_zero",
        "url_without_scheme",
        "conversation_days_text",
        "conversation_days_zero",
        "production_without_rasa_token",
        "production_blank_rasa_token",
    ],
)
def test_settings_from_env_bad_value(env: dict[str, str], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        Settings.from_env(env)


def test_settings_from_env_reads_rasa_token_and_conversation_days() -> None:
    settings = Settings.from_env(
        {"RASA_TOKEN": "secret-token", "CONVERSATION_DAYS": "7", "WEB_SECRET_KEY": "dev"}
    )

    assert (settings.rasa_token, settings.conversation_days) == ("secret-token", 7)
    assert "secret-token" not in repr(settings)


def test_settings_production_with_rasa_token() -> None:
    settings = Settings.from_env(
        {"APP_ENV": "production", "WEB_SECRET_KEY": "k" * 40, "RASA_TOKEN": "t" * 40}
    )

    assert settings.rasa_token == "t" * 40
