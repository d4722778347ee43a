"""The touchpoint rating: once per conversation and target, changeable for minutes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from advisor import analytics
from advisor.analytics import Period
from advisor.events import Event, EventKind, EventLog, Scope
from advisor.ratings import RatingClosedError, RatingStore
from tests.tables import create_schema


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def engine() -> Iterator[Engine]:
    db = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    yield create_schema(db)
    db.dispose()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def events(engine: Engine, clock: Clock) -> EventLog:
    log = EventLog(engine, clock=clock, background=False)
    # A conversation that ran on road_bike v4 in German, as the action server records it.
    log.record(Scope("c1", "road_bike", 4, "chat", "de"), [Event(EventKind.STARTED)])
    log.flush()
    return log


@pytest.fixture()
def store(engine: Engine, events: EventLog, clock: Clock) -> RatingStore:
    return RatingStore(engine, events=events, change_minutes=10, clock=clock)


def test_rate_stores_step_comment_and_the_runs_version(
    store: RatingStore, events: EventLog
) -> None:
    rating = store.rate("c1", "bot", 2, "  quick   and clear ")
    assert (rating.step, rating.comment, rating.ruleset, rating.version) == (
        2,
        "quick and clear",
        "road_bike",
        4,
    )
    events.flush()
    assert analytics.ratings(events.engine, Period()).bot == {2: 1}
    assert analytics.ratings(events.engine, Period(language="de", version=4)).bot == {2: 1}


def test_rate_again_within_the_window_changes_it(
    store: RatingStore, events: EventLog, clock: Clock
) -> None:
    store.rate("c1", "bot", 5)
    clock.now += timedelta(minutes=9)
    changed = store.rate("c1", "bot", 1, "sorry, wrong button")
    assert changed.step == 1 and changed.comment == "sorry, wrong button"
    events.flush()
    assert analytics.ratings(events.engine, Period()).bot == {1: 1}  # the latest counts once


def test_rate_after_the_window_is_refused(store: RatingStore, clock: Clock) -> None:
    first = store.rate("c1", "bot", 3)
    clock.now += timedelta(minutes=10, seconds=1)
    with pytest.raises(RatingClosedError) as refused:
        store.rate("c1", "bot", 1)
    assert refused.value.rated_at == first.created_at
    stored = store.get("c1", "bot")
    assert stored is not None and stored.step == 3


def test_rate_bot_and_staff_separately(store: RatingStore, events: EventLog) -> None:
    store.rate("c1", "bot", 4)
    store.rate("c1", "staff", 1, "Anna was great")
    events.flush()
    ratings = analytics.ratings(events.engine, Period())
    assert (ratings.bot, ratings.staff) == ({4: 1}, {1: 1})


@pytest.mark.parametrize("step", [0, 6, -1])
def test_rate_refuses_a_step_off_the_scale(store: RatingStore, step: int) -> None:
    with pytest.raises(ValueError, match="a rating is 1 to 5"):
        store.rate("c1", "bot", step)
    assert store.get("c1", "bot") is None


def test_rate_a_conversation_without_a_run(store: RatingStore) -> None:
    rating = store.rate("never-started", "bot", 2)
    assert rating.ruleset is None and rating.version is None


def test_erase_removes_the_conversations_ratings(store: RatingStore) -> None:
    store.rate("c1", "bot", 2)
    store.rate("c2", "bot", 3)
    assert store.erase("c1") == 1
    assert store.get("c1", "bot") is None and store.get("c2", "bot") is not None
