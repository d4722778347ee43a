"""The event log and the workbench's reports over scripted conversations with the advisor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, select

from advisor import analytics
from advisor.analytics import FunnelStep, Period
from advisor.events import AdvisorEvent, Event, EventKind, EventLog, Scope, events_of
from advisor.service import Advisor, Turn
from advisor.state import ConversationState
from tests.tables import create_schema

QUESTIONS = ["usage", "experience", "budget", "body_height_cm", "shoes_owned", "inseam_cm"]

# (text, intent, entities): what a shopper does in one turn.
Step = tuple[str, str | None, dict[str, str]]


def _steps(*turns: str | tuple[str, str]) -> list[Step]:
    return [(t, "inform", {}) if isinstance(t, str) else (t[0], t[1], {}) for t in turns]


COMPLETES = _steps(("I want a road bike", "request_advice"), "long rides", "beginner", "1500")
COMPLETES += _steps("182 cm", "no")
STOPS_AT_BUDGET = _steps(("a road bike please", "request_advice"), "long rides", "beginner")
NOT_UNDERSTOOD = _steps(("road bike", "request_advice"), "something purple", "something purple")
TOO_LOW = _steps(("racing bike", "request_advice"), "racing", "racer", "400", "182")
TOO_LOW += _steps("look keo", "86")
HANDOVER = _steps(("road bike", "request_advice"), "commute", ("talk to a human", "human_handoff"))


class Clock:
    """A clock the test moves: ten seconds per turn."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 10) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture()
def events_db() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield create_schema(engine)
    engine.dispose()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def log(events_db: Engine, clock: Clock) -> Iterator[EventLog]:
    events = EventLog(events_db, clock=clock, background=False)
    yield events
    events.close()


def converse(
    advisor: Advisor,
    log: EventLog,
    clock: Clock,
    conversation: str,
    steps: list[Step],
    state: ConversationState | None = None,
) -> ConversationState:
    """Talk through ``steps`` and record each turn's events, as the adapters do."""
    state = state or ConversationState()
    for text, intent, entities in steps:
        after, reply = advisor.step(state, Turn(text, intent, entities))
        assert reply.parts, f"no reply to {text!r}"
        scope = Scope(conversation, after.ruleset, 3, after.channel, after.language)
        log.record(
            scope, events_of(state, after, reply, text=text, entities=entities, intent=intent)
        )
        state = after
        clock.tick()
    return state


def test_events_of_a_turn_name_what_changed(advisor: Advisor) -> None:
    before = ConversationState()
    after, reply = advisor.step(before, Turn("I want a road bike", "request_advice"))
    assert [(e.kind, e.question) for e in events_of(before, after, reply)] == [
        (EventKind.STARTED, None),
        (EventKind.ASKED, "usage"),
    ]
    later, reply = advisor.step(after, Turn('/inform{"choice":"endurance"}', "inform"))
    assert events_of(after, later, reply, text='/inform{"choice":"endurance"}') == [
        Event(EventKind.ANSWERED, "usage", "endurance", "clicked"),
        Event(EventKind.ASKED, "experience"),
    ]
    changed, reply = advisor.step(later, Turn("actually I commute", "inform"))
    kinds = events_of(later, changed, reply, text="actually I commute")
    assert Event(EventKind.CHANGED, "usage", "commute", "typed", {"from": "endurance"}) in kinds


@pytest.fixture()
def scripted(advisor: Advisor, log: EventLog, clock: Clock) -> Engine:
    """Eight conversations: 2 complete, 2 stop at budget, 1 not understood, 1 budget too low,
    1 hand-over, 1 completes in German on the console channel; one click, three ratings."""
    for n in range(2):
        converse(advisor, log, clock, f"complete-{n}", COMPLETES)
    for n in range(2):
        converse(advisor, log, clock, f"budget-{n}", STOPS_AT_BUDGET)
    converse(advisor, log, clock, "purple", NOT_UNDERSTOOD)
    converse(advisor, log, clock, "low", TOO_LOW)
    converse(advisor, log, clock, "human", HANDOVER)
    converse(
        advisor,
        log,
        clock,
        "console",
        COMPLETES,
        ConversationState(channel="console", language="de"),
    )
    scope = Scope("complete-0", "road_bike", 3, "chat", "en")
    log.record(scope, [Event(EventKind.OFFER_CLICKED, value=1)])
    log.record(scope, [Event(EventKind.RATED, value=2, how="bot")])
    log.record(scope, [Event(EventKind.RATED, value=1, how="bot")])  # changed their mind
    log.record(Scope("low", "road_bike", 3, "chat", "en"), [Event(EventKind.RATED, value=4)])
    log.record(
        Scope("human", "road_bike", 3, "chat", "en"), [Event(EventKind.RATED, value=1, how="staff")]
    )
    assert log.flush() > 0 and log.pending() == 0
    return log.engine


