"""A chat turn Rasa could not complete still gets a polite answer, never silence."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from advisor.service import Advisor
from product_rules.registry import RuleRegistry
from tests.conftest import RULES
from tests.web.fake_rasa import FakeRasa as RealAdvisorRasa
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


RULESET_BUTTONS = ["City bike", "E-bike", "Gravel bike", "Road bike"]
ROAD_BIKE_BUTTON = '/request_advice{"ruleset":"road_bike"}'


@pytest.fixture
def advisor(demo_db: Engine) -> Advisor:
    return Advisor(RuleRegistry(RULES, demo_db))


def question_text(advisor: Advisor, ruleset: str, question_id: str) -> str:
    served = advisor.served(ruleset)
    assert served is not None
    question = served.ruleset.question(question_id)
    assert question is not None
    return question.text


@pytest.mark.parametrize(
    ("first", "kept", "then_asked"),
    [
        ("1500", {"budget": 1500.0}, "usage"),
        ("yes", {}, "usage"),
        ("long rides", {"usage": "endurance"}, "experience"),
        ("I need something for the office", {"usage": "commute"}, "experience"),
        ("hi", {}, "usage"),
    ],
    ids=["amount", "yes", "long_rides", "office", "greeting"],
)
async def test_post_chat_first_message_gets_the_product_question(
    advisor: Advisor, first: str, kept: dict[str, object], then_asked: str
) -> None:
    # Rasa here is the real advisor behind Rasa's REST channel (tests/web/fake_rasa.py).
    rasa = RealAdvisorRasa(advisor)
    app = create_app(SETTINGS, transport=httpx.ASGITransport(app=rasa.app()))
    async with serve(app) as client:
        response = await client.post("/api/chat", json={"message": first})
        sender = conversation_of(client)
        [message] = response.json()["messages"]
        assert response.status_code == 200
        assert "What are you looking for?" in message["text"]
        assert [b["title"] for b in message["buttons"]] == RULESET_BUTTONS
        # What the shopper said is said back when it will count, never dropped silently.
        assert (f'Noted: "{first}".' in message["text"]) == bool(kept)

        response = await client.post("/api/chat", json={"message": ROAD_BIKE_BUTTON})

    [message] = response.json()["messages"]
    assert message["text"].endswith(question_text(advisor, "road_bike", then_asked))
    assert rasa.state(sender).answers == kept
