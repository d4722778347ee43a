"""The advisor over the demo catalogue and the shipped rules, without Rasa."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from advisor.reply import Reply
from advisor.service import Advisor, Turn
from advisor.sharing import ShareStore
from advisor.state import ConversationState
from product_rules.registry import RuleRegistry
from tests.conftest import RULES

BEGINNER = {
    "usage": "endurance",
    "experience": "beginner",
    "budget": 1500.0,
    "body_height_cm": 182.0,
}


@pytest.fixture()
def advisor(demo_db: Engine) -> Advisor:
    return Advisor(RuleRegistry(RULES, demo_db), codes=ShareStore(demo_db))


class Talk:
    """A conversation with the advisor: each call is one turn."""

    def __init__(self, advisor: Advisor, state: ConversationState | None = None) -> None:
        self.advisor = advisor
        self.state = state or ConversationState()
        self.reply = Reply()

    def __call__(self, text: str, intent: str | None = "inform", **entities: str) -> Reply:
        self.state, self.reply = self.advisor.step(self.state, Turn(text, intent, entities))
        assert self.reply.parts, f"no reply to {text!r}"
        assert all(p.text.strip() for p in self.reply.parts), f"empty bubble for {text!r}"
        return self.reply

    def offers(self) -> dict[str, Any] | None:
        return next((p for p in self.reply.payloads if p["type"] == "offers"), None)


@pytest.fixture()
def talk(advisor: Advisor) -> Talk:
    return Talk(advisor)