def test_funnel_counts_conversations_at_each_step(scripted: Engine) -> None:
    steps = analytics.funnel(scripted, Period(ruleset="road_bike"), QUESTIONS)
    assert steps == [
        FunnelStep("started", 8),
        FunnelStep("usage", 7),  # "something purple" twice never answered it
        FunnelStep("experience", 6),
        FunnelStep("budget", 4),
        FunnelStep("body_height_cm", 4),
        FunnelStep("shoes_owned", 4),
        FunnelStep("inseam_cm", 1),  # only the racer is asked the inseam
        FunnelStep("offers", 4),
        FunnelStep("clicked", 1),
    ]


def test_drop_off_is_the_last_question_asked_without_offers(scripted: Engine) -> None:
    assert analytics.drop_off(scripted, Period()) == {"budget": 2, "usage": 1, "experience": 1}


def test_summary_gives_completion_handover_and_medians(scripted: Engine) -> None:
    summary = analytics.summary(scripted, Period())
    assert (summary.started, summary.offered, summary.clicked) == (8, 4, 1)
    assert summary.completion == 0.5
    assert summary.handover_asked == 1 and summary.handover_rate == 1 / 8
    # Offers come with the 6th turn (50 s after the start) or the 7th for the racer.
    assert summary.median_seconds_to_offers == 50.0
    assert summary.median_turns_to_offers == 6.0


def test_answer_counts_per_question(scripted: Engine) -> None:
    counts = {
        (a.question, a.value): a.conversations for a in analytics.answer_counts(scripted, Period())
    }
    assert counts[("usage", "endurance")] == 5
    assert counts[("usage", "racing")] == 1
    assert counts[("usage", "commute")] == 1
    assert counts[("budget", 1500.0)] == 3
    assert counts[("budget", 400.0)] == 1
    assert counts[("shoes_owned", "look_keo")] == 1


def test_gap_report_names_the_unmet_wish_and_what_was_asked(scripted: Engine) -> None:
    gaps = analytics.gaps(scripted, Period())
    assert [(g.unmet, g.asked, g.conversations) for g in gaps] == [
        (("your budget",), {"budget": 400.0}, 1)
    ]


def test_never_recommended_lists_products_no_one_was_offered(
    scripted: Engine, demo_db: Engine
) -> None:
    with Session(scripted) as session:
        shown = {row.sku for row in session.exec(select(analytics.OfferShown))}
    assert shown, "offers were shown"
    assortment = [*sorted(shown), "RB-NEVER-1", "RB-NEVER-2"]
    assert analytics.never_recommended(scripted, Period(), assortment) == [
        "RB-NEVER-1",
        "RB-NEVER-2",
    ]


def test_not_understood_groups_texts_by_question(scripted: Engine) -> None:
    lines = analytics.not_understood(scripted, Period())
    assert [(n.question, n.text, n.conversations) for n in lines] == [
        ("usage", "something purple", 1)
    ]


def test_ratings_keep_the_latest_per_conversation_bot_and_staff(scripted: Engine) -> None:
    ratings = analytics.ratings(scripted, Period())
    assert ratings.bot == {1: 1, 4: 1}
    assert ratings.staff == {1: 1}
    assert ratings.bot_mean == 2.5


