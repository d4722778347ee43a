"""A chat turn Rasa could not complete still gets a polite answer, never silence."""

from __future__ import annotations

import httpx
import pytest

from tests.web.test_app import SETTINGS, FakeRasa, conversation_of, serve
from web.app import create_app


async def test_post_chat_empty_rasa_reply_becomes_polite_sentence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rasa = FakeRasa()  # answers [] like Rasa does when the action server is down
    app = create_app(SETTINGS, transport=httpx.MockTransport(rasa))
    async with serve(app) as client:
        response = await client.post("/api/chat", json={"message": "1500"})
        sender = conversation_of(client)
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Sorry, something went wrong on my side.")
    assert messages[0]["recipient_id"] == sender
    assert sender in caplog.text


async def test_post_chat_restart_may_be_empty() -> None:
    rasa = FakeRasa()
    app = create_app(SETTINGS, transport=httpx.MockTransport(rasa))
    async with serve(app) as client:
        response = await client.post("/api/chat", json={"message": "/restart"})
    assert response.status_code == 200
    assert response.json()["messages"] == []
