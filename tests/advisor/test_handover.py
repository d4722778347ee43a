"""Hand-over codes (single use, expiring, throttled) and the hand-over store."""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from advisor.db import make_engine
from advisor.handover import (
    Event,
    HandoverRecord,
    HandoverStore,
    InvalidPresenceError,
    UnknownHandoverError,
)
from advisor.inbox import InvalidInboxMessageError
from advisor.live_payloads import QUEUE_TOPIC, chat_topic
from advisor.routing import (
    NotYourChatError,
    OpeningHours,
    RequestNotOpenError,
    RequestTakenError,
    StaffUnavailableError,
)
from advisor.service import Advisor
from advisor.sharing import (
    ALPHABET,
    CODE_LENGTH,
    ClaimLimits,
    ClaimThrottledError,
    CodeError,
    ExpiredCodeError,
    ShareStore,
    UnknownCodeError,
    UsedCodeError,
)
from advisor.state import ConversationState
from tests.advisor.conftest import Talk
from tests.tables import create_schema

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture()
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield create_schema(engine)
    engine.dispose()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def codes(engine: Engine, clock: Clock) -> ShareStore:
    return ShareStore(engine, clock=clock, limits=ClaimLimits(per_client=3, per_code=2, overall=5))


STATE = ConversationState(ruleset="road_bike", answers={"budget": 1500.0})


# -- codes -----------------------------------------------------------------------------------


def test_issue_handoff_code_is_random_and_not_the_conversation(codes: ShareStore) -> None:
    drawn = {codes.handoff_code(STATE, "conversation-1") for _ in range(20)}
    assert len(drawn) == 20
    for code in drawn:
        assert len(code) == CODE_LENGTH and all(c in ALPHABET for c in code)
        assert code not in "conversation-1".upper()


def test_issue_handoff_code_expires_after_30_minutes(codes: ShareStore, clock: Clock) -> None:
    record = codes.issue(kind="handoff", state=STATE)
    assert record.expires_at - clock.now == timedelta(minutes=30)


def test_issue_handoff_code_with_configured_expiry(engine: Engine, clock: Clock) -> None:
    store = ShareStore(engine, clock=clock, handoff_ttl=timedelta(minutes=5))
    assert store.issue(kind="handoff", state=STATE).expires_at == clock.now + timedelta(minutes=5)
    assert store.issue(kind="share", state=STATE).expires_at == clock.now + timedelta(days=14)


def test_claim_handoff_code_once(codes: ShareStore) -> None:
    code = codes.handoff_code(STATE, "conversation-1")
    record = codes.claim(code.lower(), client="staff:anna", claimed_by="anna")
    assert record.conversation == "conversation-1"
    assert record.conversation_state().answers == STATE.answers
    claim = codes.claimed(code)
    assert claim is not None and claim.claimed_by == "anna"
    with pytest.raises(UsedCodeError) as refused:
        codes.claim(code, client="staff:ben", claimed_by="ben")
    assert refused.value.used_by == "anna"
    assert "opens once" in str(refused.value)


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("unknown", UnknownCodeError),
        ("expired", ExpiredCodeError),
        ("share", UnknownCodeError),
        ("malformed", UnknownCodeError),
    ],
    ids=["unknown", "expired", "share-code-is-no-handoff", "malformed"],
)
def test_claim_handoff_code_refused(
    codes: ShareStore, clock: Clock, setup: str, error: type[CodeError]
) -> None:
    code = {
        "unknown": "ZZZZZ9",
        "expired": codes.handoff_code(STATE, None),
        "share": codes.issue(kind="share", state=STATE).code,
        "malformed": "0O1IL!",
    }[setup]
    clock.advance(minutes=31)
    with pytest.raises(error):
        codes.claim(code, client="staff:anna")


def test_get_share_code_many_times(codes: ShareStore) -> None:
    code = codes.issue(kind="share", state=STATE).code
    for _ in range(3):
        assert codes.get(code, kind="share").code == code


@pytest.mark.parametrize(
    ("clients", "refused_client"),
    [
        (["a", "a", "a"], "a"),  # per client: 3
        (["a", "b", "c", "d", "e"], "f"),  # overall: 5
    ],
    ids=["per-client", "overall"],
)
def test_claim_wrong_codes_throttled(
    codes: ShareStore, clock: Clock, clients: list[str], refused_client: str
) -> None:
    good = codes.handoff_code(STATE, "c-1")
    for i, client in enumerate(clients):
        with pytest.raises(UnknownCodeError):
            codes.claim(f"ZZZZZ{ALPHABET[-1 - i]}", client=client)
    with pytest.raises(ClaimThrottledError) as throttled:
        codes.claim(good, client=refused_client)  # even the right code waits
    assert throttled.value.retry_at == T0 + timedelta(minutes=10)
    assert throttled.value.retry_after_seconds(clock.now) == 600
    assert codes.claimed(good) is None
    clock.advance(minutes=10, seconds=1)
    assert codes.claim(good, client=refused_client).code == good


