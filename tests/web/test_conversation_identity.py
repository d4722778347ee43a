"""The conversation id is the server's: issued in a signed HttpOnly cookie, never the client's.

A fake Rasa (httpx.MockTransport) records every call, so each test can prove which
sender reached Rasa and that a refused value never did.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from advisor.settings import Settings
from tests.web.test_app import RASA_TOKEN, RASA_URL, SETTINGS, FakeRasa, conversation_of, serve
from web.app import create_app
from web.conversation import COOKIE_NAME, decode_cookie, history_from_tracker

BEGINNER = '/inform{"experience":"beginner"}'

TRACKER_EVENTS: list[dict[str, Any]] = [
    {"event": "action", "name": "action_session_start"},
    {"event": "session_started"},
    {"event": "user", "text": "I want a road bike", "parse_data": {"intent": {"name": "x"}}},
    {"event": "action", "name": "action_advise"},
    {
        "event": "bot",
        "text": "How experienced are you?",
        "data": {
            "buttons": [
                {"title": "Beginner", "payload": BEGINNER},
                {"title": "Expert", "payload": '/inform{"experience":"expert"}'},
            ],
            "custom": None,
        },
    },
    {"event": "user", "text": BEGINNER},
    {"event": "bot", "text": "Here are my picks.", "data": {}},
    {"event": "bot", "text": None, "data": {"custom": {"type": "offers", "offers": []}}},
    {"event": "slot", "name": "advisor_state", "value": "{}"},
    {"event": "user", "text": '/resume_shared{"code":"ABC234"}'},
    {"event": "bot", "text": None, "data": {}},
]


class TrackerRasa(FakeRasa):
    """Answers the REST channel with one text, and the tracker (token required) by id."""

    def __init__(self) -> None:
        super().__init__()
        self.trackers: dict[str, list[dict[str, Any]]] = {}
        self.handler = self._answer

    def senders(self) -> list[str]:
        """Every conversation id Rasa was asked about, in order."""
        found = []
        for request in self.requests:
            if request.url.path.startswith("/conversations/"):
                found.append(request.url.path.split("/")[2])
            else:
                found.append(json.loads(request.content)["sender"])
        return found

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/conversations/"):
            if request.url.params.get("token") != RASA_TOKEN:
                return httpx.Response(401, json={"reason": "NotAuthenticated"})
            sender = request.url.path.split("/")[2]
            return httpx.Response(
                200, json={"sender_id": sender, "events": self.trackers.get(sender, [])}
            )
        body = json.loads(request.content)
        self.trackers.setdefault(body["sender"], []).append(
            {"event": "user", "text": body["message"]}
        )
        reply = {"recipient_id": body["sender"], "text": f"echo {body['message']}"}
        self.trackers[body["sender"]].append({"event": "bot", "text": reply["text"], "data": {}})
        return httpx.Response(200, json=[reply])


@pytest.fixture
def rasa() -> TrackerRasa:
    return TrackerRasa()


@pytest.fixture
async def client(rasa: TrackerRasa) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(SETTINGS, transport=httpx.MockTransport(rasa))) as test_client:
        yield test_client


async def chat(client: httpx.AsyncClient, message: str = "hi", **extra: Any) -> httpx.Response:
    response = await client.post("/api/chat", json={"message": message, **extra})
    assert response.status_code == 200
    return response


def alter_signature(value: str) -> str:
    """The cookie with its signature's first character changed (the last may be padding)."""
    payload, signature = value.rsplit(".", 1)
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def put_cookie(client: httpx.AsyncClient, value: str) -> None:
    """Make ``value`` the client's only conversation cookie, as a browser would hold it."""
    client.cookies.clear()
    # The jar files a cookie from host "testserver" under "testserver.local".
    client.cookies.set(COOKIE_NAME, value, domain="testserver.local", path="/")


def set_cookie_header(response: httpx.Response) -> str:
    [header] = [
        h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE_NAME}=")
    ]
    return header


# --- issuing -------------------------------------------------------------------------


async def test_first_chat_sets_a_signed_httponly_lax_cookie(
    client: httpx.AsyncClient, rasa: TrackerRasa
) -> None:
    response = await chat(client)

    header = set_cookie_header(response)
    flags = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert f"max-age={SETTINGS.conversation_days * 86400}" in flags
    assert "secure" not in flags  # plain HTTP in development
    sender = conversation_of(client)
    assert len(sender) >= 32  # 24 random bytes: 192 bits
    assert rasa.senders() == [sender]
    assert sender not in client.cookies[COOKIE_NAME].split(".")  # signed, not the bare id


