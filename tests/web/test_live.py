"""The live hand-over over HTTP: a fake Rasa (httpx.MockTransport), in-memory SQLite.

The shopper and the staff member are two TestClients on one app (two cookie jars). The
hand-over store runs on an in-memory database with a clock the tests move; Rasa is a
double that asks for a person when told "talk to a human", records pause and resume
events, and stays silent while paused, as Rasa does.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from advisor import accounts
from advisor.handover import HandoverRecord, HandoverStore
from advisor.live import InProcessChannel, RedisChannel
from advisor.live_payloads import QUEUE_TOPIC, chat_topic
from advisor.routing import OpeningHours
from advisor.settings import Settings
from advisor.sharing import ShareStore
from advisor.state import ConversationState
from tests.tables import create_schema, database_at
from web.app import create_app
from web.conversation import COOKIE_NAME, decode_cookie
from web.live_view import RETRY_MS, stream_length
from web.services import Live

PASSWORD = "correct horse battery"
RASA_URL = "http://rasa.test:5005"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"accept": "application/json"}
STREAM = {"accept": "text/event-stream"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
HUMAN = "talk to a human"
OFFERS: dict[str, Any] = {
    "type": "offers",
    "ruleset": "road_bike",
    "answers": {"budget": 1500},
    "offers": [
        {
            "rank": 1,
            "title": "Endurance road bike",
            "total_price": 1479.0,
            "currency": "EUR",
            "items": [],
            "reasons": [],
        }
    ],
    "cross_sell": [],
    "relaxation": None,
}


class FakeRasa:
    """Rasa's REST channel and HTTP API for the tests, with a paused flag per conversation."""

    def __init__(self, codes: ShareStore) -> None:
        self.codes = codes
        self.webhook: list[dict[str, Any]] = []
        self.appended: list[tuple[str, list[dict[str, Any]]]] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.paused: set[str] = set()
        self.slots: dict[str, dict[str, Any]] = {}

    def _log(self, sender: str, event: dict[str, Any]) -> None:
        self.events.setdefault(sender, []).append({**event, "timestamp": time.time()})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/webhooks/rest/webhook":
            body = json.loads(request.content)
            self.webhook.append(body)
            sender, text = body["sender"], body["message"]
            self._log(sender, {"event": "user", "text": text})
            if sender in self.paused:
                return httpx.Response(200, json=[])
            if text == HUMAN:
                state = ConversationState(ruleset="road_bike", answers={"budget": 1500})
                code = self.codes.handoff_code(state, sender)
                replies = [
                    {"recipient_id": sender, "text": f"A colleague will help. Your code: {code}"},
                    {"recipient_id": sender, "custom": {"type": "handoff", "code": code}},
                ]
            elif text == "offers please":
                replies = [{"recipient_id": sender, "custom": OFFERS}]
            else:
                replies = [{"recipient_id": sender, "text": f"Bot heard: {text}"}]
            for reply in replies:
                data = {k: reply[k] for k in ("custom",) if k in reply}
                self._log(sender, {"event": "bot", "text": reply.get("text"), "data": data})
            return httpx.Response(200, json=replies)
        match = re.fullmatch(r"/conversations/([^/]+)/tracker(/events)?", path)
        if match is None:
            return httpx.Response(404, json={})
        sender = match.group(1)
        if match.group(2):
            events = json.loads(request.content)
            self.appended.append((sender, events))
            for event in events:
                if event["event"] == "pause":
                    self.paused.add(sender)
                elif event["event"] == "resume":
                    self.paused.discard(sender)
                elif event["event"] == "slot":
                    self.slots.setdefault(sender, {})[event["name"]] = event["value"]
        return httpx.Response(
            200,
            json={
                "sender_id": sender,
                "events": self.events.get(sender, []),
                "slots": self.slots.get(sender, {}),
            },
        )

    def said_to_bot(self, sender: str) -> list[str]:
        return [b["message"] for b in self.webhook if b["sender"] == sender]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield create_schema(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(engine: Engine, clock: Clock) -> HandoverStore:
    return HandoverStore(engine, clock=clock)


@pytest.fixture
def rasa(engine: Engine) -> FakeRasa:
    return FakeRasa(ShareStore(engine))


@pytest.fixture
def app(tmp_path: Path, store: HandoverStore, rasa: FakeRasa) -> Iterator[FastAPI]:
    settings = Settings(
        rasa_url=RASA_URL,
        database_url=database_at(tmp_path / "web.db"),
        secret_key="live-test-secret",
    )
    app = create_app(settings, transport=httpx.MockTransport(rasa))
    with app.state.db.session() as session:
        for name in ("anna", "ben"):
            accounts.create_user(session, name=name, role="staff", password=PASSWORD)
    app.state.live = Live.build(
        store, InProcessChannel(), stream_seconds=0.3, keepalive_seconds=0.1
    )
    yield app
    app.state.db.dispose()


class Staff:
    """A signed-in staff member's client."""

    def __init__(self, client: TestClient, name: str) -> None:
        self.client, self.name = client, name
        page = client.get("/login", headers=HTML)
        token = CSRF_INPUT.search(page.text)
        assert token
        signed_in = client.post(
            "/login",
            data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)},
            headers=HTML,
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        meta = CSRF_META.search(client.get("/console/live", headers=HTML).text)
        assert meta
        self.csrf = meta.group(1)

    def post(self, path: str, expect: int = 200, **data: str) -> dict[str, Any]:
        response = self.client.post(path, data=data, headers={**JSON, "X-CSRF-Token": self.csrf})
        assert response.status_code == expect, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def shopper(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@contextmanager
def another(app: FastAPI) -> Iterator[TestClient]:
    """A second browser on the app; the shopper's client holds the app's lifespan."""
    client = TestClient(app)  # not entered: one lifespan (one Rasa client) for the app
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def anna(app: FastAPI, shopper: TestClient) -> Iterator[Staff]:
    with another(app) as client:
        yield Staff(client, "anna")


def conversation(client: TestClient) -> str:
    decoded = decode_cookie(
        client.cookies.get(COOKIE_NAME), Settings(secret_key="live-test-secret")
    )
    assert decoded is not None
    return decoded[0]


def say(client: TestClient, text: str) -> dict[str, Any]:
    response = client.post("/api/chat", json={"message": text})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def events(client: TestClient, after: int = 0) -> list[dict[str, Any]]:
    response = client.get("/api/chat/events", params={"after": after}, headers=JSON)
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def history(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/chat/history")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    result: dict[str, Any] = response.json()
    return result


# -- asking for a person ---------------------------------------------------------------


def test_handoff_payload_queues_a_request_with_the_shoppers_answers(
    shopper: TestClient, store: HandoverStore
) -> None:
    reply = say(shopper, HUMAN)

    assert any(m.get("custom", {}).get("type") == "handoff" for m in reply["messages"])
    assert reply["live"]["status"] == "queued" and reply["live"]["streaming"] is True
    [waiting] = store.queue()
    assert waiting.conversation == conversation(shopper)
    assert waiting.state["ruleset"] == "road_bike"
    assert waiting.state["answers"] == {"budget": 1500}
    assert [e["type"] for e in events(shopper)] == ["queued"]
    # Asking twice does not queue twice.
    say(shopper, HUMAN)
    assert len(store.queue()) == 1


def test_request_is_offered_to_available_staff(
    shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)

    desk = anna.client.get("/console/live", headers=HTML)
    assert desk.status_code == 200
    assert desk.text.count('data-testid="live-request"') == 1
    assert store.queue()[0].offered_to == ["anna"]


# -- the live chat ---------------------------------------------------------------------


def asks_for_anna(shopper: TestClient, store: HandoverStore) -> HandoverRecord:
    """Anna is available; the shopper gets offers, then asks for a person: the request."""
    store.set_presence("anna", status="available")
    say(shopper, "offers please")
    say(shopper, HUMAN)
    [request] = store.queue()
    return request


def test_live_chat_from_accept_to_hand_back(
    shopper: TestClient, anna: Staff, store: HandoverStore, rasa: FakeRasa
) -> None:
    request = asks_for_anna(shopper, store)
    sender = conversation(shopper)

    accepted = anna.post(f"/console/live/{request.id}/accept")
    assert accepted["redirect"] == f"/console/live/{request.id}"
    assert (sender, [{"event": "pause"}]) in rasa.appended
    joined = [e for e in events(shopper) if e["type"] == "staff_joined"]
    assert joined and joined[0]["staff"] == "anna"

    # The shopper writes: it goes to the live chat, not to the (paused) bot.
    to_bot = len(rasa.said_to_bot(sender))
    reply = say(shopper, "is the 56 frame right for me?")
    assert reply["messages"] == []
    assert reply["live"]["status"] == "accepted"
    assert len(rasa.said_to_bot(sender)) == to_bot
    page = anna.client.get(f"/console/live/{request.id}", headers=HTML)
    assert "is the 56 frame right for me?" in page.text
    assert 'data-testid="live-bot-message"' in page.text
    assert "budget" in page.text  # the answers when they asked

    # Staff answer and push the last offers as a card.
    said = anna.post(f"/console/live/{request.id}/say", text="Yes, 56 cm fits 182 cm.")
    assert said["payloads"][0]["type"] == "staff_message"
    card = anna.post(f"/console/live/{request.id}/offers")
    assert card["payloads"][0]["offers"]["offers"][0]["title"] == "Endurance road bike"
    shown = [e["type"] for e in events(shopper)]
    assert shown[-2:] == ["staff_message", "offer_card"]

    # A reload shows the whole conversation, staff included, in order.
    messages = history(shopper)["messages"]
    kinds = [m["from"] for m in messages]
    texts = [m.get("text") for m in messages]
    assert "staff" in kinds
    assert texts.index("is the 56 frame right for me?") < texts.index("Yes, 56 cm fits 182 cm.")
    assert any(m.get("live", {}).get("type") == "offer_card" for m in messages)
    assert history(shopper)["live"]["status"] == "accepted"
    assert all(m.get("live", {}).get("type") not in ("offered", "taken") for m in messages)

    # Hand back: the bot resumes and answers the next message.
    anna.post(f"/console/live/{request.id}/hand-back")
    assert (sender, [{"event": "resume"}]) in rasa.appended
    assert events(shopper)[-1]["type"] == "handed_back"
    reply = say(shopper, "thanks, back to the bot")
    assert reply["messages"] == [
        {"recipient_id": sender, "text": "Bot heard: thanks, back to the bot"}
    ]
    assert rasa.said_to_bot(sender)[-1] == "thanks, back to the bot"
    assert reply["live"]["streaming"] is False


def test_live_chat_page_in_german(
    shopper: TestClient, anna: Staff, store: HandoverStore, rasa: FakeRasa
) -> None:
    request = asks_for_anna(shopper, store)
    queue = anna.client.get("/console/live?lang=de", headers=HTML)
    assert '<html lang="de">' in queue.text and "Wartende Kundschaft" in queue.text
    assert "Kundin/Kunde wartet seit" in queue.text
    anna.post(f"/console/live/{request.id}/accept")
    anna.post(f"/console/live/{request.id}/offers")
    page = anna.client.get(f"/console/live/{request.id}", headers=HTML)  # the lang cookie
    assert '<html lang="de">' in page.text
    assert "anna hat eine Angebotskarte geschickt (1 Angebot)." in page.text
    assert 'data-status="accepted">angenommen · anna</span>' in page.text
    for label in ("An den Bot zurückgeben", "Chat beenden", "Ihre Nachricht an die Kundin"):
        assert label in page.text, label
    assert 'data-text-closed="Der Chat wurde von {by} beendet."' in page.text, "for live.js"


def test_first_to_accept_wins(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    store.set_presence("ben", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    with another(app) as client:
        ben = Staff(client, "ben")
        anna.post(f"/console/live/{request.id}/accept")
        lost = ben.post(f"/console/live/{request.id}/accept", expect=409)
        assert lost["error"] == "taken"
        # Ben may not write in Anna's chat.
        refused = ben.post(f"/console/live/{request.id}/say", expect=403, text="hi")
        assert refused["error"] == "not_yours"


def test_close_resumes_the_bot_too(
    shopper: TestClient, anna: Staff, store: HandoverStore, rasa: FakeRasa
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    anna.post(f"/console/live/{request.id}/close")

    assert events(shopper)[-1]["type"] == "closed"
    assert (conversation(shopper), [{"event": "resume"}]) in rasa.appended
    assert say(shopper, "hello again")["messages"][0]["text"] == "Bot heard: hello again"


def test_transfer_to_a_colleague_with_a_note(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    store.set_presence("ben", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    moved = anna.post(f"/console/live/{request.id}/transfer", to="ben", note="wants a test ride")
    assert moved["redirect"] == "/console/live"
    assert store.get(request.id).staff == "ben"
    with another(app) as client:
        ben = Staff(client, "ben")
        page = ben.client.get(f"/console/live/{request.id}", headers=HTML)
        assert "wants a test ride" in page.text
        ben.post(f"/console/live/{request.id}/say", text="Ben here.")
    # The note is for staff; the shopper sees only who joined.
    shopper_view = events(shopper)
    assert "transferred" not in [e["type"] for e in shopper_view]
    assert [e["staff"] for e in shopper_view if e["type"] == "staff_joined"] == ["anna", "ben"]


def test_shopper_restart_ends_the_live_chat(
    shopper: TestClient, anna: Staff, store: HandoverStore, rasa: FakeRasa
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")

    say(shopper, "/restart")

    assert store.get(request.id).status == "closed"
    assert rasa.said_to_bot(conversation(shopper))[-1] == "/restart"


# -- privacy -----------------------------------------------------------------------------


def test_another_cookie_reads_nothing_of_the_live_chat(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    anna.post(f"/console/live/{request.id}/say", text="for the shopper only")

    with another(app) as stranger:
        assert stranger.get("/api/chat/events", headers=STREAM).status_code == 204
        assert stranger.get("/api/chat/events", headers=JSON).status_code == 204
        assert "for the shopper only" not in stranger.get("/api/chat/history").text
        left = stranger.post("/api/chat/message-for-staff", json={"text": "hi"})
        assert left.status_code == 404
        # Its own conversation: a new one, with nothing of the other's.
        say(stranger, "hello")
        assert events(stranger) == []
        assert "for the shopper only" not in stranger.get("/api/chat/history").text
        # A forged cookie naming the shopper's conversation is not theirs.
        stranger.cookies.set(COOKIE_NAME, conversation(shopper))
        assert stranger.get("/api/chat/events", headers=JSON).status_code == 204
    assert "for the shopper only" in shopper.get("/api/chat/history").text


def test_console_live_routes_need_a_staff_login(app: FastAPI, shopper: TestClient) -> None:
    with another(app) as client:
        for path in ("/console/live", "/console/live/events", "/console/live/x1"):
            assert client.get(path, headers=JSON).status_code == 401
            page = client.get(path, headers=HTML, follow_redirects=False)
            assert page.status_code == 303
        assert client.post("/console/live/x1/accept", headers=JSON).status_code == 401


def test_staff_post_without_csrf_is_refused(
    shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    refused = anna.client.post(f"/console/live/{request.id}/accept", headers=JSON)
    assert refused.status_code == 403
    assert store.get(request.id).status == "offered"


# -- nobody available --------------------------------------------------------------------


def test_nobody_accepts_in_time_so_the_shopper_leaves_a_message(
    shopper: TestClient, store: HandoverStore, clock: Clock, rasa: FakeRasa
) -> None:
    say(shopper, HUMAN)
    clock.now += timedelta(seconds=61)
    store.route()  # what the app's routing tick does every few seconds

    nobody = [e for e in events(shopper) if e["type"] == "nobody_available"]
    assert nobody and nobody[0]["reason"] == "timeout"
    assert history(shopper)["live"]["may_leave_message"] is True
    # The bot keeps helping meanwhile.
    assert say(shopper, "still there?")["messages"][0]["text"] == "Bot heard: still there?"

    bad = shopper.post(
        "/api/chat/message-for-staff", json={"text": "call me", "email": "not an email"}
    )
    assert bad.status_code == 422
    left = shopper.post(
        "/api/chat/message-for-staff",
        json={"text": "Please call me about the bike", "email": "kim@example.org", "phone": ""},
    )
    assert left.status_code == 200, left.text
    [message] = store.inbox()
    assert message.text == "Please call me about the bike"
    assert message.email == "kim@example.org"
    assert message.conversation == conversation(shopper)
    assert history(shopper)["live"]["may_leave_message"] is False
    again = shopper.post("/api/chat/message-for-staff", json={"text": "again"})
    assert again.status_code == 409


def test_outside_opening_hours_the_shopper_is_told_at_once(
    shopper: TestClient, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    store.set_opening_hours(OpeningHours.parse({"sun": ["00:00-00:01"]}), by="admin")

    reply = say(shopper, HUMAN)

    assert reply["live"]["status"] == "closed"
    assert reply["live"]["may_leave_message"] is True
    [nobody] = [e for e in events(shopper) if e["type"] == "nobody_available"]
    assert nobody["reason"] == "outside_hours"


# -- the event streams -------------------------------------------------------------------


def test_shopper_stream_replays_what_was_missed_and_ends_with_the_chat(
    shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    first = shopper.get("/api/chat/events", headers=STREAM)
    assert first.headers["content-type"].startswith("text/event-stream")
    assert first.headers["cache-control"] == "no-store"
    assert '"type":"staff_joined"' in first.text
    assert '"type":"taken"' not in first.text  # staff-only payloads stay out
    assert ": keep-alive" in first.text  # the bounded stream stayed quiet meanwhile
    last = max(int(i) for i in re.findall(r"^id: (\d+)$", first.text, re.M))

    anna.post(f"/console/live/{request.id}/say", text="hello from anna")
    resumed = shopper.get("/api/chat/events", headers={**STREAM, "Last-Event-ID": str(last)})
    assert "hello from anna" in resumed.text
    assert '"type":"staff_joined"' not in resumed.text

    anna.post(f"/console/live/{request.id}/hand-back")
    ended = shopper.get("/api/chat/events", headers=STREAM, params={"after": last})
    assert ended.text.rstrip().endswith("}")  # ended right after handed_back
    assert '"type":"handed_back"' in ended.text
    done = max(int(i) for i in re.findall(r"^id: (\d+)$", ended.text, re.M))
    assert (
        shopper.get("/api/chat/events", headers=STREAM, params={"after": done}).status_code == 204
    )


def test_streams_push_a_message_as_it_is_said(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    live: Live = app.state.live
    object.__setattr__(live, "stream_seconds", 3.0)
    channel = live.channel
    assert isinstance(channel, InProcessChannel)
    after = events(shopper)[-1]["id"]
    bodies: dict[str, str] = {}

    def listen(name: str, client: TestClient, path: str, params: dict[str, Any]) -> None:
        bodies[name] = client.get(path, headers=STREAM, params=params).text

    threads = [
        threading.Thread(
            target=listen, args=("shopper", shopper, "/api/chat/events", {"after": after})
        ),
        threading.Thread(
            target=listen,
            args=("staff", anna.client, "/console/live/events", {"handover": request.id}),
        ),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while channel.subscribers(chat_topic(request.id)) < 2:  # both streams subscribed
        assert time.monotonic() < deadline, "the streams did not subscribe"
        time.sleep(0.01)
    anna.post(f"/console/live/{request.id}/say", text="pushed live")
    say(shopper, "and my answer")
    anna.post(f"/console/live/{request.id}/hand-back")
    for thread in threads:
        thread.join(timeout=10)

    assert "pushed live" in bodies["shopper"]
    assert "and my answer" in bodies["shopper"]  # its own message (the widget skips it)
    assert "pushed live" in bodies["staff"] and "and my answer" in bodies["staff"]
    assert '"type":"handed_back"' in bodies["staff"]


def test_a_stream_that_ends_on_time_says_reconnect_and_one_that_resumes_loses_nothing(
    shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    first = shopper.get("/api/chat/events", headers=STREAM)
    assert first.text.startswith(f"retry: {RETRY_MS}")  # for errors only
    # On time (0.3 s less up to a quarter), the stream says so: the widget reconnects
    # at once, after the last id it saw, instead of waiting for the retry delay.
    last = max(int(i) for i in re.findall(r"^id: (\d+)$", first.text, re.M))
    assert first.text.endswith(f"event: reconnect\ndata: {last}\n\n")
    anna.post(f"/console/live/{request.id}/say", text="said between two streams")
    again = shopper.get("/api/chat/events", headers=STREAM, params={"after": last})
    assert "said between two streams" in again.text


def test_streams_end_spread_out_within_their_length() -> None:
    lengths = [stream_length(120.0) for _ in range(200)]
    assert all(90.0 <= length <= 120.0 for length in lengths)
    assert max(lengths) - min(lengths) > 10.0  # not all at once


def test_the_staff_stream_follows_a_chat_accepted_after_it_opened(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    live: Live = app.state.live
    object.__setattr__(live, "stream_seconds", 3.0)
    channel = live.channel
    assert isinstance(channel, InProcessChannel)
    body: list[str] = []
    listener = threading.Thread(
        target=lambda: body.append(anna.client.get("/console/live/events", headers=STREAM).text)
    )
    listener.start()
    deadline = time.monotonic() + 5
    while channel.subscribers(QUEUE_TOPIC) < 1:  # the stream is open: anna has no chat yet
        assert time.monotonic() < deadline, "the staff stream did not subscribe"
        time.sleep(0.01)
    anna.post(f"/console/live/{request.id}/accept")
    while channel.subscribers(chat_topic(request.id)) < 1:  # picked up from "taken"
        assert time.monotonic() < deadline, "the staff stream did not follow the new chat"
        time.sleep(0.01)
    say(shopper, "hello anna")  # the shopper's message, on the chat's topic only
    listener.join(timeout=10)
    assert '"type":"taken"' in body[0]
    assert "hello anna" in body[0]


# -- wiring ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"), [("", InProcessChannel), ("redis://127.0.0.1:6399/0", RedisChannel)]
)
def test_live_desk_is_built_from_the_settings(
    tmp_path: Path, rasa: FakeRasa, url: str, kind: type
) -> None:
    settings = Settings(
        rasa_url=RASA_URL,
        database_url=database_at(tmp_path / "web.db"),
        live_channel_url=url,
        handover_accept_s=30,
    )
    app = create_app(settings, transport=httpx.MockTransport(rasa))
    with TestClient(app) as client:
        assert client.get("/api/chat/events", headers=STREAM).status_code == 204
        live: Live = app.state.live
        assert isinstance(live.channel, kind)
        assert live.store.accept_timeout == timedelta(seconds=30)
        assert app.state.handover is live.store  # the console's start page sees this queue
    app.state.db.dispose()


def test_settings_read_the_live_channel_from_the_environment(tmp_path: Path) -> None:
    env = {"LIVE_CHANNEL_URL": "redis://cache:6379/2", "HANDOVER_ACCEPT_SECONDS": "45"}
    settings = Settings.from_env(env, var_dir=tmp_path)
    assert settings.live_channel_url == "redis://cache:6379/2"
    assert settings.handover_accept_s == 45
    with pytest.raises(ValueError, match="HANDOVER_ACCEPT_SECONDS"):
        Settings.from_env({"HANDOVER_ACCEPT_SECONDS": "soon"}, var_dir=tmp_path)


def test_the_apps_routing_tick_tells_the_shopper_nobody_came(
    tmp_path: Path, engine: Engine, rasa: FakeRasa
) -> None:
    settings = Settings(
        rasa_url=RASA_URL,
        database_url=database_at(tmp_path / "web.db"),
        secret_key="live-test-secret",
    )
    app = create_app(settings, transport=httpx.MockTransport(rasa))
    store = HandoverStore(engine, accept_timeout=timedelta(milliseconds=200))
    app.state.live = Live.build(store, InProcessChannel(), stream_seconds=8, keepalive_seconds=1)
    with TestClient(app) as shopper:
        say(shopper, HUMAN)
        # Nobody routes by hand here: the app's own tick ends the request, and the open
        # stream carries the news and ends with it.
        stream = shopper.get("/api/chat/events", headers=STREAM)
    assert '"type":"nobody_available"' in stream.text
    assert '"reason":"timeout"' in stream.text
    assert store.latest_for(conversation(shopper)).status == "timed_out"  # type: ignore[union-attr]
    app.state.db.dispose()


def test_staff_change_an_answer_in_the_bots_state(
    shopper: TestClient, anna: Staff, store: HandoverStore, rasa: FakeRasa
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    sender = conversation(shopper)
    [request] = store.queue()
    path = f"/console/live/{request.id}/answer"
    # Only the staff member in the chat may change the shopper's answers.
    anna.post(path, expect=403, question="usage", text="long rides")
    anna.post(f"/console/live/{request.id}/accept")
    page = anna.client.get(f"/console/live/{request.id}", headers=HTML)
    assert 'data-testid="live-answer-form"' in page.text

    anna.post(path, question="usage", text="mostly long rides")
    slots = [
        e for s, events_ in rasa.appended if s == sender for e in events_ if e["event"] == "slot"
    ]
    assert len(slots) == 1 and slots[0]["name"] == "advisor_state"
    state = slots[0]["value"]
    assert state["answers"] == {"budget": 1500, "usage": "endurance"}
    assert state["sources"]["usage"] == "staff"
    assert state["channel"] == "chat"
    assert state["question"] == "experience", "the bot goes on with the next question"

    refused = anna.post(path, expect=422, question="usage", text="purple")
    assert "does not answer" in refused["message"]
    anna.post(path, expect=422, question="budgett", text="2k")


def test_expert_view_opens_with_the_answers_as_staff_left_them(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore
) -> None:
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    expert = f"/console/live/{request.id}/expert"
    anna.post(expert, expect=403)  # not in the chat yet
    anna.post(f"/console/live/{request.id}/accept")
    anna.post(f"/console/live/{request.id}/answer", question="usage", text="mostly long rides")

    opened = anna.client.post(
        expert, headers={**HTML, "X-CSRF-Token": anna.csrf}, follow_redirects=False
    )
    assert opened.status_code == 303
    session_id = opened.headers["location"].removeprefix("/console/sessions/")
    session = get_services_of(app).sessions.get(session_id)
    answers = session.conversation_state().answers
    assert answers == {"budget": 1500, "usage": "endurance"}, "the answers as staff left them"
    assert session.origin_code == request.code
    page = anna.client.get(opened.headers["location"], headers=HTML)
    assert page.status_code == 200 and "Long rides and fitness" in page.text


def get_services_of(app: FastAPI) -> Any:
    """The app's services (built by the first request that needed them)."""
    return app.state.services


def test_accepting_a_chat_is_recorded_for_the_analytics(
    app: FastAPI, shopper: TestClient, anna: Staff, store: HandoverStore, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine
    from sqlmodel import Session, select

    from advisor.events import AdvisorEvent, EventLog

    app.state.events = EventLog(
        create_schema(create_engine(database_at(tmp_path / "ev.db"))), background=False
    )
    store.set_presence("anna", status="available")
    say(shopper, HUMAN)
    [request] = store.queue()
    anna.post(f"/console/live/{request.id}/accept")
    app.state.events.flush()
    with Session(app.state.events.engine) as session:
        rows = session.exec(select(AdvisorEvent)).all()
    assert [(r.conversation, r.kind, r.data) for r in rows] == [
        (conversation(shopper), "handover_taken", {"staff": "anna"})
    ]