def test_claim_same_code_throttled_per_code(codes: ShareStore) -> None:
    code = codes.handoff_code(STATE, "c-1")
    codes.claim(code, client="a")
    for client in ("b", "c"):
        with pytest.raises(UsedCodeError):
            codes.claim(code, client=client)
    with pytest.raises(ClaimThrottledError):
        codes.claim(code, client="d")


def test_claim_throttled_tries_are_not_counted(codes: ShareStore, clock: Clock) -> None:
    for letter in "ABC":
        with pytest.raises(UnknownCodeError):
            codes.claim(f"ZZZZZ{letter}", client="a")
    clock.advance(minutes=9)
    for _ in range(5):
        with pytest.raises(ClaimThrottledError):
            codes.claim("ZZZZZD", client="a")
    clock.advance(minutes=1, seconds=1)
    with pytest.raises(UnknownCodeError):
        codes.claim("ZZZZZD", client="a")


# -- the hand-over store -------------------------------------------------------------------


@pytest.fixture()
def desk(engine: Engine, clock: Clock) -> HandoverStore:
    return HandoverStore(engine, clock=clock)


def types(events: list[Event]) -> list[tuple[str, str]]:
    return [("queue" if e.topic == QUEUE_TOPIC else "chat", e.payload["type"]) for e in events]


def ask(desk: HandoverStore, conversation: str = "conv-1") -> HandoverRecord:
    record, _ = desk.request(conversation=conversation, state=STATE, code="ABC234")
    return record


def test_request_is_offered_to_available_staff(desk: HandoverStore) -> None:
    desk.set_presence("anna", status="available")
    desk.set_presence("ben", status="busy")
    record, events = desk.request(conversation="conv-1", state=STATE)
    assert record.status == "offered" and record.offered_to == ["anna"]
    assert record.conversation_state().answers == STATE.answers
    assert [e.payload["type"] for e in events] == ["queued", "queued", "offered", "offered"]
    assert {e.topic for e in events} == {QUEUE_TOPIC, chat_topic(record.id)}
    assert desk.request(conversation="conv-1", state=STATE) == (desk.get(record.id), [])


def test_request_waits_until_someone_is_available(desk: HandoverStore) -> None:
    record = ask(desk)
    assert record.status == "queued" and desk.queue() == [record]
    desk.set_presence("anna", status="available", capacity=2)
    assert [e.payload for e in desk.route() if e.topic == QUEUE_TOPIC][0]["staff"] == ["anna"]
    assert desk.route() == []  # nothing changed
    desk.set_presence("anna", status="away")
    desk.route()
    assert desk.get(record.id).status == "queued"


def test_request_times_out_to_nobody_available(desk: HandoverStore, clock: Clock) -> None:
    desk.set_presence("anna", status="available")
    record = ask(desk)
    clock.advance(seconds=60)
    desk.route()
    ended = desk.get(record.id)
    assert (ended.status, ended.outcome) == ("timed_out", "timeout")
    last = desk.history(record.id, shopper=True)[-1]
    assert last["type"] == "nobody_available" and last["reason"] == "timeout"
    with pytest.raises(RequestNotOpenError):
        desk.accept(record.id, staff="anna")


def test_request_outside_hours_is_closed(desk: HandoverStore) -> None:
    desk.set_presence("anna", status="available")
    desk.set_opening_hours(OpeningHours.parse({"sat-sun": ["10:00-14:00"]}), by="admin")
    assert not desk.opening_hours().is_open(T0)
    record = ask(desk)
    assert (record.status, record.outcome) == ("closed", "outside_hours")
    desk.set_opening_hours(OpeningHours.around_the_clock(), by="admin")
    assert desk.opening_hours().always


def test_accept_first_wins(desk: HandoverStore) -> None:
    for name in ("anna", "ben"):
        desk.set_presence(name, status="available")
    record = ask(desk)
    accepted, events = desk.accept(record.id, staff="ben")
    assert (accepted.status, accepted.staff) == ("accepted", "ben")
    assert ("chat", "staff_joined") in types(events) and ("queue", "taken") in types(events)
    with pytest.raises(RequestTakenError) as taken:
        desk.accept(record.id, staff="anna")
    assert taken.value.staff == "ben"
    assert desk.chats("ben") == [desk.get(record.id)]