async def test_next_chats_keep_the_id_without_a_new_cookie(
    client: httpx.AsyncClient, rasa: TrackerRasa
) -> None:
    await chat(client)
    sender = conversation_of(client)

    second = await chat(client, "again")

    assert second.headers.get_list("set-cookie") == []
    assert rasa.senders() == [sender, sender]


async def test_cookie_is_secure_when_settings_say_so(rasa: TrackerRasa) -> None:
    settings = Settings(
        rasa_url=RASA_URL, secret_key="k", rasa_token=RASA_TOKEN, cookie_secure=True
    )
    async with serve(create_app(settings, transport=httpx.MockTransport(rasa))) as client:
        response = await chat(client)

    assert "secure" in [p.strip().lower() for p in set_cookie_header(response).split(";")]


async def test_cookie_is_secure_over_https(rasa: TrackerRasa) -> None:
    app = create_app(SETTINGS, transport=httpx.MockTransport(rasa))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://shop.test") as client:
            response = await chat(client)

    assert "secure" in [p.strip().lower() for p in set_cookie_header(response).split(";")]


async def test_two_clients_get_different_ids(rasa: TrackerRasa) -> None:
    app = create_app(SETTINGS, transport=httpx.MockTransport(rasa))
    async with serve(app) as first:
        await chat(first)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
            await chat(second)
            ids = {conversation_of(first), conversation_of(second)}

    assert len(ids) == 2
    assert set(rasa.senders()) == ids


async def test_shop_page_sets_no_cookie(client: httpx.AsyncClient) -> None:
    # A shared cache keeping the page with its Set-Cookie would give everyone one id.
    response = await client.get("/de/")

    assert response.headers.get_list("set-cookie") == []


# --- what the client names is ignored ----------------------------------------------


@pytest.mark.parametrize("named", ["someone-else", "A" * 32, "abc"])
async def test_sender_in_the_body_never_reaches_rasa(
    client: httpx.AsyncClient, rasa: TrackerRasa, named: str
) -> None:
    await chat(client, sender=named)
    await chat(client, "second", sender=named)

    sender = conversation_of(client)
    assert rasa.senders() == [sender, sender]
    assert named not in rasa.senders()


async def test_someone_elses_bare_id_in_the_cookie_is_replaced(
    client: httpx.AsyncClient, rasa: TrackerRasa
) -> None:
    victim = "V" * 32  # a well-formed id, but not signed by us
    put_cookie(client, victim)

    response = await chat(client)

    sender = conversation_of(client)
    assert sender != victim
    assert rasa.senders() == [sender]
    assert set_cookie_header(response)


@pytest.mark.parametrize(
    "forge",
    [
        alter_signature,
        lambda value: "x" + value,  # payload altered
        lambda value: URLSafeTimedSerializer("another-key", salt="web.conversation").dumps(
            "W" * 32
        ),
        lambda value: URLSafeTimedSerializer(SETTINGS.secret_key, salt="web.staff-session").dumps(
            "W" * 32
        ),  # our key, the staff cookie's salt
        lambda value: URLSafeTimedSerializer(SETTINGS.secret_key, salt="web.conversation").dumps(
            "not an id of ours!"
        ),
        lambda value: "",
    ],
    ids=["signature", "payload", "other_key", "other_salt", "not_an_id", "empty"],
)
async def test_tampered_cookie_is_replaced_and_never_reaches_rasa(
    client: httpx.AsyncClient, rasa: TrackerRasa, forge: Any
) -> None:
    await chat(client)
    original = conversation_of(client)
    put_cookie(client, forge(client.cookies[COOKIE_NAME]))

    history = await client.get("/api/chat/history")
    response = await chat(client, "after")

    assert history.json() == {"messages": []}
    sender = conversation_of(client)
    assert sender != original
    assert "W" * 32 not in rasa.senders()
    assert rasa.senders() == [original, sender]  # the history call asked Rasa nothing
    assert set_cookie_header(response)


def signed_days_ago(value: str, days: float) -> str:
    """A conversation cookie for ``value`` as if it had been signed ``days`` ago."""

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - days * 86400)

    serializer = URLSafeTimedSerializer(
        SETTINGS.secret_key, salt="web.conversation", signer=Backdated
    )
    return serializer.dumps(value)


async def test_expired_cookie_is_replaced(client: httpx.AsyncClient, rasa: TrackerRasa) -> None:
    stale = "S" * 32
    put_cookie(client, signed_days_ago(stale, SETTINGS.conversation_days + 1))

    await chat(client)

    assert conversation_of(client) != stale
    assert stale not in rasa.senders()


