"""A chat turn Rasa could not complete still gets a polite answer, never silence."""

from __future__ import annotations

import httpx
import pytest

from tests.web.test_app import RASA_URL, FakeRasa, serve
from web.app import create_app
from web.settings import WebSettings


async def test_post_chat_empty_rasa_reply_becomes_polite_sentence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rasa = FakeRasa()  # answers [] like Rasa does when the action server is down
    app = create_app(WebSettings(rasa_url=RASA_URL), transport=httpx.MockTransport(rasa))
    async with serve(app) as client:
        response = await client.post("/api/chat", json={"sender": "s1", "message": "1500"})
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Sorry, something went wrong on my side.")
    assert "s1" in caplog.text


async def test_post_chat_restart_may_be_empty() -> None:
    rasa = FakeRasa()
    app = create_app(WebSettings(rasa_url=RASA_URL), transport=httpx.MockTransport(rasa))
    async with serve(app) as client:
        response = await client.post("/api/chat", json={"sender": "s1", "message": "/restart"})
    assert response.status_code == 200
    assert response.json()["messages"] == []
