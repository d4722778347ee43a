"""The reports the analytics page adds: ratings per version, runs per day, filter values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from advisor import analytics
from advisor.analytics import DayCount, Dimensions, Period, VersionRatings
from advisor.events import Event, EventKind, EventLog, Scope
from tests.tables import create_schema

START = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


@pytest.fixture()
def db() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield create_schema(engine)
    engine.dispose()


@pytest.fixture()
def scripted(db: Engine) -> Engine:
    """Five runs over two days: road_bike v1 (2, one rated), v2 (2), gravel (1, German)."""
    now = [START]
    log = EventLog(db, clock=lambda: now[0], background=False)
    runs = [
        # (conversation, ruleset, version, language, hours after START, offers, bot, staff)
        ("a", "road_bike", 1, "en", 0, True, 1, None),
        ("b", "road_bike", 1, "en", 1, False, None, None),
        ("c", "road_bike", 2, "en", 3, True, 2, 1),
        ("d", "road_bike", 2, "en", 4, True, 4, None),
        ("e", "gravel_bike", 1, "de", 5, False, None, None),
    ]
    for name, ruleset, version, language, hours, offers, bot, staff in runs:
        now[0] = START + timedelta(hours=hours)
        scope = Scope(name, ruleset, version, "chat", language)
        log.record(scope, [Event(EventKind.STARTED), Event(EventKind.ASKED, "usage")])
        if offers:
            log.record(scope, [Event(EventKind.OFFERS_SHOWN, value="0", data={"offers": []})])
        if bot is not None:
            log.record(scope, [Event(EventKind.RATED, value=bot, how="bot")], turn=False)
        if staff is not None:
            log.record(scope, [Event(EventKind.RATED, value=staff, how="staff")], turn=False)
    log.close()
    return db


def test_ratings_by_version_counts_and_means_per_version(scripted: Engine) -> None:
    assert analytics.ratings_by_version(scripted, Period()) == [
        VersionRatings("road_bike", 1, 1, 1.0, 0, None),
        VersionRatings("road_bike", 2, 2, 3.0, 1, 1.0),
    ]
    assert analytics.ratings_by_version(scripted, Period(version=1)) == [
        VersionRatings("road_bike", 1, 1, 1.0, 0, None)
    ]


def test_per_day_counts_runs_by_the_utc_day_they_started(scripted: Engine) -> None:
    assert analytics.per_day(scripted, Period()) == [
        DayCount(date(2026, 11, 30), 2, 1),  # 22:00 and 23:00
        DayCount(date(2026, 12, 1), 3, 2),
    ]
    assert analytics.per_day(scripted, Period(ruleset="gravel_bike")) == [
        DayCount(date(2026, 12, 1), 1, 0)
    ]


def test_dimensions_list_the_values_a_period_holds(scripted: Engine) -> None:
    assert analytics.dimensions(scripted, Period()) == Dimensions(
        ("gravel_bike", "road_bike"), (1, 2), ("de", "en"), ("chat",)
    )
    later = Period(since=START + timedelta(hours=2))
    assert analytics.dimensions(scripted, later).versions == (1, 2)
    assert analytics.dimensions(scripted, later).languages == ("de", "en")
    assert analytics.dimensions(scripted, Period(until=START)).rulesets == ()