def test_accept_fills_capacity(desk: HandoverStore) -> None:
    desk.set_presence("anna", status="available", capacity=1)
    first, second = ask(desk, "conv-1"), ask(desk, "conv-2")
    assert desk.get(second.id).offered_to == ["anna"]
    desk.accept(first.id, staff="anna")
    desk.route()
    assert desk.get(second.id).status == "queued"
    with pytest.raises(StaffUnavailableError):
        desk.accept(second.id, staff="anna")


@pytest.mark.parametrize(
    ("status", "capacity", "words"),
    [("asleep", None, "unknown status"), ("available", 0, "choose 1 to 20")],
    ids=["status", "capacity"],
)
def test_set_presence_refused(
    desk: HandoverStore, status: str, capacity: int | None, words: str
) -> None:
    with pytest.raises(InvalidPresenceError, match=words):
        desk.set_presence("anna", status=status, capacity=capacity)


def test_transfer_keeps_history(desk: HandoverStore) -> None:
    desk.set_presence("anna", status="available")
    desk.set_presence("ben", status="available")
    record = ask(desk)
    desk.accept(record.id, staff="anna")
    desk.say(record.id, text="Which pedals do you ride?", staff="anna")
    desk.say(record.id, text="None yet")
    desk.transfer(record.id, by="anna", to="ben", note="beginner, wants SPD")
    desk.say(record.id, text="Hi, Ben here", staff="ben")
    assert desk.get(record.id).staff == "ben"
    with pytest.raises(NotYourChatError):
        desk.say(record.id, text="still me?", staff="anna")
    staff_view = [p["type"] for p in desk.history(record.id)]
    assert staff_view[-6:] == [
        "staff_joined",
        "staff_message",
        "shopper_message",
        "transferred",
        "staff_joined",
        "staff_message",
    ]
    shopper_view = desk.history(record.id, shopper=True)
    assert "transferred" not in [p["type"] for p in shopper_view]  # the note is internal
    assert [p.get("text") for p in shopper_view if "text" in p] == [
        "Which pedals do you ride?",
        "None yet",
        "Hi, Ben here",
    ]


def test_end_live_chat(desk: HandoverStore) -> None:
    desk.set_presence("anna", status="available")
    record = ask(desk)
    desk.accept(record.id, staff="anna")
    offers: Any = {"type": "offers", "offers": [], "cross_sell": []}
    desk.push_offers(record.id, staff="anna", offers=offers)
    events = desk.end(record.id, by="anna")
    assert events[0].payload["type"] == "handed_back"
    ended = desk.get(record.id)
    assert (ended.status, ended.outcome) == ("closed", "handed_back")
    assert desk.staff()[0].chats == 0
    with pytest.raises(RequestNotOpenError):
        desk.say(record.id, text="hello?")
    again = ask(desk)  # a new request after the chat ended
    assert again.id != record.id


@pytest.mark.parametrize(
    ("email", "phone", "stored"),
    [
        (None, None, (None, None)),
        (" kim@example.com ", "", ("kim@example.com", None)),
        ("", "+49 30  1234567", (None, "+49 30 1234567")),
    ],
    ids=["anonymous", "email", "phone"],
)
def test_leave_message_lands_in_inbox(
    desk: HandoverStore, clock: Clock, email: str | None, phone: str | None, stored: tuple
) -> None:
    record = ask(desk)
    clock.advance(seconds=61)
    desk.route()
    message, events = desk.leave_message(
        record.id, text=" Please call me about a gravel bike ", email=email, phone=phone
    )
    assert (message.email, message.phone) == stored
    assert desk.inbox() == [message] and message.text == "Please call me about a gravel bike"
    assert message.conversation == "conv-1"
    assert ("queue", "message_left") in types(events)
    assert desk.get(record.id).status == "left_message"
    with pytest.raises(RequestNotOpenError):
        desk.leave_message(record.id, text="again")


@pytest.mark.parametrize(
    ("text", "email", "phone", "words"),
    [
        ("  ", None, None, "empty"),
        ("hi", "kim@example", None, "not an email"),
        ("hi", None, "call me", "not a phone"),
        ("hi", None, "12", "not a phone"),
    ],
    ids=["empty", "email", "phone-words", "phone-short"],
)
def test_leave_message_refused(
    desk: HandoverStore, text: str, email: str | None, phone: str | None, words: str
) -> None:
    record = ask(desk)
    with pytest.raises(InvalidInboxMessageError, match=words):
        desk.leave_message(record.id, text=text, email=email, phone=phone)
    assert desk.inbox() == [] and desk.get(record.id).status == "queued"


def test_accept_unknown_handover_refused(desk: HandoverStore) -> None:
    with pytest.raises(UnknownHandoverError):
        desk.accept("nope", staff="anna")


