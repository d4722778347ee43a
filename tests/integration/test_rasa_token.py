"""Rasa's HTTP API against the real server: it wants the token; pause and resume work.

The session ``bot`` fixture starts Rasa as ``make run`` does, with ``--enable-api
--auth-token``; only the web app (here: the test) holds the token. The REST channel
needs none, which is what the README's curl examples rely on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.conftest import RunningBot, texts
from web.conversation import history_from_tracker, new_conversation_id
from web.rasa import RasaClient, RasaUnavailableError

pytestmark = pytest.mark.integration


@pytest.fixture
async def rasa(bot: RunningBot) -> AsyncIterator[RasaClient]:
    async with httpx.AsyncClient(base_url=bot.rasa_url, timeout=60, trust_env=False) as http:
        yield RasaClient(http, token=bot.rasa_token)


@pytest.mark.parametrize(
    "path",
    ["/conversations/x/tracker", "/status"],
    ids=["tracker", "status"],
)
@pytest.mark.parametrize(
    "params", [{}, {"token": "wrong"}, {"token": ""}], ids=["none", "wrong", "empty"]
)
def test_http_api_refuses_calls_without_the_token(
    bot: RunningBot, path: str, params: dict[str, str]
) -> None:
    response = bot.client.get(bot.rasa_url + path, params=params)

    assert response.status_code in (401, 403)


def test_http_api_refuses_appending_events_without_the_token(bot: RunningBot) -> None:
    sender = new_conversation_id()

    response = bot.client.post(
        f"{bot.rasa_url}/conversations/{sender}/tracker/events", json=[{"event": "pause"}]
    )

    assert response.status_code in (401, 403)
    # Nothing was applied: the bot still answers that conversation.
    assert bot.send(sender, "I want a road bike")


def test_http_api_answers_with_the_token(bot: RunningBot) -> None:
    response = bot.client.get(
        f"{bot.rasa_url}/conversations/x/tracker", params={"token": bot.rasa_token}
    )

    assert response.status_code == 200
    assert response.json()["sender_id"] == "x"


def test_rest_channel_needs_no_token(bot: RunningBot) -> None:
    assert texts(bot.send(new_conversation_id(), "I want a road bike"))


async def test_paused_conversation_is_silent_until_resumed(
    bot: RunningBot, rasa: RasaClient
) -> None:
    sender = new_conversation_id()
    assert texts(bot.send(sender, "I want a road bike"))

    paused = await rasa.pause(sender)

    assert paused["paused"] is True
    assert bot.send(sender, "mostly long weekend rides") == []
    assert bot.send(sender, "what is SPD?") == []
    # The shopper's messages while paused are kept in the tracker, not lost.
    tracker = await rasa.tracker(sender)
    assert tracker["paused"] is True
    said = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert said[-2:] == ["mostly long weekend rides", "what is SPD?"]

    resumed = await rasa.resume(sender)

    assert resumed["paused"] is False
    assert texts(bot.send(sender, "total newbie"))
    # Another conversation was never paused.
    assert texts(bot.send(new_conversation_id(), "I want a road bike"))


async def test_tracker_gives_the_history_a_reload_shows(bot: RunningBot, rasa: RasaClient) -> None:
    sender = new_conversation_id()
    first = bot.send(sender, "I want a road bike")

    history = history_from_tracker(await rasa.tracker(sender))

    assert history[0] == {
        "from": "shopper",
        "text": "I want a road bike",
        "buttons": [],
        "custom": None,
    }
    bot_texts = [m["text"] for m in history if m["from"] == "bot" and m["text"]]
    assert bot_texts == [m["text"] for m in first if m.get("text")]


async def test_client_with_a_wrong_token_is_told_so(bot: RunningBot) -> None:
    async with httpx.AsyncClient(base_url=bot.rasa_url, timeout=30, trust_env=False) as http:
        wrong = RasaClient(http, token="wrong-token")
        with pytest.raises(RasaUnavailableError) as caught:
            await wrong.pause(new_conversation_id())

    assert "401" in caught.value.cause
    assert "RASA_TOKEN" in caught.value.cause
    assert "wrong-token" not in caught.value.cause