def test_period_filters_by_time_language_and_channel(scripted: Engine, clock: Clock) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    first_two = Period(since=start, until=start + timedelta(seconds=120))
    assert analytics.summary(scripted, first_two).started == 2
    assert analytics.summary(scripted, Period(channel="console")).started == 1
    assert analytics.summary(scripted, Period(channel="chat")).started == 7
    assert analytics.summary(scripted, Period(language="de")).started == 1
    assert analytics.summary(scripted, Period(version=3)).started == 8
    assert analytics.summary(scripted, Period(version=4)).started == 0


def test_erase_removes_one_conversation_only(scripted: Engine, log: EventLog) -> None:
    assert log.erase("complete-0") > 0
    with Session(scripted) as session:
        left = {e.conversation for e in session.exec(select(AdvisorEvent))}
    assert "complete-0" not in left and "complete-1" in left
    assert analytics.summary(scripted, Period()).started == 7


def test_failed_write_keeps_events_for_the_next_flush(
    events_db: Engine, log: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    scope = Scope("c1", "road_bike", 1, "chat", "en")
    log.record(scope, [Event(EventKind.STARTED), Event(EventKind.ASKED, "usage")])

    def refuse(*args: Any) -> None:
        raise RuntimeError("database is down")

    event.listen(events_db, "before_cursor_execute", refuse)
    try:
        assert log.flush() == 0
    finally:
        event.remove(events_db, "before_cursor_execute", refuse)
    assert log.pending() == 2
    assert "2 events not written, kept for the next try" in caplog.text
    assert log.flush() == 2 and log.pending() == 0


def test_full_queue_drops_the_oldest_and_says_so(
    events_db: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    small = EventLog(events_db, clock=clock, background=False, max_queue=3)
    scope = Scope("c1", "road_bike", 1, "chat", "en")
    for question in ("a", "b", "c", "d", "e"):
        small.record(scope, [Event(EventKind.ASKED, question)])
    assert small.pending() == 3 and small.dropped == 2
    assert "event log full: 1 events of conversation c1 dropped" in caplog.text
    small.close()
    with Session(events_db) as session:
        assert [e.question for e in session.exec(select(AdvisorEvent))] == ["c", "d", "e"]


def test_background_writer_writes_within_its_interval(events_db: Engine) -> None:
    writer = EventLog(events_db, flush_seconds=0.05)
    try:
        writer.record(Scope("c1", "road_bike", 1, "chat", "en"), [Event(EventKind.STARTED)])
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while writer.pending():
            assert datetime.now(UTC) < deadline, "the writer did not write"
            threading.Event().wait(0.01)
    finally:
        writer.close()
    with Session(events_db) as session:
        assert len(session.exec(select(AdvisorEvent)).all()) == 1


def test_advisor_step_records_its_turns(demo_db: Engine, log: EventLog) -> None:
    from advisor.sharing import ShareStore
    from product_rules.registry import RuleRegistry
    from tests.conftest import RULES

    recording = Advisor(RuleRegistry(RULES, demo_db), codes=ShareStore(demo_db), events=log)
    state = ConversationState()
    for text, intent in [("I want a road bike", "request_advice"), ("long rides", "inform")]:
        state, reply = recording.step(state, Turn(text, intent, conversation="shopper-1"))
        assert reply.parts
    recording.step(state, Turn("no conversation id", "inform"))  # the preview: not recorded
    log.flush()
    with Session(log.engine) as session:
        rows = session.exec(select(AdvisorEvent).order_by(AdvisorEvent.id)).all()  # type: ignore[arg-type]
    assert [(r.conversation, r.kind, r.question, r.version) for r in rows] == [
        ("shopper-1", "started", None, None),
        ("shopper-1", "asked", "usage", None),
        ("shopper-1", "answered", "usage", None),
        ("shopper-1", "asked", "experience", None),
    ]
    assert rows[2].value == '"endurance"' and rows[2].how == "typed"


def test_advisor_step_answers_when_recording_fails(
    advisor: Advisor, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(EventLog):
        def record(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("disk full")

    advisor.events = Broken(advisor.registry.db, background=False)
    state, reply = advisor.step(
        ConversationState(), Turn("I want a road bike", "request_advice", conversation="c9")
    )
    assert state.question == "usage" and "What will you mostly use the bike for?" in reply.text
    assert "events of conversation c9 not recorded" in caplog.text