def test_resume_in_chat_does_not_open_handoff_codes(advisor: Advisor) -> None:
    talk = Talk(advisor)
    code = advisor.codes.handoff_code(STATE, "someone-else")  # type: ignore[union-attr]
    reply = talk(f'/resume_shared{{"code":"{code}"}}', "resume_shared", code=code)
    assert talk.state.answers == {}
    assert code not in " ".join(p.text for p in reply.parts)
    assert advisor.codes.claim(code, client="staff:anna").code == code  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "module",
    ["sharing", "routing", "handover", "presence", "inbox", "live", "live_log", "live_payloads"],
)
def test_import_public_surface(module: str) -> None:
    loaded = importlib.import_module(f"advisor.{module}")
    missing = [name for name in loaded.__all__ if not hasattr(loaded, name)]
    assert missing == []
    assert loaded.__doc__ and len(loaded.__doc__) > 200


# -- several processes on one PostgreSQL ----------------------------------------------------

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture()
def pg_engine() -> Iterator[Engine]:
    admin = create_engine(
        SERVER.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"handover_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means no server
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {SERVER}: {exc}")
    engine = make_engine(SERVER.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield create_schema(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in threads released together; each result or the exception raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the exception is the result
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.postgres
def test_accept_at_once_one_wins_postgres(pg_engine: Engine) -> None:
    store = HandoverStore(pg_engine)
    names = [f"staff{i}" for i in range(6)]
    for name in names:
        store.set_presence(name, status="available")
    record, _ = store.request(conversation="conv-pg", state=STATE)
    results = at_once([lambda n=n: store.accept(record.id, staff=n) for n in names])
    winners = [r for r in results if isinstance(r, tuple)]
    assert len(winners) == 1
    assert all(isinstance(r, RequestTakenError) for r in results if not isinstance(r, tuple))
    assert [p["type"] for p in store.history(record.id)].count("staff_joined") == 1


@pytest.mark.postgres
def test_claim_at_once_one_wins_postgres(pg_engine: Engine) -> None:
    codes = ShareStore(pg_engine)
    code = codes.handoff_code(STATE, "conv-pg")
    results = at_once([lambda c=c: codes.claim(code, client=c) for c in "abcdef"])
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, UsedCodeError) for r in results if isinstance(r, Exception))


def test_accept_moves_the_queue_up(desk: HandoverStore, clock: Clock) -> None:
    desk.set_presence("anna", status="available", capacity=1)
    first = ask(desk, "conv-1")
    clock.advance(seconds=1)
    second = ask(desk, "conv-2")
    clock.advance(seconds=1)
    third = ask(desk, "conv-3")
    assert [p["position"] for p in desk.history(third.id) if p["type"] == "queued"] == [3]
    _, events = desk.accept(first.id, staff="anna")
    moved = {e.payload["handover"]: e.payload for e in events if e.payload["type"] == "queued"}
    assert {h: p["position"] for h, p in moved.items()} == {second.id: 1, third.id: 2}
    desk.leave_message(second.id, text="call me later")
    assert desk.history(third.id, shopper=True)[-1] == {
        **desk.history(third.id)[-1],
        "type": "queued",
        "position": 1,
    }


def test_a_chat_message_is_one_statement_and_history_reads_after_an_id(
    desk: HandoverStore,
) -> None:
    desk.set_presence("anna", status="available")
    record = ask(desk)
    desk.accept(record.id, staff="anna")
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0])

    event.listen(desk.engine, "before_cursor_execute", seen)
    try:
        [said] = desk.say(record.id, text="Which pedals?", staff="anna")
    finally:
        event.remove(desk.engine, "before_cursor_execute", seen)
    assert statements == ["INSERT"]  # the check that the chat is anna's is in it
    assert said.payload["id"] == desk.history(record.id)[-1]["id"]
    assert desk.history(record.id)[-1] == said.payload  # the id is read back in place
    desk.say(record.id, text="None yet")
    after = desk.history(record.id, after=said.payload["id"])
    assert [p["type"] for p in after] == ["shopper_message"]


@pytest.mark.postgres
def test_a_chat_message_on_postgres_checks_the_chat_in_the_same_statement(
    pg_engine: Engine,
) -> None:
    desk = HandoverStore(pg_engine)
    desk.set_presence("anna", status="available")
    record = ask(desk)
    with pytest.raises(RequestNotOpenError):
        desk.say(record.id, text="too early", staff="anna")
    desk.accept(record.id, staff="anna")
    [said] = desk.say(record.id, text="hello", staff="anna")
    with pytest.raises(NotYourChatError):
        desk.say(record.id, text="not mine", staff="ben")
    texts = [p.get("text") for p in desk.history(record.id) if p["type"] == "staff_message"]
    assert texts == ["hello"] and said.payload["text"] == "hello"