async def test_cookie_older_than_a_day_is_re_signed_with_the_same_id(
    client: httpx.AsyncClient, rasa: TrackerRasa
) -> None:
    kept = "K" * 32
    put_cookie(client, signed_days_ago(kept, 2))

    response = await chat(client)

    assert set_cookie_header(response)
    assert conversation_of(client) == kept
    decoded = decode_cookie(client.cookies[COOKIE_NAME], SETTINGS)
    assert decoded is not None and time.time() - decoded[1] < 60
    assert rasa.senders() == [kept]


# --- history ------------------------------------------------------------------------


async def test_history_is_served_to_the_cookie_holder(
    client: httpx.AsyncClient, rasa: TrackerRasa
) -> None:
    await chat(client, "I want a road bike")
    await chat(client, "mostly long rides")

    response = await client.get("/api/chat/history")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "messages": [
            {"from": "shopper", "text": "I want a road bike", "buttons": [], "custom": None},
            {"from": "bot", "text": "echo I want a road bike", "buttons": [], "custom": None},
            {"from": "shopper", "text": "mostly long rides", "buttons": [], "custom": None},
            {"from": "bot", "text": "echo mostly long rides", "buttons": [], "custom": None},
        ]
    }
    tracker_call = rasa.requests[-1]
    assert tracker_call.url.path == f"/conversations/{conversation_of(client)}/tracker"
    assert tracker_call.url.params["token"] == RASA_TOKEN


async def test_history_without_a_cookie_is_empty_and_asks_rasa_nothing(
    client: httpx.AsyncClient, rasa: TrackerRasa
) -> None:
    response = await client.get("/api/chat/history")

    assert response.json() == {"messages": []}
    assert response.headers.get_list("set-cookie") == []
    assert rasa.requests == []


async def test_history_is_not_served_to_another_client(rasa: TrackerRasa) -> None:
    app = create_app(SETTINGS, transport=httpx.MockTransport(rasa))
    async with serve(app) as owner:
        await chat(owner, "my secret plans")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            # Naming the owner's id anywhere a client can does not open it.
            owner_id = conversation_of(owner)
            put_cookie(other, owner_id)
            seen = await other.get("/api/chat/history", params={"sender": owner_id})
            await chat(other, "hello", sender=owner_id)
            after = await other.get("/api/chat/history")

    assert seen.json() == {"messages": []}
    assert "my secret plans" not in after.text
    assert [m["text"] for m in after.json()["messages"]] == ["hello", "echo hello"]


async def test_history_when_rasa_refuses_the_token_is_a_friendly_503(
    client: httpx.AsyncClient, rasa: TrackerRasa, caplog: pytest.LogCaptureFixture
) -> None:
    await chat(client)
    app_rasa = TrackerRasa()
    # A web app holding the wrong token: Rasa answers 401, the shopper gets "try again".
    settings = Settings(rasa_url=RASA_URL, secret_key=SETTINGS.secret_key, rasa_token="wrong")
    async with serve(create_app(settings, transport=httpx.MockTransport(app_rasa))) as wrong:
        put_cookie(wrong, client.cookies[COOKIE_NAME])
        response = await wrong.get("/api/chat/history")

    assert response.status_code == 503
    assert response.json()["error"] == "assistant_unavailable"
    assert "RASA_TOKEN" in caplog.text
    assert "wrong" not in caplog.text  # the token never reaches a log line


def test_history_from_tracker_shows_what_the_shopper_saw() -> None:
    messages = history_from_tracker({"events": TRACKER_EVENTS})

    assert messages == [
        {"from": "shopper", "text": "I want a road bike", "buttons": [], "custom": None},
        {
            "from": "bot",
            "text": "How experienced are you?",
            "buttons": TRACKER_EVENTS[4]["data"]["buttons"],
            "custom": None,
        },
        {"from": "shopper", "text": "Beginner", "buttons": [], "custom": None},
        {"from": "bot", "text": "Here are my picks.", "buttons": [], "custom": None},
        {
            "from": "bot",
            "text": "",
            "buttons": [],
            "custom": {"type": "offers", "offers": []},
        },
    ]


@pytest.mark.parametrize(
    "tracker",
    [{}, {"events": None}, {"events": "junk"}, {"events": [None, 3, {"event": "user"}]}],
    ids=["no_events", "null", "not_a_list", "junk_events"],
)
def test_history_from_tracker_tolerates_junk(tracker: dict[str, Any]) -> None:
    assert history_from_tracker(tracker) == []
