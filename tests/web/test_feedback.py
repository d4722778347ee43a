"""The widget's offer clicks and ratings reach the event log, for the cookie's conversation only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import Engine, create_engine

from advisor import analytics
from advisor.analytics import Period
from advisor.events import Event, EventKind, EventLog, Scope
from advisor.ratings import RatingStore
from tests.tables import create_schema
from tests.web.test_app import SETTINGS, FakeRasa, conversation_of, serve
from web.app import create_app


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    create_schema(create_engine(url)).dispose()
    return url


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def app_state() -> SimpleNamespace:
    """The app's state once the client fixture made it (its event log and ratings)."""
    return SimpleNamespace()


@pytest.fixture()
async def client(
    database: str, clock: Clock, app_state: SimpleNamespace
) -> AsyncIterator[httpx.AsyncClient]:
    rasa = FakeRasa()
    rasa.handler = lambda request: httpx.Response(200, json=[{"text": "What are you looking for?"}])
    app = create_app(
        dataclasses.replace(SETTINGS, database_url=database), transport=httpx.MockTransport(rasa)
    )
    async with serve(app) as test_client:
        # The app's own log and store, on the test's clock and written when asked.
        events = EventLog(app.state.db.engine, background=False, clock=clock)
        app.state.events = app_state.events = events
        app.state.ratings = app_state.ratings = RatingStore(
            app.state.db.engine, events=events, clock=clock
        )
        yield test_client


def _engine(database: str) -> Engine:
    return create_engine(database)


async def _started(client: httpx.AsyncClient, database: str) -> str:
    """A conversation of this client that ran on road_bike v2 up to its offers."""
    assert (
        await client.post("/api/chat", json={"message": "a road bike please"})
    ).status_code == 200
    conversation = conversation_of(client)
    seed = EventLog(_engine(database), background=False)
    seed.record(Scope(conversation, "road_bike", 2, "chat", "en"), [Event(EventKind.STARTED)])
    seed.record(
        Scope(conversation, "road_bike", 2, "chat", "en"),
        [Event(EventKind.OFFERS_SHOWN, value=1, data={"offers": [{"rank": 1, "sku": "RB-1"}]})],
    )
    seed.flush()
    return conversation


async def test_post_rating_is_counted_for_the_runs_version(
    client: httpx.AsyncClient, database: str, app_state: SimpleNamespace
) -> None:
    await _started(client, database)
    response = await client.post("/api/chat/rating", json={"step": 2, "comment": "helpful"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] and body["step"] == 2
    assert body["message"] == "Thank you for your rating. You can change it for a few minutes."
    assert body["changeable_until"] == "2026-12-01T10:10:00+00:00"
    app_state.events.flush()
    ratings = analytics.ratings(_engine(database), Period(version=2))
    assert ratings.bot == {2: 1} and ratings.staff == {}


async def test_post_rating_changes_within_minutes_then_stands(
    client: httpx.AsyncClient, database: str, clock: Clock, app_state: SimpleNamespace
) -> None:
    await _started(client, database)
    assert (await client.post("/api/chat/rating", json={"step": 5})).status_code == 200
    clock.now += timedelta(minutes=5)
    changed = await client.post("/api/chat/rating", json={"step": 1, "comment": "misclicked"})
    assert changed.status_code == 200 and changed.json()["step"] == 1
    clock.now += timedelta(minutes=6)
    closed = await client.post("/api/chat/rating", json={"step": 3})
    assert closed.status_code == 409
    assert closed.json()["message"].startswith("Thank you, your rating is saved.")
    stored = app_state.ratings.get(conversation_of(client), "bot")
    assert stored.step == 1 and stored.comment == "misclicked"


async def test_post_rating_of_staff_after_a_live_chat(
    client: httpx.AsyncClient, database: str, app_state: SimpleNamespace
) -> None:
    await _started(client, database)
    response = await client.post("/api/chat/rating", json={"step": 1, "target": "staff"})
    assert response.status_code == 200
    app_state.events.flush()
    assert analytics.ratings(_engine(database), Period()).staff == {1: 1}


@pytest.mark.parametrize(
    "body",
    [{"step": 0}, {"step": 6}, {"step": "great"}, {"step": 2, "target": "robot"}, {}],
    ids=["zero", "six", "text", "target", "empty"],
)
async def test_post_rating_off_the_scale_is_refused(
    client: httpx.AsyncClient, database: str, body: dict[str, object]
) -> None:
    await _started(client, database)
    response = await client.post("/api/chat/rating", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_post_click_counts_in_the_funnel(
    client: httpx.AsyncClient, database: str, app_state: SimpleNamespace
) -> None:
    await _started(client, database)
    response = await client.post("/api/chat/click", json={"rank": 1, "sku": "RB-1"})
    assert response.status_code == 200 and response.json() == {"ok": True}
    app_state.events.flush()
    summary = analytics.summary(_engine(database), Period(ruleset="road_bike"))
    assert (summary.started, summary.offered, summary.clicked) == (1, 1, 1)


@pytest.mark.parametrize("path", ["/api/chat/click", "/api/chat/rating"])
async def test_post_without_a_conversation_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={"rank": 1, "sku": "X", "step": 1})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error": "no_conversation"}
